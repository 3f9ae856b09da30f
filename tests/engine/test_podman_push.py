"""Publishing with podman: each platform's image pushed by podman, one list per name
made by podman's own manifest commands, read back from a real registry.

The images are tiny and nothing in them runs, so no emulation is needed: a one-file
parent is built for each platform, then a child FROM that local parent with
``--platform`` (buildah must find the foreign parent locally, not look it up in a
registry). The publishing path is snakepacker's (shipping.push_platforms and
write_lists over EngineRegistry), so the list is made the way `images push` makes it.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker import refs
from snakepacker.engine import Engine, skopeo
from snakepacker.errors import EngineError, UsageError
from snakepacker.platforms import PLATFORMS, Platform
from snakepacker.ship.shipping import EngineRegistry, Shipment, push_platforms, write_lists
from tests.helpers import NAMESPACE, Docker

pytestmark = pytest.mark.engine

CHOSEN = tuple(PLATFORMS[name] for name in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
LOCAL = f"localhost/sptest-podman-{NAMESPACE}-tiny"


def _tiny(podman: Docker, context: Path, platform: Platform) -> str:
    """A parent with one file for PLATFORM, then a child of it with a second file,
    built FROM the local parent for PLATFORM; returns the child's local name."""
    context.mkdir()
    (context / "note").write_text(f"built by podman for {platform.name}\n")
    with tarfile.open(context / "note.tar", "w") as tar:
        tar.add(context / "note", arcname="note")
    parent, child = f"{LOCAL}:parent-{platform.suffix}", f"{LOCAL}:{platform.suffix}"
    (context / "Dockerfile").write_text("FROM scratch\nADD note.tar /\n")
    podman("build", "--quiet", "--format", "docker", "--platform", platform.name,
           "--tag", parent, str(context))
    (context / "Dockerfile").write_text(f"FROM {parent}\nCOPY Dockerfile /Dockerfile\n")
    podman("build", "--quiet", "--format", "docker", "--platform", platform.name,
           "--tag", child, str(context))
    return child


@pytest.fixture(scope="module")
def images(podman: Docker, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[Platform, str]]:
    tmp = tmp_path_factory.mktemp("podman-tiny")
    made = {platform: _tiny(podman, tmp / platform.suffix, platform) for platform in CHOSEN}
    try:
        yield made
    finally:
        podman("image", "rm", "--force", *made.values(),
               *(f"{LOCAL}:parent-{p.suffix}" for p in CHOSEN), check=False)


def test_a_foreign_child_of_a_local_parent_is_built_for_its_platform(
    podman: Docker, images: dict[Platform, str]
) -> None:
    for platform, ref in images.items():
        found = podman("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}",
                       ref).stdout.strip()
        assert found == f"{platform.os}/{platform.architecture}", platform.name


def test_podman_pushes_each_platform_and_lists_them_under_every_name(
    podman_engine: Engine, registry: str, images: dict[Platform, str]
) -> None:
    names = (f"{registry}/sptest/podlist:1", f"{registry}/sptest/podlist/1")
    shipment = Shipment("1", images, names, python=False)
    heard: list[str] = []
    publisher = EngineRegistry(podman_engine)
    pushed = push_platforms(podman_engine, publisher, [shipment], heard.append)
    digests = {p: pushed["1", p] for p in CHOSEN}
    # Each digest podman reported is the one the registry serves under TAG-SUFFIX.
    home = refs.repository(names[0])
    for platform, digest in digests.items():
        assert skopeo.remote_digest(f"{home}:{refs.platform_tag('1', platform)}") == digest
    shipped = write_lists(publisher, shipment, digests, heard.append)
    assert shipped.moved == names
    for name in names:
        assert skopeo.manifest_digest(name) == shipped.digest, name
        entries = {e.platform: e.digest for e in skopeo.list_entries(name)}
        assert entries == {p.name: d for p, d in digests.items()}, name
    # The variant came from the image's config: each entry names the platform its
    # image was built for (linux/arm/v7, not linux/arm).
    for platform, digest in digests.items():
        assert skopeo.image_platform(refs.by_digest(home, digest)) == platform.name
    # No list or per-platform tag stays behind in podman's local store.
    assert podman_engine.image_exists(images[CHOSEN[0]])
    assert not any(podman_engine.image_exists(f"{home}:{refs.platform_tag('1', p)}")
                   for p in CHOSEN)

    # Publishing the same images again moves no name.
    again = push_platforms(podman_engine, publisher, [shipment], heard.append)
    assert {p: again["1", p] for p in CHOSEN} == digests
    assert write_lists(publisher, shipment, digests, heard.append).moved == ()


def test_a_podman_list_that_cannot_be_made_leaves_the_old_one(
    podman: Docker, podman_engine: Engine, registry: str, images: dict[Platform, str]
) -> None:
    arm64 = PLATFORMS["linux/arm64"]
    ref = f"{registry}/sptest/podkept:arm64"
    podman_engine.tag(images[arm64], [ref])
    try:
        digest = podman_engine.push(ref)
    finally:
        podman_engine.remove([ref])
    list_ref = f"{registry}/sptest/podkept:1"
    home = refs.repository(list_ref)
    old = podman_engine.make_list(list_ref, [refs.by_digest(home, digest)])
    missing = refs.by_digest(home, "sha256:" + "0" * 64)
    with pytest.raises(EngineError, match="podman manifest"):
        podman_engine.make_list(list_ref, [refs.by_digest(home, digest), missing])
    with pytest.raises(UsageError, match="pinned by digest"):
        podman_engine.make_list(list_ref, [ref])
    assert skopeo.manifest_digest(list_ref) == old
    leftovers = podman("images", "--format", "{{.Repository}}").stdout.split()
    assert not [name for name in leftovers if "snakepacker-list-" in name]

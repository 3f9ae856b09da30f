"""Pushing per-platform images and making lists of them, against a real registry.

The images are tiny (one file, built from scratch for a platform), so these tests
exercise the engine and registry plumbing, not emulation: nothing in them runs.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.engine.skopeo import (
    copy_all,
    copy_by_digest,
    image_platform,
    list_entries,
    manifest_digest,
    platform_digest,
    raw_manifest,
    remote_digest,
)
from snakepacker.errors import EngineError, UsageError
from snakepacker.platforms import PLATFORMS, Platform
from snakepacker.refs import by_digest, platform_tag, repository
from tests.engine.registry import free_port
from tests.helpers import Docker

pytestmark = pytest.mark.engine

ARM64 = PLATFORMS["linux/arm64"]
ARMV7 = PLATFORMS["linux/arm/v7"]
LOCAL = "sptest-registry-tiny"


def test_refs_split_into_repository_and_digest() -> None:
    assert repository("127.0.0.1:5000/sp/python:3.12") == "127.0.0.1:5000/sp/python"
    assert repository("127.0.0.1:5000/a/b@sha256:" + "0" * 64) == "127.0.0.1:5000/a/b"
    assert by_digest("127.0.0.1:5000/a/b:x", "sha256:1") == "127.0.0.1:5000/a/b@sha256:1"
    assert platform_tag("3.12", ARMV7) == "3.12-armv7"


def _tiny_image(docker: Docker, tmp: Path, platform: Platform, note: str) -> str:
    """A one-file image whose config names PLATFORM; its file says NOTE."""
    context = tmp / platform.suffix
    context.mkdir()
    (context / "note").write_text(note)
    with tarfile.open(context / "note.tar", "w") as tar:
        tar.add(context / "note", arcname="note")
    (context / "Dockerfile").write_text("FROM scratch\nADD note.tar /\n")
    ref = f"{LOCAL}:{platform.suffix}"
    docker("build", "--quiet", "--platform", platform.name, "--tag", ref, str(context))
    return ref


@pytest.fixture(scope="module")
def pushed(docker: Docker, registry: str, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[dict[Platform, tuple[str, str]]]:
    """arm64 and armv7 images pushed to the registry: platform -> (tag ref, digest)."""
    tmp = tmp_path_factory.mktemp("tiny")
    made: list[str] = []
    result = {}
    try:
        for platform in (ARM64, ARMV7):
            local = _tiny_image(docker, tmp, platform, f"built for {platform.name}")
            made.append(local)
            remote = f"{registry}/sptest/tiny:{platform_tag('1', platform)}"
            docker("tag", local, remote)
            made.append(remote)
            result[platform] = (remote, docker.engine.push(remote))
        yield result
    finally:
        docker("image", "rm", "--force", *made, check=False)


def test_push_returns_the_digest_the_registry_serves(
    pushed: dict[Platform, tuple[str, str]]
) -> None:
    for platform, (remote, digest) in pushed.items():
        assert manifest_digest(remote) == digest
        assert image_platform(by_digest(remote, digest)) == platform.name


def test_a_two_platform_list_names_both_images_by_digest(
    docker: Docker, registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    list_ref = f"{registry}/sptest/tiny:1"
    members = [by_digest(remote, digest) for remote, digest in pushed.values()]
    digest = docker.engine.make_list(list_ref, members)  # the engine's, as shipping calls it
    assert manifest_digest(list_ref) == digest
    entries = {entry.platform: entry.digest for entry in list_entries(list_ref)}
    assert entries == {p.name: d for p, (_r, d) in pushed.items()}
    assert not _kept_by_client(list_ref)


def test_a_list_takes_members_from_another_repository_of_its_registry(
    docker: Docker, registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    list_ref = f"{registry}/sptest/elsewhere:1"
    remote, digest = pushed[ARM64]
    docker.engine.make_list(list_ref, [by_digest(remote, digest)])
    assert [e.digest for e in list_entries(list_ref)] == [digest]
    # The client mounted the member into the list's repository.
    assert manifest_digest(by_digest(list_ref, digest)) == digest


def test_copy_all_gives_a_list_another_name_with_the_same_digests(
    docker: Docker, registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    source = f"{registry}/sptest/tiny:copy-source"
    members = [by_digest(remote, digest) for remote, digest in pushed.values()]
    digest = docker.engine.make_list(source, members)
    for name in (f"{registry}/sptest/python/1", f"{registry}/sptest/python:1"):
        copy_all(source, name)
        assert manifest_digest(name) == digest
        assert raw_manifest(name) == raw_manifest(source)


def test_failed_list_pushes_leave_the_old_list_in_place(
    docker: Docker, registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    engine = docker.engine
    list_ref = f"{registry}/sptest/tiny:kept"
    (arm_ref, arm), (v7_ref, v7) = pushed[ARM64], pushed[ARMV7]
    old = engine.make_list(list_ref, [by_digest(arm_ref, arm), by_digest(v7_ref, v7)])

    missing = "sha256:" + "0" * 64
    with pytest.raises(EngineError, match=f"making the list {list_ref} failed"):
        engine.make_list(list_ref, [by_digest(arm_ref, arm), by_digest(arm_ref, missing)])
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(EngineError, match="failed"):
        engine.make_list(f"{dead}/sptest/tiny:kept", [f"{dead}/sptest/tiny@{arm}"])
    with pytest.raises(EngineError, match=f"pushing {dead}/sptest/tiny:dead failed"):
        docker("tag", arm_ref, f"{dead}/sptest/tiny:dead")
        try:
            engine.push(f"{dead}/sptest/tiny:dead")
        finally:
            docker("image", "rm", f"{dead}/sptest/tiny:dead", check=False)
    with pytest.raises(UsageError, match="pinned by digest"):
        engine.make_list(list_ref, [arm_ref])

    assert manifest_digest(list_ref) == old
    assert not _kept_by_client(list_ref)
    assert not _kept_by_client(f"{dead}/sptest/tiny:kept")


def _kept_by_client(list_ref: str) -> bool:
    """Whether the docker client still holds LIST_REF in its local store of lists
    (a directory per list, named after the ref with ':' as '-' and '/' as '_')."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    return (config / "manifests" / list_ref.replace(":", "-").replace("/", "_")).exists()


def test_push_by_digest_tags_nothing_and_lists_can_use_it(
    docker: Docker, registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    remote, digest = pushed[ARM64]
    target = copy_by_digest(remote, digest, f"{registry}/sptest/bydigest")
    assert target == f"{registry}/sptest/bydigest@{digest}"
    assert manifest_digest(target) == digest
    assert remote_digest(f"{registry}/sptest/bydigest:latest") is None  # no tag was made
    listed = docker.engine.make_list(f"{registry}/sptest/bydigest:1", [target])
    assert remote_digest(f"{registry}/sptest/bydigest:1") == listed


def test_remote_digest_tells_absent_from_unreachable(
    registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    remote, digest = pushed[ARMV7]
    assert remote_digest(remote) == digest
    assert remote_digest(f"{registry}/sptest/tiny:9.9.9") is None
    assert remote_digest(f"{registry}/sptest/never:1") is None
    with pytest.raises(EngineError, match="connection refused"):
        remote_digest(f"127.0.0.1:{free_port()}/sptest/tiny:1")


def test_platform_digest_picks_list_entries_and_refuses_mismatches(
    docker: Docker, registry: str, pushed: dict[Platform, tuple[str, str]]
) -> None:
    (arm_ref, arm), (v7_ref, v7) = pushed[ARM64], pushed[ARMV7]
    list_ref = f"{registry}/sptest/tiny:pick"
    docker.engine.make_list(list_ref,
              [by_digest(arm_ref, arm), by_digest(v7_ref, v7)])
    assert platform_digest(list_ref, ARM64) == arm
    assert platform_digest(list_ref, ARMV7) == v7
    assert platform_digest(v7_ref, ARMV7) == v7
    with pytest.raises(UsageError, match="is a linux/arm64 image, not linux/arm/v7"):
        platform_digest(arm_ref, ARMV7)
    with pytest.raises(UsageError, match="has no image for linux/amd64"):
        platform_digest(list_ref, PLATFORMS["linux/amd64"])

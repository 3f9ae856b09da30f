"""Shipping on the real engine and a real registry: two platforms (linux/arm64 under
qemu), pushed under the three names with a patch tag, read back with skopeo, pulled by
platform and run; a packed app for arm64; a push that fails half-way moves no list; a
second build under a patch tag moves none of its names; a list write that fails
half-way puts back the names already moved.

The emulated chain is slow (bookworm's arm64 root, base, 3.11 and a narrowed all take
tens of minutes cold), so it is built once per session (conftest's `chain`) and every
test reuses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker import refs
from snakepacker.engine import Engine, skopeo
from snakepacker.errors import EngineError
from snakepacker.platforms import get_platform, native_platform
from snakepacker.ship.shipping import EngineRegistry, Shipment, ship
from tests.engine.registry import free_port, running_registry
from tests.helpers import (
    DEMO,
    SHIP_NS,
    SHIP_PLATFORMS,
    SHIP_SLICE,
    SHIP_TAGS,
    Docker,
    key_pair,
    snakepacker,
)

pytestmark = pytest.mark.engine

PLATFORMS, NS, SLICE, TAGS = SHIP_PLATFORMS, SHIP_NS, SHIP_SLICE, SHIP_TAGS
MACHINE = "import platform; print(platform.machine())"


def forget(docker: Docker, registry: str) -> None:
    """Drop the engine's local names and pulls under REGISTRY (a port of this run)."""
    listing = docker("images", "--digests", "--format",
                     "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}").stdout
    refs = {ref for line in listing.splitlines() for ref in line.split()
            if ref.startswith(f"{registry}/") and "<none>" not in ref}
    if refs:
        docker("image", "rm", *sorted(refs), check=False)


@pytest.fixture(scope="module")
def pushed(chain: str, registry: str, docker: Docker) -> Iterator[tuple[str, str]]:
    """The slice pushed once: the long names under REGISTRY/ghcr, the short ones on
    REGISTRY itself (standing in for the hub); yields the registry and the summary."""
    proc = snakepacker("images", "push", *TAGS, *SLICE, "--platform", PLATFORMS,
                       "--registry", f"{registry}/ghcr", "--hub", registry)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # No key: the images go up alone, and the push says so once.
    assert proc.stderr.count("no --sign KEY") == 1, proc.stderr[-3000:]
    try:
        yield registry, proc.stdout
    finally:
        forget(docker, registry)


def summary_rows(out: str) -> dict[str, tuple[str, str, str]]:
    rows = [line.split(None, 3) for line in out.strip().splitlines()[1:]]
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def names(registry: str, tag: str) -> tuple[str, str, str]:
    return (f"{registry}/ghcr/{NS}/python:{tag}", f"{registry}/ghcr/{NS}/python/{tag}",
            f"{registry}/{NS}/python:{tag}")


def test_the_arm64_chain_is_arm64_from_its_root_up(chain: str, docker: Docker) -> None:
    for tag in ("base-bookworm", "3.11-bookworm", "all-bookworm"):
        arch = docker("image", "inspect", "--format", "{{.Architecture}}",
                      f"{NS}/python:{tag}-arm64").stdout.strip()
        assert arch == "arm64", tag
        assert docker("image", "inspect", "--format", "{{.Architecture}}",
                      f"{NS}/python:{tag}").stdout.strip() == "amd64"
    patch = re.search(r"\b(3\.11\.\d+)-bookworm\b", chain)
    assert patch, chain
    out = docker("run", "--rm", "--platform", "linux/arm64", "--entrypoint", "python3",
                 f"{NS}/python:{patch[1]}-bookworm-arm64", "-c",
                 "import platform; print(platform.python_version(), platform.machine())")
    assert out.stdout.split() == [patch[1], "aarch64"]


def test_every_name_and_the_patch_tag_list_both_platforms(pushed: tuple[str, str]) -> None:
    registry, out = pushed
    rows = summary_rows(out)
    patch = next(tag for tag in rows if re.fullmatch(r"3\.11\.\d+-bookworm", tag))
    assert set(rows) == {"base-bookworm", "3.11-bookworm", patch, "all-bookworm"}
    for tag, (platforms, digest, _moved) in rows.items():
        assert platforms == PLATFORMS
        home = names(registry, tag)[0]
        members = {
            p: skopeo.remote_digest(f"{refs.repository(home)}:{tag}-{get_platform(p).suffix}")
            for p in PLATFORMS.split(",")
        }
        for name in names(registry, tag):
            assert skopeo.manifest_digest(name) == digest, name
            entries = {e.platform: e.digest for e in skopeo.list_entries(name)}
            assert entries == members, name


def test_pulled_by_platform_each_image_runs_its_own_machine(
    pushed: tuple[str, str], docker: Docker
) -> None:
    registry, out = pushed
    digest = summary_rows(out)["3.11-bookworm"][1]
    # The list by digest, resolved by --platform. Each platform from another of the
    # names: the 20.10 engine refuses to store a second platform under one REPO@DIGEST.
    for platform, machine, name in (("linux/amd64", "x86_64", names(registry, "x")[2]),
                                    ("linux/arm64", "aarch64", names(registry, "x")[0])):
        ref = f"{refs.repository(name)}@{digest}"
        run = docker("run", "--rm", "--pull", "always", "--platform", platform,
                     "--entrypoint", "python3", ref, "-c", MACHINE)
        assert run.stdout.strip() == machine


def test_pushing_the_same_build_again_moves_nothing(pushed: tuple[str, str]) -> None:
    registry, first = pushed
    proc = snakepacker("images", "push", *TAGS, *SLICE, "--platform", PLATFORMS,
                       "--registry", f"{registry}/ghcr", "--hub", registry)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = summary_rows(proc.stdout)
    assert {t: r[1] for t, r in again.items()} == {t: r[1] for t, r in summary_rows(first).items()}
    assert {r[2] for r in again.values()} == {"unchanged"}


def test_ci_jobs_pushed_by_digest_then_merged_give_the_pushed_lists(
    pushed: tuple[str, str], tmp_path: Path, cosign_tool: str
) -> None:
    """The CI matrix's way, signed: one job per platform builds and pushes by digest
    (each image signed, its SBOM and provenance attested), the merge job writes the
    lists and signs them: the very lists `images push` wrote, so every name stays where
    it is, and now every name verifies."""
    registry, first = pushed
    key = key_pair(cosign_tool, tmp_path / "key")
    matrix = snakepacker("images", "matrix", "--json", "--distros", "bookworm",
                         "--platform", PLATFORMS, check=True)
    jobs = json.loads(matrix.stdout)
    assert [job["platform"] for job in jobs] == PLATFORMS.split(",")
    for job in jobs:
        proc = snakepacker("images", "build", *TAGS, *SLICE, "--platform", job["platform"],
                           "--registry", f"{registry}/ghcr", "--hub", registry,
                           "--push-by-digest", str(tmp_path / "digests" / job["name"]),
                           "--sign", str(key))
        assert proc.returncode == 0, proc.stderr[-3000:]
    merged = snakepacker("images", "merge", str(tmp_path / "digests"), "--platform",
                         PLATFORMS, "--sign", str(key))
    assert merged.returncode == 0, merged.stderr[-3000:]
    rows = summary_rows(merged.stdout)
    assert {t: r[1] for t, r in rows.items()} == {t: r[1] for t, r in
                                                  summary_rows(first).items()}
    assert {r[2] for r in rows.values()} == {"unchanged"}
    # Under each of its names, the list and both platforms' images verify.
    for name in names(registry, "base-bookworm"):
        proc = snakepacker("verify", name, "--key", str(key.with_suffix(".pub")))
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.splitlines()) == 3 and "list of 2 signed" in proc.stdout
    # Each platform's image has its SBOM attested, readable by `sbom REF`.
    sbom = snakepacker("sbom", names(registry, "base-bookworm")[0])
    assert sbom.returncode == 0 and json.loads(sbom.stdout)["bomFormat"] == "CycloneDX"


def test_an_unknown_platform_is_one_line_before_any_work() -> None:
    env = {"SNAKEPACKER_PLATFORMS": "linux/amd64,linux/s390x"}
    proc = snakepacker("images", "push", "base", *SLICE, env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "linux/s390x" in proc.stderr


def test_pack_for_arm64_pushes_an_app_that_runs_there(
    chain: str, registry: str, docker: Docker
) -> None:
    tag = f"{registry}/demo-app:arm64"
    try:
        pack_and_run_on_arm64(tag, docker)
    finally:
        forget(docker, registry)


def pack_and_run_on_arm64(tag: str, docker: Docker) -> None:
    proc = snakepacker("pack", str(DEMO), "--python", "3.11", *SLICE, "--platform",
                       "linux/arm64", "--push", "-t", tag)
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = skopeo.list_entries(tag)
    assert [e.platform for e in entries] == ["linux/arm64"]
    run = docker("run", "--rm", "--pull", "always", "--platform", "linux/arm64", tag)
    assert "demo-app on Python 3.11" in run.stdout and "psycopg2" in run.stdout
    machine = docker("run", "--rm", "--platform", "linux/arm64", "--entrypoint", "python3",
                     tag, "-c", MACHINE)
    assert machine.stdout.strip() == "aarch64"


def test_a_push_that_fails_half_way_leaves_the_earlier_list(chain: str, docker: Docker) -> None:
    with running_registry() as live:
        tag = f"{live}/demo-app:stable"
        common = ("pack", str(DEMO), "--python", "3.11", *SLICE, "--push")
        first = snakepacker(*common, "-t", tag)
        assert first.returncode == 0, first.stderr[-3000:]
        before = skopeo.remote_digest(tag)
        member = f"{live}/demo-app:stable-amd64"
        member_before = skopeo.remote_digest(member)
        # Another build, whose second tag's registry is down: its first tag's image is
        # pushed, then the push to the dead port fails and no list is written.
        dead = f"127.0.0.1:{free_port()}/demo-app:stable"
        second = snakepacker(*common, "--env", "CHANGED=1", "-t", tag, "-t", dead)
        assert second.returncode == 3  # the engine's push failed
        errors = [line for line in second.stderr.splitlines()
                  if line.startswith("snakepacker: error: ")]
        assert len(errors) == 1 and "127.0.0.1" in errors[0], second.stderr[-2000:]
        assert skopeo.remote_digest(tag) == before  # the list did not move
        assert skopeo.remote_digest(member) != member_before  # though the new image went up
        forget(docker, live)
    forget(docker, dead.split("/")[0])


# -- a tag's names: a patch tag kept on every one, moved names put back on failure -----


@pytest.fixture()
def two_builds(chain: str, docker: Docker, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two builds of one tag: the chain's native base with a note file added, the note
    differing. Each has sh, for the smoke test of an image without Python; their names
    are this run's own, and are removed afterwards."""
    made = []
    for note in ("first", "second"):
        context = tmp_path / note
        context.mkdir()
        (context / "note").write_text(f"the {note} build\n")
        (context / "Dockerfile").write_text(f"FROM {NS}/python:base-bookworm\n"
                                            "COPY note /note\n")
        ref = f"sptest-tags-{tmp_path.name.lower()}:{note}"
        docker("build", "--quiet", "--tag", ref, str(context))
        made.append(ref)
    try:
        yield made[0], made[1]
    finally:
        docker("image", "rm", *made, check=False)


def shipments(image: str, names: dict[str, tuple[str, ...]]) -> list[Shipment]:
    """The moving tag 1.2 and the patch tag 1.2.3 of IMAGE, under NAMES[tag]."""
    images = {native_platform(): image}
    return [Shipment(tag, images, names[tag], python=False, immutable=tag == "1.2.3")
            for tag in names]


def test_two_builds_under_one_patch_tag_the_second_moves_none_of_its_names(
    engine: Engine, registry: str, two_builds: tuple[str, str]
) -> None:
    """The second build goes out with its one-repository name (where a list is made) in
    a new repository: there the patch tag is missing, while its other two names hold the
    first build. It is kept on all three: none moves, and the new one gets nothing."""
    def names(home: str) -> dict[str, tuple[str, ...]]:
        return {tag: (f"{registry}/sptest/{home}:{tag}", f"{registry}/sptest/keep/{tag}",
                      f"{registry}/sptest-hub/keep:{tag}") for tag in ("1.2", "1.2.3")}

    publisher, heard = EngineRegistry(engine), []
    first = {s.tag: s for s in ship(engine, publisher,
                                    shipments(two_builds[0], names("keep")), heard.append)}
    assert first["1.2.3"].moved == names("keep")["1.2.3"]
    second = {s.tag: s for s in ship(engine, publisher,
                                     shipments(two_builds[1], names("moved")), heard.append)}
    assert second["1.2.3"].kept and second["1.2.3"].moved == ()
    for name in names("keep")["1.2.3"]:  # every name still carries the first build's list
        assert skopeo.manifest_digest(name) == first["1.2.3"].digest, name
    assert skopeo.remote_digest(names("moved")["1.2.3"][0]) is None
    assert second["1.2"].digest != first["1.2"].digest  # while the moving tag moved
    for name in names("moved")["1.2"]:
        assert skopeo.manifest_digest(name) == second["1.2"].digest, name


def test_a_list_write_failing_half_way_puts_back_the_names_already_moved(
    engine: Engine, registry: str, two_builds: tuple[str, str]
) -> None:
    """The third name is on a registry that answers reads and refuses writes: the
    first two names had moved to the second build's list, and are put back."""
    with running_registry(read_only=True) as frozen:
        names = (f"{registry}/sptest/back:1", f"{registry}/sptest/back/1",
                 f"{frozen}/sptest/back:1")
        publisher = EngineRegistry(engine)
        (first,) = ship(engine, publisher, shipments(two_builds[0], {"1": names[:2]}),
                        lambda _m: None)
        with pytest.raises(EngineError) as caught:
            ship(engine, publisher, shipments(two_builds[1], {"1": names}), lambda _m: None)
    for name in names[:2]:
        assert skopeo.manifest_digest(name) == first.digest, name
    said = str(caught.value)
    assert "\n" not in said and frozen in said
    assert said.endswith(f"; 2 name(s) had moved; put back: {names[0]}, {names[1]}"), said

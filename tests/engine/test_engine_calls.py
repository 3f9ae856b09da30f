"""Choosing a docker client, a daemon that is down or hung, how a failed build reads, and
that an interrupted build stops on the daemon too."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import uuid
from pathlib import Path

import pytest

from snakepacker.engine import Engine, Secret
from snakepacker.errors import BuildError
from snakepacker.family.labels import DOCKERFILE_LABEL
from tests.helpers import (
    DEMO,
    FAMILY_ARGS,
    NAMESPACE,
    Docker,
    children,
    cli_with,
    gone_within,
    sleeping_build,
    snakepacker,
)


@pytest.mark.engine
def test_a_daemon_that_is_down_is_one_clear_line(engine: Engine) -> None:
    proc = cli_with(
        {"SNAKEPACKER_DOCKER": engine.client, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        "images", "build", "base",
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith("snakepacker: error: the Docker daemon is not running")
    assert proc.stderr.count("\n") == 1


@pytest.mark.engine
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupting_a_build_stops_the_client_and_the_daemon_side_build(
    engine: Engine, family_images: dict[str, str], tmp_path: Path, signum: int, code: int
) -> None:
    marker = f"sptest-engine-{uuid.uuid4().hex[:12]}"
    driver = sleeping_build(engine, tmp_path, marker)
    clients = children(driver.pid)
    assert clients, "the build client is not a child of snakepacker"
    driver.send_signal(signum)  # snakepacker only, as `kill -INT PID` does
    out, _ = driver.communicate(timeout=60)
    assert driver.returncode == code, out
    assert "children left: 0" in out  # stopped and waited for, not just orphaned
    assert gone_within(clients, marker, 30), "the build still runs after the interrupt"


@pytest.mark.engine
def test_find_picks_a_client_that_builds_with_buildkit(
    engine: Engine, family_images: dict[str, str], tmp_path: Path
) -> None:
    """The client the engine was found with builds with BuildKit: a RUN step with a
    tmpfs mount and a secret mount (which the legacy builder refuses) builds, sees both,
    and its progress is BuildKit's numbered steps."""
    token = uuid.uuid4().hex  # a step no cache holds
    (tmp_path / "probe.txt").write_text(token)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {family_images['base']}\n"
        "RUN --mount=type=tmpfs,target=/scratch --mount=type=secret,id=probe "
        f"grep -q ' /scratch tmpfs ' /proc/mounts && [ \"$(cat /run/secrets/probe)\" = {token} ]\n"
    )
    steps: list[str] = []
    image_id = engine.build(tmp_path, label="buildkit probe", progress=steps.append,
                            secrets=[Secret("probe", tmp_path / "probe.txt")])
    try:
        assert engine.image_id(image_id) == image_id
        # Labelled with its Dockerfile's digest, for its provenance.
        digest = hashlib.sha256((tmp_path / "Dockerfile").read_bytes()).hexdigest()
        labels = engine.describe([image_id])[image_id].labels
        assert labels[DOCKERFILE_LABEL] == f"sha256:{digest}"
        assert any(re.match(r"\s*#\d+ \[2/2\] RUN --mount=type=tmpfs", step) for step in steps), \
            steps
    finally:
        engine.remove([image_id])


@pytest.mark.engine
def test_a_failed_build_names_its_step_shows_its_tail_and_tags_nothing(
    engine: Engine, family_images: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {family_images['base']}\nRUN echo first-line-of-output && exit 7\n"
    )
    with pytest.raises(BuildError) as caught:
        engine.build(tmp_path, label="broken")
    message = str(caught.value)
    head = message.splitlines()[0]
    assert head.startswith("building broken failed at [")
    assert "RUN echo first-line-of-output && exit 7" in head
    assert "first-line-of-output" in message.split("\n", 1)[1]


@pytest.mark.engine
def test_a_bad_tarball_fails_before_building_and_leaves_tags_alone(
    engine: Engine, family_images: dict[str, str], tmp_path: Path
) -> None:
    before = engine.image_id(family_images["3.12"])
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "python3.12_3.12.3.orig.tar.xz").write_bytes(b"tampered")
    proc = cli_with(
        {"SNAKEPACKER_CACHE": str(tmp_path / "cache")},
        "images", "build", "3.12", "--minors", "3.12", "--cpython", "3.12.3",
        "--cpython-mirror", str(mirror),
    )
    assert proc.returncode == 5
    assert "sha256 mismatch for CPython 3.12.3" in proc.stderr
    assert "building" not in proc.stderr
    assert engine.image_id(family_images["3.12"]) == before


@pytest.mark.engine
def test_describe_gives_each_images_id_size_and_build_record(
    engine: Engine, family_images: dict[str, str]
) -> None:
    """Several images in one query, answers matched to the names asked; a missing one
    is left out, and the others are still described."""
    ref, base = family_images["3.12"], family_images["base"]
    found = engine.describe([ref, base])
    assert list(found) == [ref, base]
    assert found[ref].id == engine.image_id(ref) and found[base].id == engine.image_id(base)
    assert found[ref].size == engine.image_size(ref) > found[base].size > 0
    assert json.loads(found[ref].labels["io.snakepacker.build"])["cpython"][0]["minor"] == "3.12"
    missing = f"{ref}-never-built"
    assert engine.describe([base, missing, ref]) == {base: found[base], ref: found[ref]}
    assert engine.describe([missing]) == {}


@pytest.mark.engine
def test_a_failed_family_build_keeps_the_old_tag(
    engine: Engine, family_images: dict[str, str]
) -> None:
    """`all` narrowed to 3.10 must install pip and uv from the index again; an index that
    does not answer fails that step, and the `all` tag still names the old image."""
    before = engine.image_id(family_images["all"])
    proc = snakepacker(
        "images", "build", "all", "--minors", "3.10", "--index-url", "http://127.0.0.1:9/simple",
    )
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "snakepacker: error: building all failed at [" in proc.stderr
    assert engine.image_id(family_images["all"]) == before
    assert engine.image_id(f"ghcr.io/{NAMESPACE}/python/all") == before


@pytest.mark.engine
def test_another_namespace_builds_on_the_default_bootstrapped_root(
    engine: Engine, family_images: dict[str, str]
) -> None:
    namespace = "snakepacker-nstest"
    proc = snakepacker("images", "build", "base", "--namespace", namespace)
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert engine.image_exists(f"ghcr.io/{namespace}/python/base")
        assert engine.image_exists(f"ghcr.io/{namespace}/python:base")
        # Same root, same steps: the engine's cache gives the very same layers.
        docker = Docker(engine)
        layers = [docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout
                  for ref in (f"{namespace}/python:base", family_images["base"])]
        assert layers[0] == layers[1]
    finally:
        engine.remove([f"{namespace}/python:base", f"ghcr.io/{namespace}/python/base",
                       f"ghcr.io/{namespace}/python:base"])


@pytest.mark.engine
def test_a_pack_that_changed_nothing_asks_the_engine_about_each_image_once(
    engine: Engine, packed_demo: str, tmp_path: Path
) -> None:
    """The edit-rebuild loop with nothing changed: the client's version, one `image
    inspect` of the images the pack stands on, the build (every step cached) and the
    tag. The size report is the one measured before, remembered by the image's id."""
    calls = tmp_path / "calls"
    client = tmp_path / "docker"
    client.write_text(f'#!/bin/sh\necho "$1 $2" >> {calls}\nexec {engine.client} "$@"\n')
    client.chmod(0o755)

    def pack_again() -> tuple[str, list[str]]:
        calls.write_text("")
        proc = cli_with({"SNAKEPACKER_DOCKER": str(client)},
                        "pack", str(DEMO), "-t", packed_demo, *FAMILY_ARGS)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = proc.stdout[proc.stdout.index("  base "):]
        return report, calls.read_text().splitlines()

    before = engine.image_id(packed_demo)
    first, _ = pack_again()  # the report remembered, whatever earlier runs left
    again, asked = pack_again()
    assert engine.image_id(packed_demo) == before  # every step came from the cache
    assert again == first and "total / floor" in again
    assert asked == [
        "version --format", "image inspect", "build --progress=plain", f"tag {before}"]

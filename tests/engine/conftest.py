"""The engine tests' fixtures: the engines, and the slices of the family they run against.

Where no engine answers they are skipped, unless SNAKEPACKER_REQUIRE_ENGINE is set
(scripts/test sets it, and then every skip is a failure: see tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from snakepacker.engine import Engine, find_engine
from snakepacker.engine.docker import find_docker
from snakepacker.errors import EngineError
from snakepacker.family.distros import get_distro
from snakepacker.images.bootstrap import root_ref
from snakepacker.platforms import can_run, get_platform
from tests.engine.registry import registry  # noqa: F401  (the fixture, for tests that push)
from tests.helpers import (
    DEMO,
    FAMILY_ARGS,
    FAMILY_TAGS,
    NAMESPACE,
    ROOT_NAMESPACE,
    SHIP_PLATFORMS,
    SHIP_SLICE,
    SHIP_TAGS,
    Docker,
    snakepacker,
)

PODMAN_FAMILY_ARGS = ("--minors", "3.10")
# The second docker engine (Docker 26.1, buildx 0.13: scripts/engine26), and the family
# images its packs stand on: the build images and the runtimes of 3.12, plain and Pillow.
ENGINE26 = Path(__file__).resolve().parents[2] / "scripts" / "engine26"
BUILDX_FAMILY = ("all", "3.12", "all-pillow", "3.12-pillow")

# The family images the tests build compile CPython the quick way (no PGO, no LTO:
# minutes, not a quarter hour each), also when pytest is run by hand; export
# SNAKEPACKER_QUICK=0 to test on release builds.
os.environ.setdefault("SNAKEPACKER_QUICK", "1")


def _engine(name: str) -> Engine:
    try:
        return find_engine(name)
    except EngineError as exc:
        if os.environ.get("SNAKEPACKER_REQUIRE_ENGINE"):
            pytest.fail(f"{name} required but unavailable: {exc}")
        pytest.skip(f"no {name} engine: {exc}")


@pytest.fixture(scope="session")
def cosign_tool() -> str:
    """cosign: scripts/setup provides it on Debian (Debian 12 gets Debian 13's binary), so
    there, where the engine tests are required (scripts/test, CI), its absence is a
    failure; elsewhere (Ubuntu has no package) the signing tests are skipped."""
    tool = shutil.which("cosign")
    if tool is None:
        on_debian = "\nID=debian\n" in "\n" + Path("/etc/os-release").read_text()
        if os.environ.get("SNAKEPACKER_REQUIRE_ENGINE") and on_debian:
            pytest.fail("cosign is missing: run scripts/setup")
        pytest.skip("cosign is not on this machine (scripts/setup provides it)")
    return tool


@pytest.fixture(scope="session")
def engine() -> Engine:
    return _engine("docker")


@pytest.fixture(scope="session")
def docker(engine: Engine) -> Docker:
    return Docker(engine)


@pytest.fixture(scope="session")
def family_images(engine: Engine) -> dict[str, str]:
    """Bootstrap jammy when its root is missing, then build the CI slice of the family
    through the command line. Returns tag -> local image reference."""
    os.environ["SNAKEPACKER_NAMESPACE"] = NAMESPACE  # for every command the tests run
    if not engine.image_exists("snakepacker/root:jammy") and not engine.image_exists(
        "ubuntu:jammy"
    ):
        proc = snakepacker("bootstrap", "jammy", "--namespace", ROOT_NAMESPACE,
                           env={"SNAKEPACKER_ENGINE": "docker"})
        if proc.returncode != 0:
            pytest.fail(f"bootstrap jammy failed:\n{proc.stderr[-3000:]}")
    proc = snakepacker("images", "build", *FAMILY_TAGS, *FAMILY_ARGS,
                       env={"SNAKEPACKER_ENGINE": "docker"})
    if proc.returncode != 0:
        pytest.fail(f"building the family failed:\n{proc.stderr[-5000:]}")
    tags = ("base", "3.10", "3.12", "all", "all-pillow", "3.12-pillow")
    return {tag: f"{NAMESPACE}/python:{tag}" for tag in tags}


@pytest.fixture(scope="session")
def packed_demo(family_images: dict[str, str], docker: Docker) -> str:
    """examples/demo-app packed once for every test that only looks at the result."""
    tag = "snakepacker-test/demo:pytest"
    docker("image", "rm", "--force", tag, check=False)
    proc = snakepacker("pack", str(DEMO), "-t", tag, *FAMILY_ARGS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "total / floor" in proc.stdout
    return tag


@pytest.fixture(scope="session")
def chain(engine: Engine) -> str:
    """bookworm's roots for both platforms, and base, 3.11 and all built on each (the
    arm64 ones emulated): what the ship tests and pack --platform tests stand on."""
    ok, why = can_run(get_platform("linux/arm64"))
    if not ok:
        pytest.skip(why)
    bookworm = get_distro("bookworm")
    for platform in SHIP_PLATFORMS.split(","):
        if not engine.image_exists(root_ref(bookworm, ROOT_NAMESPACE, get_platform(platform))):
            proc = snakepacker("bootstrap", "bookworm", "--platform", platform,
                               "--namespace", ROOT_NAMESPACE)
            assert proc.returncode == 0, proc.stderr[-3000:]
    proc = snakepacker("images", "build", *SHIP_TAGS, *SHIP_SLICE, "--platform", SHIP_PLATFORMS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="session")
def podman_engine() -> Engine:
    return _engine("podman")


@pytest.fixture(scope="session")
def podman(podman_engine: Engine) -> Docker:
    return Docker(podman_engine)


@pytest.fixture(scope="session")
def podman_family(podman_engine: Engine) -> dict[str, str]:
    """base, 3.10 (distro route) and `all` narrowed to 3.10, built with podman.

    The jammy root comes from docker when docker has it (`docker save | podman load`,
    seconds), else it is bootstrapped through podman (`podman import`, minutes)."""
    root = f"{ROOT_NAMESPACE}/root:jammy"
    if not podman_engine.image_exists(root):
        _root_into_podman(podman_engine, root)
    proc = snakepacker("images", "build", "3.10", "all", *PODMAN_FAMILY_ARGS,
                       env={"SNAKEPACKER_ENGINE": "podman", "SNAKEPACKER_NAMESPACE": NAMESPACE})
    if proc.returncode != 0:
        pytest.fail(f"building the family with podman failed:\n{proc.stderr[-5000:]}")
    return {tag: f"{NAMESPACE}/python:{tag}" for tag in ("base", "3.10", "all")}


def _root_into_podman(podman_engine: Engine, root: str) -> None:
    try:
        docker = find_engine("docker")
    except EngineError:
        docker = None
    if docker is not None and docker.image_exists(root):
        save = subprocess.Popen([docker.client, "save", root], env=docker.env,
                                stdout=subprocess.PIPE)
        load = subprocess.run([podman_engine.client, "load"], stdin=save.stdout,
                              capture_output=True, text=True, timeout=900)
        assert save.stdout is not None
        save.stdout.close()
        if save.wait() == 0 and load.returncode == 0:
            return
    proc = snakepacker("bootstrap", "jammy", "--namespace", ROOT_NAMESPACE,
                       env={"SNAKEPACKER_ENGINE": "podman"})
    if proc.returncode != 0:
        pytest.fail(f"bootstrap jammy through podman failed:\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="session")
def buildx_engine(engine: Engine, family_images: dict[str, str]) -> dict[str, str]:
    """Docker 26.1 beside the machine's engine, whose `docker build` is buildx 0.13:
    started by scripts/engine26 when its socket does not answer, and given the family
    images packs stand on, saved from ENGINE (`docker save | docker load`, once per
    test run, only those it lacks or holds another build of). Returns the environment
    that points snakepacker and the client at it (SNAKEPACKER_DOCKER, DOCKER_HOST,
    DOCKER_CONFIG, SNAKEPACKER_ENGINE)."""
    try:
        proc = subprocess.run([str(ENGINE26), "start"], capture_output=True, text=True,
                              timeout=900)
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/engine26 start did not finish within 15 minutes")
    if proc.returncode != 0:
        why = f"scripts/engine26 start failed:\n{proc.stderr[-3000:]}"
        if os.environ.get("SNAKEPACKER_REQUIRE_ENGINE"):
            pytest.fail(why)
        pytest.skip(why)
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert {"SNAKEPACKER_DOCKER", "DOCKER_HOST", "DOCKER_CONFIG"} <= set(env), proc.stdout
    env["SNAKEPACKER_ENGINE"] = "docker"
    buildx = find_docker({**os.environ, **env})
    assert buildx.version.startswith("26."), buildx
    refs = [family_images[tag] for tag in BUILDX_FAMILY]
    held = {ref: buildx.image_id(ref) for ref in refs}
    missing = [ref for ref in refs if held[ref] != engine.image_id(ref)]
    if missing:
        # One stream for all of them: the layers they share go over once.
        save = subprocess.Popen([engine.client, "save", *missing], env=engine.env,
                                stdout=subprocess.PIPE)
        assert save.stdout is not None
        load = subprocess.run([buildx.client, "load"], env=buildx.env, stdin=save.stdout,
                              capture_output=True, text=True, timeout=1800)
        save.stdout.close()
        assert save.wait() == 0 and load.returncode == 0, load.stderr[-2000:]
        assert all(buildx.image_exists(ref) for ref in missing), load.stdout
        # The builds the loaded ones replaced, unless something still names them.
        replaced = {held[ref] for ref in missing if held[ref]} - {
            buildx.image_id(ref) for ref in refs}
        for image_id in sorted(i for i in replaced if i):
            subprocess.run([buildx.client, "image", "rm", image_id], env=buildx.env,
                           capture_output=True, timeout=300)
    return env


@pytest.fixture(scope="session")
def buildx_docker(buildx_engine: dict[str, str]) -> Docker:
    """The 26.1 engine's client, for looking at what snakepacker made there."""
    return Docker(find_docker({**os.environ, **buildx_engine}))

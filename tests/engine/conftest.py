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
from snakepacker.errors import EngineError
from snakepacker.family.distros import get_distro
from snakepacker.images.bootstrap import root_ref
from snakepacker.platforms import can_run, get_platform
from tests.engine.registry import registry  # noqa: F401  (the fixture, for tests that push)
from tests.helpers import (
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

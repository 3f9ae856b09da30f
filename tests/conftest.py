"""Shared fixtures: the engine, and the slice of the family the engine tests run against.

Engine tests are marked ``engine``. Where no engine answers they are skipped, unless
SNAKEPACKER_REQUIRE_ENGINE is set (scripts/test sets it, so CI never skips them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from snakepacker.engine import Engine
from snakepacker.errors import EngineError
from tests.registry import registry  # noqa: F401  (the fixture, for tests that push)

# The slice CI builds: base, 3.10 (distro route), 3.12 (source route, 3.12.3 from the
# package archive's pool), all narrowed to those two, all-pillow and 3.12-pillow.
FAMILY_ARGS = ("--minors", "3.10,3.12", "--cpython", "3.12.3")
FAMILY_TAGS = ("3.10", "3.12", "3.12-pillow")
NAMESPACE = "snakepacker"


def snakepacker(
    *args: str, check: bool = False, timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "snakepacker", *args],
        capture_output=True, text=True, timeout=timeout, check=check,
    )


@dataclass(frozen=True)
class Docker:
    engine: Engine

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 900) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.engine.client, *args], env=self.engine.env, capture_output=True,
            text=True, input=input, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def run(self, image: str, command: Sequence[str], *options: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        return self("run", "--rm", *options, image, *command, check=check)

    def sh(self, image: str, script: str, *options: str,
           check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(image, ["sh", "-c", script], *options, check=check)

    def build(self, context: str, *options: str) -> str:
        """Build a test image; return its id."""
        proc = self("build", "-q", *options, context, timeout=1800)
        return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return Engine.find()
    except EngineError as exc:
        if os.environ.get("SNAKEPACKER_REQUIRE_ENGINE"):
            pytest.fail(f"engine required but unavailable: {exc}")
        pytest.skip(f"no container engine: {exc}")


@pytest.fixture(scope="session")
def docker(engine: Engine) -> Docker:
    return Docker(engine)


@pytest.fixture(scope="session")
def family_images(engine: Engine) -> dict[str, str]:
    """Bootstrap jammy when its root is missing, then build the CI slice of the family
    through the command line. Returns tag -> local image reference."""
    if not engine.image_exists(f"{NAMESPACE}/root:jammy") and not engine.image_exists(
        "ubuntu:jammy"
    ):
        proc = snakepacker("bootstrap", "jammy")
        if proc.returncode != 0:
            pytest.fail(f"bootstrap jammy failed:\n{proc.stderr[-3000:]}")
    proc = snakepacker("images", "build", *FAMILY_TAGS, *FAMILY_ARGS)
    if proc.returncode != 0:
        pytest.fail(f"building the family failed:\n{proc.stderr[-5000:]}")
    tags = ("base", "3.10", "3.12", "all", "all-pillow", "3.12-pillow")
    return {tag: f"{NAMESPACE}/python:{tag}" for tag in tags}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first, engine tests after them: a quick failure shows up early."""
    items.sort(key=lambda item: item.get_closest_marker("engine") is not None)

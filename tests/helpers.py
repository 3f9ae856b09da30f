"""What tests call: the real command line, and the engine's own client for checking images.

Kept apart from conftest.py (which holds fixtures only) so test modules import them
plainly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from snakepacker.engine import Engine

# The slice CI builds: base, 3.10 (distro route), 3.12 (source route, 3.12.3 from the
# package archive's pool), all narrowed to those two, all-pillow and 3.12-pillow.
FAMILY_ARGS = ("--minors", "3.10,3.12", "--cpython", "3.12.3")
FAMILY_TAGS = ("3.10", "3.12", "3.12-pillow")
NAMESPACE = "snakepacker"


def snakepacker(
    *args: str, check: bool = False, timeout: float = 3600,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would; ENV is added to this process's."""
    return subprocess.run(
        [sys.executable, "-m", "snakepacker", *args],
        capture_output=True, text=True, timeout=timeout, check=check,
        env={**os.environ, **(env or {})},
    )


def cli_with(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command line with ENV added to the environment."""
    return snakepacker(*args, env=env)


@dataclass(frozen=True)
class Docker:
    """The engine's client (docker or podman), for looking at what snakepacker made."""

    engine: Engine

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 900) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.engine.client, *args], env=self.engine.env, capture_output=True,
            text=True, input=input, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{self.engine.name} {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def run(self, image: str, command: Sequence[str], *options: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """`run --rm`, through the engine so it adds what runs need on this machine."""
        proc = self.engine.run(["--rm", *options, image, *command], check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{self.engine.name} run {image} {' '.join(command)} failed "
                f"({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def sh(self, image: str, script: str, *options: str,
           check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(image, ["sh", "-c", script], *options, check=check)

    def build(self, context: str, *options: str) -> str:
        """Build a test image; return its id."""
        proc = self("build", "-q", *options, context, timeout=1800)
        return proc.stdout.strip().splitlines()[-1]

"""What snakepacker asks of a container engine, and the pieces every engine shares.

``Engine`` is a Protocol: the docker and podman engines implement it over their command
lines, and the fake implements it in memory so snakepacker's own logic (what is built,
in which order, what is tagged) is tested without an engine. Nothing above this package
names a concrete engine; ``find_engine`` picks one.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Secret:
    """A build secret: mounted by RUN steps that ask for ``id``, never kept in a layer."""

    id: str
    path: Path


@dataclass(frozen=True)
class Timeouts:
    """How long each kind of engine call may take, in seconds (None: no limit).

    Quick calls (inspect, tag, version) answer in well under a second on a healthy
    daemon; a hung daemon must not hang snakepacker with them. A build takes as long
    as it takes; pulls and pushes move hundreds of megabytes. SNAKEPACKER_ENGINE_TIMEOUT
    sets the quick limit (tests use a short one against a socket that never answers).
    """

    quick: float = 30
    run: float = 900
    transfer: float = 3600
    build: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Timeouts:
        raw = env.get("SNAKEPACKER_ENGINE_TIMEOUT")
        if not raw:
            return cls()
        try:
            quick = float(raw)
        except ValueError:
            from snakepacker.errors import UsageError

            raise UsageError(
                f"SNAKEPACKER_ENGINE_TIMEOUT must be a number of seconds, not {raw!r}"
            ) from None
        return cls(quick=quick)


class Engine(Protocol):
    """A container engine snakepacker builds, tags, inspects and runs images with.

    Image ids are opaque strings (``sha256:...``) that the same engine accepts back
    wherever it takes a reference.
    """

    name: str  # "docker", "podman", "fake"
    client: str  # the command line program (for tests and benchmarks that drive it)
    version: str
    env: dict[str, str]  # the environment every engine command runs with

    def check_daemon(self) -> None:
        """Raise EngineError (one line) unless the engine answers."""
        ...

    def build(
        self,
        context: Path,
        *,
        label: str,
        secrets: Sequence[Secret] = (),
        build_args: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
        no_cache: bool = False,
        platform: str | None = None,
    ) -> str:
        """Build ``context/Dockerfile`` for PLATFORM (default: the engine's own); return
        the image id. Tags nothing.

        On failure raises BuildError naming the failing step, with its output's tail.
        On every way out (failure, interrupt) the build has stopped, engine side too.
        """
        ...

    def tag(self, image_id: str, refs: Iterable[str]) -> None: ...

    def remove(self, refs: Iterable[str]) -> None:
        """Untag REFS (and drop images nothing else names); missing ones are fine."""
        ...

    def image_exists(self, ref: str) -> bool: ...

    def image_id(self, ref: str) -> str | None: ...

    def image_size(self, ref: str) -> int | None: ...

    def id_and_labels(self, ref: str) -> tuple[str, dict[str, str]] | None:
        """REF's id and its LABELs, from one query; None when there is no such image."""
        ...

    def history(self, ref: str) -> list[tuple[int, str]]:
        """(size in bytes, instruction in Dockerfile words) of REF's layers, newest first."""
        ...

    def inspect(self, ref: str) -> dict[str, Any]:
        """The engine's description of image REF; EngineError when there is none."""
        ...

    def export(self, ref: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """REF's file system as a tar stream, read without running anything of it."""
        ...

    def save(self, ref: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """REF as the engine saves it (`save`): a tar stream of its manifest, its
        config and its layers, each layer a tar of its own (compressed or not, as the
        engine stores it)."""
        ...

    def created(self, ref: str, count: int = 1) -> contextlib.AbstractContextManager[list[str]]:
        """The ids of COUNT containers of REF that never start; removed afterwards."""
        ...

    def copy_out(self, container: str, path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """One path of a created container as a tar stream (empty where it is absent)."""
        ...

    def run(
        self, args: Sequence[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`run ARGS` (docker's run options), output captured."""
        ...

    def pull(self, ref: str) -> bool: ...

    def push(self, ref: str) -> str:
        """Push REF to its registry; return the pushed manifest's digest."""
        ...

    def import_tarball(self, tarball: Path, ref: str, changes: Sequence[str] = (),
                       platform: str | None = None) -> str:
        """Import a root filesystem tarball as image REF, its config naming PLATFORM
        (default: the engine's own); return its id. CHANGES are Dockerfile
        instructions (ENV, CMD) applied to it."""
        ...

    def make_list(self, list_ref: str, members: Sequence[str]) -> str:
        """Push a multi-platform list LIST_REF naming MEMBERS (REPO@DIGEST refs in its
        registry, each entry's platform read from its image); return the list's digest.
        A failure leaves the registry's previous list under LIST_REF in place."""
        ...


def shorten(line: str, width: int = 110) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


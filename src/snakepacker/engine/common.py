"""What the docker and podman command lines have in common.

Both take the same words for inspecting, tagging, removing, pulling, importing and
running images, so one class drives them; each engine adds how it builds (BuildKit's
output is not buildah's), how it pushes, and what ``run`` needs on this machine.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from snakepacker.engine.base import (
    Engine,
    Secret,
    Timeouts,
    emulated_platforms,
    native_platform,
)
from snakepacker.engine.process import run_command
from snakepacker.errors import EngineError

# How docker and podman say that `cp` found no such path in the container.
_ABSENT = ("could not find", "no such file", "no such container:path")


class CliEngine(Engine):
    name = "cli"
    # The command that prints the engine's own OS and architecture, space-separated
    # (docker asks its daemon; podman, having none, its host).
    host_platform_command: tuple[str, ...] = ()

    def __init__(self, client: str, version: str, env: dict[str, str], timeouts: Timeouts):
        self.client = client
        self.version = version
        self.env = env
        self.timeouts = timeouts

    def __repr__(self) -> str:
        return f"<{self.name} engine {self.client} {self.version}>"

    # -- running the client ------------------------------------------------------

    def _run(
        self, args: Sequence[str], *, check: bool = True, timeout: float | None = None,
        quick: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        limit = timeout if timeout is not None else (self.timeouts.quick if quick else None)
        what = f"{self.name} {' '.join(args[:2])}"
        return run_command([self.client, *args], env=self.env, timeout=limit, what=what,
                           check=check)

    # -- images ------------------------------------------------------------------

    def image_exists(self, ref: str) -> bool:
        return self._run(["image", "inspect", "--format", "{{.Id}}", ref],
                         check=False).returncode == 0

    def image_id(self, ref: str) -> str | None:
        proc = self._run(["image", "inspect", "--format", "{{.Id}}", ref], check=False)
        return self._normal_id(proc.stdout.strip()) if proc.returncode == 0 else None

    def id_and_labels(self, ref: str) -> tuple[str, dict[str, str]] | None:
        proc = self._run(["image", "inspect", "--format", "{{.Id}}\t{{json .Config.Labels}}",
                          ref], check=False)
        if proc.returncode != 0:
            return None
        raw_id, _, found = proc.stdout.strip().partition("\t")
        return self._normal_id(raw_id), json.loads(found or "null") or {}

    def image_size(self, ref: str) -> int | None:
        proc = self._run(["image", "inspect", "--format", "{{.Size}}", ref], check=False)
        return int(proc.stdout.strip()) if proc.returncode == 0 else None

    def inspect(self, ref: str) -> dict[str, Any]:
        proc = self._run(["image", "inspect", ref], check=False)
        if proc.returncode != 0:
            raise EngineError(f"no image {ref} on {self.name} (build or pull it first)")
        found = json.loads(proc.stdout)
        return found[0]

    @contextlib.contextmanager
    def created(self, ref: str, count: int = 1) -> Iterator[list[str]]:
        """COUNT containers of REF that never start (their files can be read); removed
        afterwards. REF must exist (inspect it first: that error is the clear one)."""
        ids: list[str] = []
        try:
            for _ in range(count):
                ids.append(self._run(["create", ref, "true"]).stdout.strip())
            yield ids
        finally:
            if ids:
                self._run(["rm", "--force", *ids], check=False)

    def copy_out(self, container: str, path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """`cp CONTAINER:PATH -`: PATH (a file or a folder, its base name first in
        the names) as a tar stream, empty where the container has no PATH."""
        return self._stream(["cp", f"{container}:{path}", "-"], path, absent_ok=True)

    @contextlib.contextmanager
    def export(self, ref: str) -> Iterator[IO[bytes]]:
        """`create` + `export`: the file system as a tar stream; nothing of the image
        runs. The container is removed afterwards."""
        self.inspect(ref)  # a missing image is one clear line
        with self.created(ref) as ids, self._stream(["export", ids[0]], ref) as stream:
            yield stream

    @contextlib.contextmanager
    def _stream(self, args: list[str], what: str, absent_ok: bool = False,
                ) -> Iterator[IO[bytes]]:
        """The standard output of the client run with ARGS; EngineError when it fails
        (unless ABSENT_OK and it failed for want of the path)."""
        proc = subprocess.Popen([self.client, *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            yield proc.stdout
        finally:
            proc.stdout.close()
            stderr = (proc.stderr.read() if proc.stderr else b"").decode("utf-8", "replace")
            code = proc.wait()
        absent = any(words in stderr.lower() for words in _ABSENT)
        if code != 0 and not (absent_ok and absent):
            lines = stderr.strip().splitlines()
            detail = lines[-1] if lines else f"exit code {code}"
            raise EngineError(f"`{self.name} {args[0]}` of {what} failed: {detail}")

    def tag(self, image_id: str, refs: Iterable[str]) -> None:
        for ref in refs:
            self._run(["tag", image_id, ref])

    def remove(self, refs: Iterable[str]) -> None:
        refs = list(refs)
        if refs:
            self._run(["image", "rm", "--force", *refs], check=False)

    def pull(self, ref: str) -> bool:
        return self._run(["pull", "--quiet", *self._registry_flags(ref), ref], check=False,
                         timeout=self.timeouts.transfer).returncode == 0

    def import_tarball(self, tarball: Path, ref: str, changes: Sequence[str] = ()) -> str:
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        out = self._run([*args, str(tarball), ref], timeout=self.timeouts.transfer).stdout
        return self._normal_id(out.strip().splitlines()[-1])

    def run(
        self, args: Sequence[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self._run(["run", *self._run_flags(), *args], check=check,
                         timeout=self.timeouts.run)

    def platforms(self) -> tuple[str, ...]:
        out = self._run(list(self.host_platform_command)).stdout
        os_name, _, arch = out.strip().partition(" ")
        native = native_platform(os_name, arch)
        return (native, *emulated_platforms(native))

    # -- what each engine says differently ----------------------------------------

    def _normal_id(self, raw: str) -> str:
        return raw

    def _run_flags(self) -> list[str]:
        return []

    def _registry_flags(self, ref: str) -> list[str]:
        return []


def build_flags(secrets: Sequence[Secret], build_args: Mapping[str, str] | None,
                no_cache: bool, platform: str | None) -> list[str]:
    """The `build` flags docker and podman spell alike."""
    flags = ["--no-cache"] if no_cache else []
    for secret in secrets:
        flags += ["--secret", f"id={secret.id},src={secret.path}"]
    for key, value in (build_args or {}).items():
        flags += ["--build-arg", f"{key}={value}"]
    if platform:
        flags += ["--platform", platform]
    return flags

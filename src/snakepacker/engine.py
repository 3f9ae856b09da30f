"""A small wrapper over the docker command line, with BuildKit.

snakepacker drives the engine through its CLI, as cibuildwheel does: no SDK, and the
user's own client configuration (contexts, credentials) applies. ``Engine.find()``
picks a client that can build with BuildKit and checks that its daemon answers.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from snakepacker.errors import BuildError, EngineError

# Docker clients before 23.0 carry BuildKit built in (DOCKER_BUILDKIT=1); later ones
# hand `docker build` to the buildx plugin and fall back to the legacy builder without it.
_BUILTIN_BUILDKIT_BEFORE = 23
_STEP = re.compile(r"^#\d+ \[(?P<step>[^\]]+)\] (?P<what>.*)$")
_TAIL_LINES = 25


@dataclass(frozen=True)
class Secret:
    id: str
    path: Path


class Engine:
    def __init__(self, client: str, version: str):
        self.client = client
        self.version = version
        self.env = {**os.environ, "DOCKER_BUILDKIT": "1"}

    # -- finding a client ------------------------------------------------------

    @classmethod
    def find(cls) -> Engine:
        """The first docker client that can do BuildKit, with a daemon that answers.

        ``SNAKEPACKER_DOCKER`` names a client to use; otherwise every ``docker`` on PATH
        is tried, then /usr/bin/docker.
        """
        forced = os.environ.get("SNAKEPACKER_DOCKER")
        candidates = [forced] if forced else _candidates()
        if not candidates:
            raise EngineError(
                "no container engine: no docker client found "
                "(install docker.io, or set SNAKEPACKER_DOCKER)"
            )
        reasons: list[str] = []
        for client in candidates:
            why = _buildkit_problem(client)
            if why is None:
                engine = cls(client, _client_version(client) or "?")
                engine.check_daemon()
                return engine
            reasons.append(f"{client}: {why}")
        raise EngineError("no docker client that can build with BuildKit: " + "; ".join(reasons))

    def check_daemon(self) -> None:
        proc = self._run(["version", "--format", "{{.Server.Version}}"], check=False)
        if proc.returncode != 0:
            detail = _last_line(proc.stderr) or "no answer"
            raise EngineError(
                f"the Docker daemon is not running or not reachable ({detail}); "
                "start it (`dockerd &` or `systemctl start docker`)"
            )

    # -- plain commands ----------------------------------------------------------

    def _run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.client, *args], env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            detail = _last_line(proc.stderr) or f"exit code {proc.returncode}"
            raise EngineError(f"`docker {' '.join(args[:2])}` failed: {detail}")
        return proc

    def image_exists(self, ref: str) -> bool:
        return self._run(["image", "inspect", ref], check=False).returncode == 0

    def image_id(self, ref: str) -> str | None:
        proc = self._run(["image", "inspect", "--format", "{{.Id}}", ref], check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def image_size(self, ref: str) -> int | None:
        proc = self._run(["image", "inspect", "--format", "{{.Size}}", ref], check=False)
        return int(proc.stdout.strip()) if proc.returncode == 0 else None

    def history(self, ref: str) -> list[tuple[int, str]]:
        """(size in bytes, instruction) of REF's layers, newest first."""
        out = self._run(["history", "--no-trunc", "--human=false",
                         "--format", "{{.Size}}\t{{.CreatedBy}}", ref]).stdout
        rows = []
        for line in out.splitlines():
            size, _, created = line.partition("\t")
            rows.append((int(size or 0), created))
        return rows

    def inspect(self, ref: str) -> dict[str, Any]:
        """`docker image inspect REF`, parsed; EngineError when there is no such image."""
        proc = self._run(["image", "inspect", ref], check=False)
        if proc.returncode != 0:
            raise EngineError(f"no image {ref} on the engine (build or pull it first)")
        found: list[dict[str, Any]] = json.loads(proc.stdout)
        return found[0]

    @contextlib.contextmanager
    def export(self, ref: str) -> Iterator[IO[bytes]]:
        """REF's file system as a tar stream (`docker create` + `docker export`): read
        without running anything of the image. The container is removed afterwards."""
        cid = self._run(["create", ref, "true"]).stdout.strip()
        try:
            proc = subprocess.Popen([self.client, "export", cid], env=self.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdout is not None
            try:
                yield proc.stdout
            finally:
                proc.stdout.close()
                stderr = proc.stderr.read() if proc.stderr else b""
                code = proc.wait()
            if code != 0:
                detail = _last_line(stderr.decode("utf-8", "replace")) or f"exit code {code}"
                raise EngineError(f"`docker export` of {ref} failed: {detail}")
        finally:
            self._run(["rm", "--force", cid], check=False)

    def tag(self, image_id: str, refs: Iterable[str]) -> None:
        for ref in refs:
            self._run(["tag", image_id, ref])

    def remove(self, refs: Iterable[str]) -> None:
        refs = list(refs)
        if refs:
            self._run(["image", "rm", "--force", *refs], check=False)

    def pull(self, ref: str) -> bool:
        return self._run(["pull", "--quiet", ref], check=False).returncode == 0

    def import_tarball(self, tarball: Path, ref: str, changes: Sequence[str] = ()) -> str:
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        return self._run([*args, str(tarball), ref]).stdout.strip()

    def run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`docker run ARGS`, output captured."""
        return self._run(["run", *args], check=check)

    # -- building ------------------------------------------------------------------

    def build(
        self,
        context: Path,
        *,
        label: str,
        secrets: Sequence[Secret] = (),
        build_args: dict[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
        verbose: bool = False,
        no_cache: bool = False,
    ) -> str:
        """Build ``context/Dockerfile``; return the image id. Tags nothing.

        Progress goes to ``progress`` a step at a time (every line with ``verbose``).
        On failure, raises BuildError naming the failing step, with its output's tail.
        """
        with tempfile.TemporaryDirectory(prefix="snakepacker-iid-") as tmp:
            iidfile = Path(tmp) / "iid"
            args = [self.client, "build", "--progress=plain", "--iidfile", str(iidfile)]
            if no_cache:
                args.append("--no-cache")
            for secret in secrets:
                args += ["--secret", f"id={secret.id},src={secret.path}"]
            for key, value in (build_args or {}).items():
                args += ["--build-arg", f"{key}={value}"]
            args.append(str(context))
            tail: collections.deque[str] = collections.deque(maxlen=400)
            proc = subprocess.Popen(
                args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                tail.append(line)
                match = _STEP.match(line)
                if progress and (verbose or match):
                    progress(line if verbose else "    " + _shorten(line))
            code = proc.wait()
            if code != 0 or not iidfile.exists():
                raise BuildError(_failure_message(label, list(tail), code))
            return iidfile.read_text().strip()


def _candidates() -> list[str]:
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder) / "docker"
        if path.is_file() and os.access(path, os.X_OK):
            found.append(str(path))
    if Path("/usr/bin/docker").exists():
        found.append("/usr/bin/docker")
    unique: list[str] = []
    for path in found:
        real = os.path.realpath(path)
        if real not in {os.path.realpath(p) for p in unique}:
            unique.append(path)
    return unique


def _client_version(client: str) -> str | None:
    try:
        proc = subprocess.run(
            [client, "version", "--format", "{{.Client.Version}}"],
            capture_output=True, text=True, timeout=30,
        )
    except OSError:
        return None
    version = proc.stdout.strip().splitlines()
    return version[0] if version else None


def _buildkit_problem(client: str) -> str | None:
    """Why CLIENT cannot build with BuildKit, or None when it can."""
    version = _client_version(client)
    if version is None:
        return "does not run"
    major = int(m.group()) if (m := re.match(r"\d+", version)) else 0
    if major < _BUILTIN_BUILDKIT_BEFORE:
        return None
    probe = subprocess.run([client, "buildx", "version"], capture_output=True, text=True)
    if probe.returncode == 0:
        return None
    return f"client {version} needs the buildx plugin for BuildKit, and it is missing"


def _shorten(line: str, width: int = 110) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _failure_message(label: str, tail: list[str], code: int) -> str:
    """One line saying which step failed, then the tail of that step's output."""
    step_id = next(
        (line.split(" ", 1)[0] for line in reversed(tail)
         if line.startswith("#") and " ERROR" in line),
        None,
    )
    step = ""
    if step_id:
        headers = (_STEP.match(line) for line in tail if line.startswith(step_id + " "))
        step = next((f"[{m['step']}] {_shorten(m['what'], 90)}" for m in headers if m), "")
    lines = [line for line in tail if step_id and line.startswith(step_id + " ")] or tail
    head = f"building {label} failed"
    if step:
        head += f" at {step}"
    head += f" (exit code {code})"
    return head + "\n" + "\n".join("    " + line for line in lines[-_TAIL_LINES:])

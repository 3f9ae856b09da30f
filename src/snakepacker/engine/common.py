"""What the docker and podman command lines have in common.

Both take the same words for building, inspecting, tagging, removing, pulling,
importing and running images, so one class drives them; each engine adds the flags
its build wants, how its build log is read (BuildKit's is not buildah's), how a
stopped build is cleaned up, how it pushes, and what ``run`` needs on this machine.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from snakepacker.engine import buildlog
from snakepacker.engine.base import Engine, ImageFacts, Progress, Secret, Timeouts, shorten
from snakepacker.engine.process import BuildChild, run_command
from snakepacker.errors import BuildError, EngineError
from snakepacker.family.labels import DOCKERFILE_LABEL
from snakepacker.tempdirs import temporary_directory

# How docker and podman say that `cp` found no such path in the container.
_ABSENT = ("could not find", "no such file", "no such container:path")
# How many of a build's last lines are kept for its failure message.
_KEPT_LINES = 400


@dataclass(frozen=True)
class BuildSession:
    """What one build runs with: the client's environment, and the hook that stops
    what the engine left running when the client is stopped (None: nothing to do)."""

    env: Mapping[str, str]
    cancel: Callable[[], None] | None = None


class CliEngine(Engine):
    name = "cli"

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
        quick: bool = True, what: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The client run with ARGS. A failure (with CHECK) is one EngineError naming
        WHAT (default: the command's first words)."""
        limit = timeout if timeout is not None else (self.timeouts.quick if quick else None)
        what = what or f"`{self.name} {' '.join(args[:2])}`"
        return run_command([self.client, *args], env=self.env, timeout=limit, what=what,
                           check=check)

    # -- images ------------------------------------------------------------------

    def image_exists(self, ref: str) -> bool:
        return self._run(["image", "inspect", "--format", "{{.Id}}", ref],
                         check=False).returncode == 0

    def image_id(self, ref: str) -> str | None:
        proc = self._run(["image", "inspect", "--format", "{{.Id}}", ref], check=False)
        return self._normal_id(proc.stdout.strip()) if proc.returncode == 0 else None

    _FACTS = "{{.Id}}\t{{.Size}}\t{{json .Config.Labels}}"

    def describe(self, refs: Sequence[str]) -> dict[str, ImageFacts]:
        refs = list(dict.fromkeys(refs))
        if not refs:
            return {}
        proc = self._run(["image", "inspect", "--format", self._FACTS, *refs], check=False)
        lines = proc.stdout.splitlines()
        if proc.returncode == 0 and len(lines) == len(refs):
            return {ref: self._facts(line) for ref, line in zip(refs, lines, strict=True)}
        if len(refs) == 1:
            return {}
        # Some are missing: the answers no longer line up with the names; ask each.
        return {ref: facts for ref in refs for facts in self.describe([ref]).values()}

    def _facts(self, line: str) -> ImageFacts:
        raw_id, size, found = line.split("\t", 2)
        return ImageFacts(self._normal_id(raw_id), int(size),
                          json.loads(found or "null") or {})

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
    def save(self, ref: str) -> Iterator[IO[bytes]]:
        """`save REF` to a pipe: docker's and podman's archive of the image."""
        self.inspect(ref)  # a missing image is one clear line
        with self._stream(["save", ref], ref) as stream:
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

    def import_tarball(self, tarball: Path, ref: str, changes: Sequence[str] = (),
                       platform: str | None = None) -> str:
        if platform is None:
            args = ["import"]
            for change in changes:
                args += ["--change", change]
            out = self._run([*args, str(tarball), ref], timeout=self.timeouts.transfer).stdout
            return self._normal_id(out.strip().splitlines()[-1])
        # `import --platform` is ignored by a daemon without experimental features (20.10
        # here), and an image whose config names another platform cannot be built on for
        # that one. A build FROM scratch writes the platform into the config; ADD
        # unpacks a local tar as it is (owners, modes, links).
        with temporary_directory(prefix="snakepacker-import-") as tmp:
            context = Path(tmp)
            try:
                os.link(tarball, context / "root.tar")
            except OSError:
                shutil.copyfile(tarball, context / "root.tar")
            (context / "Dockerfile").write_text(
                "\n".join(["FROM scratch", "ADD root.tar /", *changes]) + "\n")
            image_id = self.build(context, label=f"the {platform} root {ref}",
                                  platform=platform)
        self.tag(image_id, [ref])
        return image_id

    def run(
        self, args: Sequence[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self._run(["run", *self._run_flags(), *args], check=check,
                         timeout=self.timeouts.run)


    # -- building ----------------------------------------------------------------

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
        """Build CONTEXT/Dockerfile; the image id. Progress gets each step's header (every
        line with VERBOSE); a failure is one BuildError naming the step and its cause."""
        with temporary_directory(prefix="snakepacker-iid-") as tmp, \
                self._build_session() as session:
            iidfile = Path(tmp) / "iid"
            args = [self.client, "build", *self.build_output_flags, "--iidfile", str(iidfile),
                    *build_flags(secrets, build_args, no_cache, platform),
                    *dockerfile_label(context / "Dockerfile"), str(context)]
            tail: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
            with BuildChild(args, session.env, cancel=session.cancel) as child:
                for line in child.lines():
                    tail.append(line)
                    if progress and (verbose or self._is_step(line)):
                        progress(line if verbose else "    " + shorten(line))
                code = child.wait()
            if code != 0 or not iidfile.exists():
                failure = self._read_failure(list(tail))
                raise BuildError(buildlog.failure_message(label, failure, code))
            return iidfile.read_text().strip()

    # -- what each engine says differently ----------------------------------------

    build_output_flags: tuple[str, ...] = ()  # how the client is asked for its log

    @contextlib.contextmanager
    def _build_session(self) -> Iterator[BuildSession]:
        yield BuildSession(self.env)

    def _is_step(self, line: str) -> bool:
        """Whether LINE of the build log starts a step (shown without --verbose)."""
        raise NotImplementedError

    def _read_failure(self, tail: list[str]) -> buildlog.Failure:
        raise NotImplementedError

    def _normal_id(self, raw: str) -> str:
        return raw

    def _run_flags(self) -> list[str]:
        return []

    def _registry_flags(self, ref: str) -> list[str]:
        return []


def dockerfile_label(dockerfile: Path) -> list[str]:
    """The flags that label the image with its Dockerfile's digest (DOCKERFILE_LABEL)."""
    digest = hashlib.sha256(dockerfile.read_bytes()).hexdigest()
    return ["--label", f"{DOCKERFILE_LABEL}=sha256:{digest}"]


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

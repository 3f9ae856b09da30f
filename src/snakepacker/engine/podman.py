"""The podman engine: the podman command line, building with buildah's Dockerfile support.

Podman needs no daemon; it builds the family's Dockerfiles as they are (cache, secret
and bind-from-stage mounts work in buildah 1.28). Where it differs from docker:

* Build output is buildah's, not BuildKit's: ``[1/2] STEP 3/5: RUN ...`` headers, the
  step's output, and on failure a last ``Error: building at STEP ...`` line.
* A RUN step runs in an OCI runtime container that outlives an interrupted podman
  client. Each build gets a private TMPDIR, so its containers' bundles sit under it;
  stopping a build kills exactly those containers, and podman then fails the step,
  cleans its working container up and exits.
* ``podman run`` asks the runtime for podman's own default rlimits (1048576 open files
  and processes), above what a sandbox without CAP_SYS_RESOURCE may set; podman itself
  lowers its process limit to the kernel's pid_max. Every run states limits this
  process is allowed to give away.
* Short names (``snakepacker/python:base``) are stored under a ``localhost/`` prefix
  and found again by that name in FROM, inspect and run: no renaming is needed.
* A loopback registry speaks plain HTTP: pushes and pulls there skip TLS checks.
* A multi-platform list is ``podman manifest create/add/push`` (docker says
  ``manifest create/push`` with other flags); podman reads each entry's platform,
  variant included, from the member's image config in the registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from snakepacker.engine import buildlog
from snakepacker.engine.base import Timeouts
from snakepacker.engine.common import BuildSession, CliEngine
from snakepacker.engine.process import run_command
from snakepacker.errors import EngineError
from snakepacker.refs import check_members, is_loopback
from snakepacker.tempdirs import temporary_directory

_NOP = "/bin/sh -c #(nop) "
_SHELL = "/bin/sh -c "
PID_MAX = Path("/proc/sys/kernel/pid_max")


class PodmanEngine(CliEngine):
    name = "podman"

    def __init__(self, client: str, version: str, env: dict[str, str], timeouts: Timeouts,
                 runtime: str = "runc"):
        super().__init__(client, version, env, timeouts)
        self.runtime = runtime

    def check_daemon(self) -> None:
        proc = self._run(["info", "--format", "{{.Host.OCIRuntime.Path}}"], check=False)
        if proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()[-1:] or ["no answer"]
            raise EngineError(f"podman cannot reach its storage or runtime ({detail[0]})")
        self.runtime = proc.stdout.strip() or self.runtime

    def _normal_id(self, raw: str) -> str:
        return raw if ":" in raw or not raw else f"sha256:{raw}"

    def _run_flags(self) -> list[str]:
        return ulimit_flags()

    def _registry_flags(self, ref: str) -> list[str]:
        return ["--tls-verify=false"] if is_loopback(ref) else []

    def history(self, ref: str) -> list[tuple[int, str]]:
        out = self._run(["history", "--no-trunc", "--format", "json", ref]).stdout
        return [(int(row.get("size") or 0), dockerfile_words(row.get("CreatedBy") or ""))
                for row in json.loads(out or "[]")]

    def push(self, ref: str) -> str:
        with temporary_directory(prefix="snakepacker-push-") as tmp:
            digest_file = Path(tmp) / "digest"
            self._run(["push", "--quiet", *self._registry_flags(ref),
                       "--digestfile", str(digest_file), ref], timeout=self.timeouts.transfer)
            digest = digest_file.read_text().strip() if digest_file.exists() else ""
        if not digest:
            raise EngineError(f"`podman push {ref}` did not say which digest it pushed")
        return digest

    def make_list(self, list_ref: str, members: Sequence[str]) -> str:
        """Made under a private local name, then pushed to LIST_REF: podman keeps a list
        as a local image, and the user's own tag LIST_REF (if any) must stay theirs."""
        check_members(list_ref, members)
        tls = self._registry_flags(list_ref)
        local = f"localhost/snakepacker-list-{uuid.uuid4().hex[:12]}:latest"
        with temporary_directory(prefix="snakepacker-list-") as tmp:
            digest_file = Path(tmp) / "digest"
            self._run(["manifest", "create", local])
            try:
                for member in members:  # podman reads each entry's platform from its config
                    self._run(["manifest", "add", *tls, local, f"docker://{member}"],
                              timeout=self.timeouts.transfer)
                self._run(["manifest", "push", "--quiet", *tls, "--format", "v2s2",
                           "--digestfile", str(digest_file), local, f"docker://{list_ref}"],
                          timeout=self.timeouts.transfer)
            finally:
                self._run(["manifest", "rm", local], check=False)
            digest = digest_file.read_text().strip() if digest_file.exists() else ""
        if not digest:
            raise EngineError(f"`podman manifest push {list_ref}` did not say which digest "
                              "it pushed")
        return digest

    build_output_flags = ("--format", "docker")

    @contextlib.contextmanager
    def _build_session(self) -> Iterator[BuildSession]:
        """A private TMPDIR per build: the bundles of its RUN containers sit under it,
        so stopping the build kills exactly those."""
        with temporary_directory(prefix="snakepacker-podman-", dir=_big_tmp(self.env)) as tmp:
            yield BuildSession({**self.env, "TMPDIR": tmp},
                               cancel=lambda: self._kill_containers(tmp))

    def _is_step(self, line: str) -> bool:
        return buildlog.BUILDAH_STEP.match(line) is not None

    def _read_failure(self, tail: list[str]) -> buildlog.Failure:
        return buildlog.read_buildah(tail)

    def _kill_containers(self, private: str) -> None:
        """Kill and delete the runtime containers of the build whose TMPDIR is PRIVATE."""
        listing = run_command([self.runtime, "list", "--format", "json"], env=self.env,
                              timeout=self.timeouts.quick, what=f"`{self.runtime} list`",
                              check=False)
        with contextlib.suppress(ValueError):
            for container in json.loads(listing.stdout or "[]") or []:
                if str(container.get("bundle", "")).startswith(private + os.sep):
                    for verb in (["kill", container["id"], "KILL"],
                                 ["delete", "--force", container["id"]]):
                        run_command([self.runtime, *verb], env=self.env,
                                    timeout=self.timeouts.quick,
                                    what=f"`{self.runtime} {verb[0]}`", check=False)


def find_podman(env: Mapping[str, str] = os.environ) -> PodmanEngine:
    """The podman on PATH (or SNAKEPACKER_PODMAN), checked to reach its storage."""
    timeouts = Timeouts.from_env(env)
    client = env.get("SNAKEPACKER_PODMAN") or shutil.which("podman", path=env.get("PATH"))
    if not client:
        raise EngineError("no podman client found (install podman, or set SNAKEPACKER_PODMAN)")
    proc = run_command([client, "--version"], env=env, timeout=timeouts.quick,
                       what="`podman --version`", check=False)
    found = re.search(r"version ([0-9][^\s]*)", proc.stdout)
    if proc.returncode != 0 or not found:
        raise EngineError(f"{client} does not run")
    engine = PodmanEngine(client, found.group(1), dict(env), timeouts)
    engine.check_daemon()
    return engine


def ulimit_flags() -> list[str]:
    """``--ulimit`` flags for open files and processes that this process may hand on."""
    _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, procs = resource.getrlimit(resource.RLIMIT_NPROC)
    with contextlib.suppress(OSError, ValueError):
        pid_max = int(PID_MAX.read_text())
        procs = pid_max if procs == resource.RLIM_INFINITY else min(procs, pid_max)
    flags = []
    for name, limit in (("nofile", files), ("nproc", procs)):
        if limit != resource.RLIM_INFINITY:
            flags += ["--ulimit", f"{name}={limit}:{limit}"]
    return flags


def dockerfile_words(created_by: str) -> str:
    """buildah's history line in the words BuildKit uses: ``COPY ...``, ``RUN /bin/sh -c ...``."""
    if created_by.startswith(_NOP):
        return created_by[len(_NOP):].strip()
    if created_by.startswith(_SHELL):
        return "RUN " + created_by
    return created_by


def _big_tmp(env: Mapping[str, str]) -> str:
    """Where podman may keep a build's scratch files: TMPDIR, else /var/tmp (on disk)."""
    return env.get("TMPDIR") or "/var/tmp"

"""The docker engine: the docker command line, building with BuildKit.

snakepacker drives the engine through its CLI, as cibuildwheel does: no SDK, and the
user's own client configuration (contexts, credentials) applies. ``find_docker()``
picks a client that can build with BuildKit and checks that its daemon answers.

Stopping a build: the client holds the build session open; when the client is
interrupted (or dies) the daemon cancels the solve and its RUN processes within about a
second. So stopping the client is enough, and BuildChild does that on every way out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from snakepacker.cachedir import recall, record_path, remember
from snakepacker.engine import buildlog
from snakepacker.engine.base import Timeouts, last_line
from snakepacker.engine.common import CliEngine
from snakepacker.engine.process import run_command
from snakepacker.errors import EngineError
from snakepacker.refs import check_members, is_loopback

# Docker clients before 23.0 carry BuildKit built in (DOCKER_BUILDKIT=1); later ones
# hand `docker build` to the buildx plugin and fall back to the legacy builder without it.
_BUILTIN_BUILDKIT_BEFORE = 23
_STEP = re.compile(r"^#\d+ \[(?P<step>[^\]]+)\] (?P<what>.*)$")
_VERSION = re.compile(r"[0-9][^,\s]*")
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_DIGEST_ANYWHERE = re.compile(r"sha256:[0-9a-f]{64}")


class DockerEngine(CliEngine):
    name = "docker"

    def check_daemon(self) -> None:
        proc = self._run(["version", "--format", "{{.Server.Version}}"], check=False)
        if proc.returncode != 0:
            raise _daemon_down(proc.stderr)

    def history(self, ref: str) -> list[tuple[int, str]]:
        # The instruction is JSON-quoted: an ENV or RUN may hold newlines.
        out = self._run(["history", "--no-trunc", "--human=false",
                         "--format", "{{.Size}}\t{{json .CreatedBy}}", ref]).stdout
        rows = []
        for line in out.splitlines():
            size, _, created = line.partition("\t")
            rows.append((int(size or 0), json.loads(created or '""')))
        return rows

    def push(self, ref: str) -> str:
        out = self._run(["push", ref], timeout=self.timeouts.transfer,
                        what=f"pushing {ref}").stdout
        found = _DIGEST.findall(out)
        if not found:
            raise EngineError(f"`docker push {ref}` did not say which digest it pushed")
        return found[-1]

    def make_list(self, list_ref: str, members: Sequence[str]) -> str:
        """`docker manifest create` + `push`: members from another repository of the
        same registry are mounted into LIST_REF's by the client, which refuses members
        from another registry. On failure the registry's previous list stays."""
        check_members(list_ref, members)
        insecure = ["--insecure"] if is_loopback(list_ref) else []
        # The client keeps lists it is making under ~/.docker/manifests; start from none.
        self._run(["manifest", "rm", list_ref], check=False)
        try:
            self._run(["manifest", "create", *insecure, list_ref, *members],
                      timeout=self.timeouts.transfer, what=f"making the list {list_ref}")
            out = self._run(["manifest", "push", *insecure, "--purge", list_ref],
                            timeout=self.timeouts.transfer,
                            what=f"pushing the list {list_ref}").stdout
        finally:
            self._run(["manifest", "rm", list_ref], check=False)
        found = _DIGEST_ANYWHERE.findall(out)
        if not found:
            raise EngineError(f"pushing the list {list_ref}: no digest in the client's answer")
        return str(found[-1])

    build_output_flags = ("--progress=plain",)

    def _is_step(self, line: str) -> bool:
        return _STEP.match(line) is not None

    def _read_failure(self, tail: list[str]) -> buildlog.Failure:
        return buildlog.read(tail)


def find_docker(env: Mapping[str, str] = os.environ) -> DockerEngine:
    """The first docker client that can do BuildKit, with a daemon that answers.

    ``SNAKEPACKER_DOCKER`` names a client to use; otherwise every ``docker`` on PATH
    is tried, then /usr/bin/docker.
    """
    timeouts = Timeouts.from_env(env)
    forced = env.get("SNAKEPACKER_DOCKER")
    candidates = [forced] if forced else _candidates(env)
    if not candidates:
        raise EngineError(
            "no container engine: no docker client found "
            "(install docker.io, or set SNAKEPACKER_DOCKER)"
        )
    reasons: list[str] = []
    for client in candidates:
        memo = _unfit_memo(client, env)
        if memo is not None and (known := (recall(memo) or "").strip()):
            reasons.append(f"{client}: {known}")
            continue
        version, daemon_answered, stderr = _versions(client, env, timeouts)
        why = _buildkit_problem(client, version, env, timeouts)
        if why is None:
            if not daemon_answered:
                raise _daemon_down(stderr)
            return DockerEngine(client, version or "?", {**env, "DOCKER_BUILDKIT": "1"},
                                timeouts)
        if memo is not None and version is not None:
            remember(memo, why + "\n")
        reasons.append(f"{client}: {why}")
    raise EngineError("no docker client that can build with BuildKit: " + "; ".join(reasons))


# Where the docker client looks for its plugins, besides DOCKER_CONFIG's cli-plugins
# (and the folders config.json names).
_SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                       "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def _unfit_memo(client: str, env: Mapping[str, str]) -> Path | None:
    """Where it is remembered that CLIENT cannot build with BuildKit (a Docker 23 or
    later without the buildx plugin): every pack of the edit-rebuild loop would ask it
    again, two client runs, when such a client comes first on PATH. The key is the very
    program (path, size, time) and the state of every folder its plugins may be in, so
    an upgraded client or an installed plugin is asked anew. None: not a file."""
    config = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or "~").expanduser()
                  / ".docker")
    places = [os.path.realpath(client), str(config / "cli-plugins"),
              str(config / "config.json"), *_SYSTEM_PLUGIN_DIRS,
              *_extra_plugin_dirs(config / "config.json")]
    states: list[object] = []
    for place in places:
        try:
            found = os.stat(place)
        except OSError:
            states.append(None)
            continue
        states.append([found.st_ino, found.st_size, found.st_mtime_ns])
    if states[0] is None:
        return None
    return record_path("docker-clients", [places, states])


def _extra_plugin_dirs(config: Path) -> list[str]:
    """The plugin folders the client's config.json adds (cliPluginsExtraDirs)."""
    try:
        named = json.loads(recall(config) or "{}").get("cliPluginsExtraDirs") or []
    except (ValueError, AttributeError):
        return []
    return [str(d) for d in named if isinstance(d, str)] if isinstance(named, list) else []


def _daemon_down(stderr: str) -> EngineError:
    detail = last_line(stderr) or "no answer"
    return EngineError(
        f"the Docker daemon is not running or not reachable ({detail}); "
        "start it (`dockerd &` or `systemctl start docker`)"
    )


def _candidates(env: Mapping[str, str]) -> list[str]:
    found: list[str] = []
    for folder in env.get("PATH", "").split(os.pathsep):
        path = Path(folder) / "docker"
        if folder and path.is_file() and os.access(path, os.X_OK):
            found.append(str(path))
    if Path("/usr/bin/docker").exists():
        found.append("/usr/bin/docker")
    unique: list[str] = []
    for path in found:
        real = os.path.realpath(path)
        if real not in {os.path.realpath(p) for p in unique}:
            unique.append(path)
    return unique


def _versions(client: str, env: Mapping[str, str],
              timeouts: Timeouts) -> tuple[str | None, bool, str]:
    """The client's own version (None when CLIENT is no program that runs), whether
    its daemon answered, and what the client said on stderr: one `docker version`, as
    every pack of the edit-rebuild loop starts with this.

    The client asks the daemon for the whole answer: a hung daemon makes this call run
    out of time, and that EngineError is the one the user should see."""
    if shutil.which(client, path=env.get("PATH")) is None:
        return None, False, ""
    proc = run_command([client, "version", "--format",
                        "{{.Client.Version}} {{.Server.Version}}"],
                       env=env, timeout=timeouts.quick, what="`docker version`", check=False)
    words = proc.stdout.split()  # newer clients pad the template's blanks
    if not words or not _VERSION.fullmatch(words[0]):
        return None, False, proc.stderr
    return words[0], proc.returncode == 0 and len(words) > 1, proc.stderr


def _buildkit_problem(
    client: str, version: str | None, env: Mapping[str, str], timeouts: Timeouts
) -> str | None:
    """Why CLIENT cannot build with BuildKit, or None when it can."""
    if version is None:
        return "does not run"
    major = int(m.group()) if (m := re.match(r"\d+", version)) else 0
    if major < _BUILTIN_BUILDKIT_BEFORE:
        return None
    probe = run_command([client, "buildx", "version"], env=env, timeout=timeouts.quick,
                        what="`docker buildx version`", check=False)
    if probe.returncode == 0:
        return None
    return f"client {version} needs the buildx plugin for BuildKit, and it is missing"

"""pack's build context: the project's files, copied the way the engine would send them.

The project is untrusted input, and so are the names of its files. The walk copies
only regular files, links (as links: the engine sends a link, never what it points
to) and directories; a FIFO, socket or device is left out with a warning, not a
traceback or a hang. It leaves out version control data and caches anywhere, the
root's own build output and virtualenvs, and files whose names look like credentials
(compared without regard to case: ``ID_RSA``, ``server.KEY`` and ``.Env`` too) unless
``--include-secret`` names them. The project's ``.dockerignore`` applies while the
tree is walked, with Docker's own rules (its SDK's matcher: patterns, ``**``, ``!``
exceptions, the last match winning), so an ignored 20 GB ``data/`` is never read, let
alone copied. Every path left out is reported, grouped by why.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import importlib.util
import os
import shutil
import stat
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from snakepacker.errors import UsageError

# Left out wherever they are: version control data and caches, never program content.
_SKIP_ANYWHERE = frozenset({".git", ".hg", ".svn", "__pycache__", ".tox", ".nox",
                            ".pytest_cache", ".mypy_cache", ".ruff_cache"})
# Left out at the project's root only: its own build output, virtualenvs and editor
# settings. Deeper down, a `build/` or `dist/` is the project's code (a package named
# build, a bundled frontend) and is copied.
_SKIP_AT_ROOT = frozenset({".venv", "venv", "node_modules", ".idea", ".vscode", "build",
                           "dist", ".eggs"})
# Names that look like credentials, matched on a file's or directory's own name,
# lowercased: left out unless named with --include-secret.
SECRET_NAMES = (
    ".env", ".env.*", "*.env", ".envrc", ".netrc", "_netrc", ".pypirc", ".pgpass",
    "pip.conf", "pip.ini", ".npmrc", ".yarnrc", ".yarnrc.yml", ".git-credentials",
    ".dockercfg", ".htpasswd", ".boto", ".s3cfg", "kubeconfig", "credentials",
    "credentials.json", "*credentials*.json", "secrets.toml", "secrets.json", "secrets.yaml",
    "secrets.yml", "*.tfvars", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.pem",
    "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    ".ssh", ".aws", ".azure", ".docker", ".gnupg", ".kube", "gcloud",
)
DOCKERIGNORE = ".dockerignore"


class Matcher(Protocol):
    def matches(self, path: str) -> bool: ...


@dataclass
class Copied:
    """What went into the build context, and what did not, by why (relative paths)."""

    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # by snakepacker's own rules
    secrets: list[str] = field(default_factory=list)  # names that look like credentials
    ignored: list[str] = field(default_factory=list)  # by the project's .dockerignore
    special: list[str] = field(default_factory=list)  # FIFOs, sockets, devices


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in SECRET_NAMES)


def dockerignore_matcher(root: Path) -> Matcher | None:
    """The matcher of ROOT's .dockerignore (None without one): Docker's own, from its
    Python SDK, imported only when a project has the file."""
    path = root / DOCKERIGNORE
    if path.is_symlink() or not path.is_file():
        return None
    lines = path.read_text(errors="replace").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return _sdk_build_module().PatternMatcher(patterns)


@functools.cache
def _sdk_build_module() -> types.ModuleType:
    """docker.utils.build, the SDK's module with the matcher, without running the
    packages around it: `docker`'s own __init__ loads the whole API client (requests,
    urllib3), a tenth of a second that every pack of the edit-rebuild loop would pay
    for the matcher alone, which needs only the SDK's constants and fnmatch. The two
    packages stand in sys.modules as bare namespaces while the module loads; then every
    docker module this loaded is taken out again, so that a later `import docker` loads
    the real package whole."""
    if "docker.utils.build" in sys.modules:  # the SDK is imported already
        return sys.modules["docker.utils.build"]
    spec = importlib.util.find_spec("docker")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the docker SDK is not installed (pip install docker)")
    before = set(sys.modules)
    for package, folder in (("docker", ""), ("docker.utils", "utils")):
        module = types.ModuleType(package)
        module.__path__ = [os.path.join(place, folder) if folder else place
                           for place in spec.submodule_search_locations]
        sys.modules[package] = module
    try:
        return importlib.import_module("docker.utils.build")
    finally:
        for name in set(sys.modules) - before:
            if name == "docker" or name.startswith("docker."):
                del sys.modules[name]


def _may_hold_exceptions(matcher: Matcher, rel_dir: str) -> bool:
    """Whether an ignored directory must still be walked: an exception (``!dir/keep``)
    may name something inside it (one that starts with a wildcard may name anything)."""
    for pattern in getattr(matcher, "patterns", ()):
        if not pattern.exclusion:
            continue
        text = pattern.cleaned_pattern
        if text.startswith(rel_dir + "/") or text[:1] in "*?[":
            return True
    return False


def _entries(root: Path, matcher: Matcher | None, include: frozenset[str],
             copied: Copied) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry to copy, parents before children."""
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        with os.scandir(root / rel_dir) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            info = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(info.st_mode)
            why = _left_out(entry.name, rel, rel_dir == "", is_dir, Path(entry.path), include)
            if why is not None:
                getattr(copied, why).append(rel + ("/" if is_dir else ""))
                continue
            if matcher is not None and matcher.matches(rel):
                if is_dir and _may_hold_exceptions(matcher, rel):
                    pending.append(rel)  # walked, but made only for what it holds
                else:
                    copied.ignored.append(rel + ("/" if is_dir else ""))
                continue
            if not (is_dir or stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                copied.special.append(rel)
                continue
            yield rel, info
            if is_dir:
                pending.append(rel)


def _left_out(name: str, rel: str, at_root: bool, is_dir: bool, path: Path,
              include: frozenset[str]) -> str | None:
    """Which of snakepacker's own rules leaves REL out: "skipped", "secrets" or None."""
    if is_dir and (name in _SKIP_ANYWHERE or name.endswith(".egg-info") or (at_root and (
            name in _SKIP_AT_ROOT or (path / "pyvenv.cfg").is_file()))):
        return "skipped"
    if not is_dir and name.endswith((".pyc", ".pyo")):
        return "skipped"
    if is_secret(name) and rel not in include:
        return "secrets"
    return None


def copy_project(root: Path, folder: Path, include: tuple[str, ...] = ()) -> Copied:
    """ROOT's files into FOLDER, as described above; INCLUDE names credentials to copy."""
    matcher = dockerignore_matcher(root)
    copied = Copied()
    folder.mkdir(parents=True, exist_ok=True)
    for rel, info in _entries(root, matcher, frozenset(include), copied):
        source, target = root / rel, folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISDIR(info.st_mode):
            target.mkdir(exist_ok=True)
            continue
        if stat.S_ISLNK(info.st_mode):
            target.symlink_to(os.readlink(source))
        else:
            _copy_file(source, target, info)
            copied.bytes += info.st_size
        copied.files += 1
    return copied


def _copy_file(source: Path, target: Path, info: os.stat_result) -> None:
    """A regular file's bytes and its permission bits (no setuid, setgid or sticky:
    the engine keeps the bits it is sent)."""
    with open(source, "rb") as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
    os.chmod(target, stat.S_IMODE(info.st_mode) & 0o777)
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))


def write_pack_context(root: Path | None, dockerfile: str, folder: Path,
                       include: tuple[str, ...] = ()) -> Copied:
    """The build context: the project's files (see copy_project) and the Dockerfile;
    the engine is told to leave the Dockerfile and the ignore file out of COPY."""
    copied = copy_project(root, folder, include) if root is not None else Copied()
    ignore = folder / DOCKERIGNORE
    existing = ignore.read_text() if ignore.is_file() else ""
    ignore.write_text(existing.rstrip("\n") + ("\n" if existing else "")
                      + "Dockerfile\n.dockerignore\n")
    (folder / "Dockerfile").write_text(dockerfile)
    return copied


def printable(path: str) -> str:
    """PATH with control characters and other unprintable ones escaped, for one line."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _listed(paths: list[str], limit: int = 6) -> str:
    shown = ", ".join(printable(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def describe_copy(copied: Copied, warn: Callable[[str], None] | None = None) -> str:
    """One line: how much was copied and what was left out, by why. Special files are
    also each a warning (WARN), since the project may need them."""
    text = f"context: {copied.files} files, {copied.bytes / 1e6:.1f} MB"
    if copied.skipped:
        text += f"; left out: {_listed(copied.skipped)}"
    if copied.ignored:
        text += f"; left out by its .dockerignore: {_listed(copied.ignored)}"
    if copied.secrets:
        text += (f"; left out as credentials: {_listed(copied.secrets, 20)} "
                 "(--include-secret PATH copies one)")
    if copied.special:
        text += f"; left out as not files: {_listed(copied.special)}"
        if warn is not None:
            for path in copied.special:
                warn(f"warning: {printable(path)} is a FIFO, socket or device: not copied")
    return text


def check_includes(root: Path | None, include: tuple[str, ...]) -> tuple[str, ...]:
    """--include-secret paths, each a plain relative path inside the project."""
    for rel in include:
        parts = Path(rel).parts
        if root is None or Path(rel).is_absolute() or ".." in parts or not parts:
            raise UsageError(f"--include-secret {rel!r}: not a path inside the project")
    return tuple(Path(rel).as_posix() for rel in include)

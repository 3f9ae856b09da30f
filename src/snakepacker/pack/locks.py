"""Lock files read on the host: poetry.lock, pdm.lock, Pipfile.lock and pylock.toml.

pack installs what a lock pins, and nothing else: each lock is read here into the
packages the project needs to run (poetry's main group, pdm's default group, Pipfile's
default section, a pylock.toml's packages) for the extras asked for, each with the
hashes the lock recorded. The build then installs that list with every hash checked
(``--require-hashes``). uv.lock is not read here: uv's own exporter runs in the build.

Extras are resolved here, not left to the installer: a requirements list cannot ask
for an extra of the project, so an ``extra == "name"`` (or PEP 751's ``"name" in
extras``) in a lock's marker is turned into true or false. What is left of a marker
(the Python version, the platform) is kept for the installer; a package whose marker
is false for the Python and platform the image is packed for is left out on the host,
so a lock that does not pin a package for other Pythons still installs exactly.

Reading the files rather than running each tool's exporter keeps three package
managers out of the build image and untrusted input away from tools that run on the
host; tests/ checks these readers against lock files the real tools wrote.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from snakepacker.errors import UsageError
from snakepacker.pack import wheels
from snakepacker.pack.files import project_file, read_project_file

LOCK_FILES = ("poetry.lock", "pdm.lock", "Pipfile.lock", "pylock.toml")
_HASH = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Locked:
    """One package a lock pins for the project."""

    name: str  # as the lock spells it
    version: str | None  # None for a direct reference (git, URL) that pins a commit or file
    marker: str | None  # when it is needed, extras resolved; None: always
    url: str | None = None  # a direct reference, when not from an index
    files: tuple[tuple[str, str], ...] = ()  # (file name, "sha256:<hex>"): wheels, sdist
    hashes: tuple[str, ...] = ()  # hashes the lock gives without file names (Pipfile)

    @property
    def all_hashes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(h for _, h in self.files), *self.hashes]))

    def line(self) -> str:
        """The requirements-file line that installs exactly this, hashes checked."""
        text = f"{self.name} @ {self.url}" if self.url else self.name
        if self.url is None and self.version is not None:
            text += f"=={self.version}"
        if self.marker:
            text += f" ; {self.marker}"
        return " ".join([text, *(f"--hash={h}" for h in self.all_hashes)])


@dataclass(frozen=True)
class Lock:
    source: str  # the lock file's name
    packages: tuple[Locked, ...]
    local: tuple[str, ...] = ()  # path sources left out: the project itself, local code


# -- markers ----------------------------------------------------------------------------


_STRING = r"""(?:"([^"]*)"|'([^']*)')"""
_EXTRA_FIRST = re.compile(r"\bextra\s*(==|!=)\s*" + _STRING)
_EXTRA_LAST = re.compile(_STRING + r"\s*(==|!=)\s*extra\b")
_MEMBER = re.compile(_STRING + r"\s+(not\s+)?in\s+(extras|dependency_groups)\b")
# Markers always true and always false, for any installer: literals cannot be compared.
_TRUE, _FALSE = 'python_version >= "0"', 'python_version < "0"'


def resolve_extras(marker: str | None, extras: Iterable[str],
                   groups: Iterable[str] = ()) -> str | None:
    """MARKER with its ``extra == "x"`` (and PEP 751 ``"x" in extras`` / ``"g" in
    dependency_groups``) clauses turned into literals that are true for EXTRAS and
    GROUPS; None when there is no marker. Checked to parse after."""
    if not marker:
        return None
    wanted = {canonicalize_name(e) for e in extras}
    member_of = {"extras": wanted, "dependency_groups": {canonicalize_name(g) for g in groups}}

    def literal(truth: bool) -> str:
        return _TRUE if truth else _FALSE

    def first(match: re.Match[str]) -> str:
        named = canonicalize_name(match[2] or match[3] or "") in wanted
        return literal(named == (match[1] == "=="))

    def last(match: re.Match[str]) -> str:
        named = canonicalize_name(match[1] or match[2] or "") in wanted
        return literal(named == (match[3] == "=="))

    def member(match: re.Match[str]) -> str:
        named = canonicalize_name(match[1] or match[2] or "") in member_of[match[4]]
        return literal(named != bool(match[3]))

    text = _MEMBER.sub(member, _EXTRA_LAST.sub(last, _EXTRA_FIRST.sub(first, marker)))
    try:
        Marker(text)
    except InvalidMarker as exc:
        raise UsageError(f"a lock's marker {marker!r} cannot be read ({exc})") from None
    return text


def target_environments(minor: str, machine: str) -> tuple[dict[str, str], ...]:
    """The marker environment of CPython MINOR on Linux/MACHINE, at its first patch
    release and at a late one: a marker on the full version may tell them apart."""
    version = minor.rstrip("t")
    base = {"implementation_name": "cpython", "platform_python_implementation": "CPython",
            "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": machine, "python_version": version,
            "platform_release": "", "platform_version": ""}
    return tuple({**base, "python_full_version": f"{version}.{patch}",
                  "implementation_version": f"{version}.{patch}"} for patch in (0, 99))


def for_target(lock: Lock, environments: Iterable[Mapping[str, str]],
               tags: frozenset[Tag] | None = None) -> tuple[Locked, ...]:
    """The packages of LOCK whose marker can be true in one of ENVIRONMENTS, each with
    only the files the install can take where TAGS apply (its sdist, its wheels for the
    target); UsageError for one that is needed there but pinned to no version, or that
    has no file for the target."""
    environments = list(environments)
    chosen = []
    for package in lock.packages:
        if package.marker and not any(Marker(package.marker).evaluate(dict(env))
                                      for env in environments):
            continue
        if package.version is None and package.url is None:
            raise UsageError(f"{lock.source} pins no version of {package.name} for this "
                             "Python: lock it for the Python the image runs")
        if tags is not None and package.files:
            names = wheels.usable([name for name, _ in package.files], tags)
            if not names:
                raise UsageError(f"{lock.source} has no file of {package.name} "
                                 f"{package.version} that installs here (no sdist, no wheel "
                                 "for this Python and platform)")
            package = replace(package, files=tuple(f for f in package.files if f[0] in names))
        chosen.append(package)
    return tuple(chosen)


def requirements_text(packages: Iterable[Locked]) -> str:
    return "".join(package.line() + "\n" for package in packages)


# -- poetry.lock --------------------------------------------------------------------------


def _files_of(files: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """(file name, hash) of a poetry or pdm file list, sha256 hashes only."""
    return tuple((str(item.get("file") or item.get("url", "")).rsplit("/")[-1],
                  str(item["hash"]))
                 for item in files if _HASH.fullmatch(str(item.get("hash", ""))))


def _poetry_source(package: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(a direct reference URL or None, whether it is a local path)."""
    source = package.get("source") or {}
    kind = source.get("type")
    if kind in ("directory", "file"):
        return None, True
    if kind == "git":
        commit = source.get("resolved_reference") or source.get("reference") or ""
        return f"git+{source['url']}@{commit}" if commit else f"git+{source['url']}", False
    if kind == "url":
        return str(source["url"]), False
    return None, False


def _poetry_marker(package: Mapping[str, Any]) -> str | None:
    marker = package.get("markers")
    if isinstance(marker, dict):  # one per group
        marker = marker.get("main")
    return str(marker) if marker else None


def poetry_lock(data: Mapping[str, Any], pyproject: Mapping[str, Any],
                extras: tuple[str, ...]) -> Lock:
    """poetry.lock: the main group's packages. Lock format 2.1 (poetry 2) records each
    package's groups and marker; an older lock is walked from the project's own list."""
    version = str(data.get("metadata", {}).get("lock-version", "1.0"))
    packages = data.get("package", [])
    if Version(version) < Version("2.1"):
        packages = _poetry_walk(packages, pyproject, extras)
    chosen: list[Locked] = []
    local: list[str] = []
    for package in packages:
        groups = package.get("groups", ["main"])
        if "main" not in groups:
            continue
        url, is_local = _poetry_source(package)
        if is_local:
            local.append(str(package["name"]))
            continue
        marker = resolve_extras(_poetry_marker(package), extras)
        chosen.append(Locked(str(package["name"]), None if url else str(package["version"]),
                             marker, url, () if url else _files_of(package.get("files", []))))
    return Lock("poetry.lock", tuple(chosen), tuple(local))


def _poetry_edges(spec: Any) -> list[dict[str, Any]]:
    """The constraints a poetry dependency spec holds, each a table."""
    specs = spec if isinstance(spec, list) else [spec]
    return [item if isinstance(item, dict) else {"version": item} for item in specs]


def _poetry_roots(pyproject: Mapping[str, Any], extras: tuple[str, ...]) -> dict[str, set[str]]:
    """The project's own dependencies: name -> the extras asked of it."""
    roots: dict[str, set[str]] = {}
    project = pyproject.get("project", {})
    texts = list(project.get("dependencies", []))
    for extra in extras:
        texts += project.get("optional-dependencies", {}).get(extra, [])
    for text in texts:
        requirement = _requirement(text)
        roots.setdefault(canonicalize_name(requirement.name), set()).update(requirement.extras)
    poetry = pyproject.get("tool", {}).get("poetry", {})
    wanted = {canonicalize_name(n) for e in extras for n in poetry.get("extras", {}).get(e, [])}
    for name, spec in poetry.get("dependencies", {}).items():
        if name.lower() == "python":
            continue
        for edge in _poetry_edges(spec):
            if not edge.get("optional") or canonicalize_name(name) in wanted:
                roots.setdefault(canonicalize_name(name), set()).update(edge.get("extras", []))
    return roots


def _poetry_walk(packages: list[Mapping[str, Any]], pyproject: Mapping[str, Any],
                 extras: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The packages reached from the project's dependencies, an optional dependency
    only where an extra asked of its package names it; each with the union of the
    markers on the edges that reach it."""
    by_name = {canonicalize_name(p["name"]): p for p in packages}
    asked = _poetry_roots(pyproject, extras)
    markers: dict[str, set[str | None]] = {name: {None} for name in asked}
    todo = list(asked)
    done: dict[str, set[str]] = {}
    while todo:
        name = todo.pop()
        package = by_name.get(name)
        if package is None or done.get(name) == asked[name]:
            continue
        done[name] = set(asked[name])
        optional_ok = {canonicalize_name(_requirement(t).name)
                       for e in asked[name] for t in package.get("extras", {}).get(e, [])}
        for dep, spec in package.get("dependencies", {}).items():
            key = canonicalize_name(dep)
            for edge in _poetry_edges(spec):
                if edge.get("optional") and key not in optional_ok:
                    continue
                marker = resolve_extras(edge.get("markers"), asked[name])
                markers.setdefault(key, set()).add(marker)
                if not asked.get(key, set()) >= set(edge.get("extras", [])) or key not in asked:
                    asked.setdefault(key, set()).update(edge.get("extras", []))
                todo.append(key)
    walked = []
    for name in done:
        found = markers.get(name, {None})
        marker = None if None in found else " or ".join(f"({m})" for m in sorted(found) if m)
        walked.append({**by_name[name], "groups": ["main"], "markers": marker})
    return walked


# -- pdm.lock ------------------------------------------------------------------------------


def pdm_lock(data: Mapping[str, Any], extras: tuple[str, ...]) -> Lock:
    """pdm.lock: the packages of the default group and of the extras asked for (pdm
    locks an optional-dependencies table as a group of that name)."""
    groups = {"default", *(canonicalize_name(e) for e in extras)}
    chosen: list[Locked] = []
    local: list[str] = []
    for package in data.get("package", []):
        if package.get("extras"):
            continue  # the same distribution again, standing for its extras
        if not groups & {canonicalize_name(g) for g in package.get("groups", ["default"])}:
            continue
        if "path" in package or "editable" in package:
            local.append(str(package["name"]))
            continue
        url = None
        if "git" in package:
            url = f"git+{package['git']}@{package.get('revision') or package.get('ref', '')}"
        elif "url" in package:
            url = str(package["url"])
        marker = resolve_extras(package.get("marker"), extras)
        chosen.append(Locked(str(package["name"]), None if url else str(package["version"]),
                             marker, url, () if url else _files_of(package.get("files", []))))
    return Lock("pdm.lock", tuple(chosen), tuple(local))


# -- Pipfile.lock -----------------------------------------------------------------------------


def pipfile_lock(data: Mapping[str, Any]) -> Lock:
    """Pipfile.lock: its default section (develop is left out)."""
    chosen: list[Locked] = []
    local: list[str] = []
    for name, entry in sorted(data.get("default", {}).items()):
        if "path" in entry or "file" in entry:
            local.append(name)
            continue
        marker = entry.get("markers") or None
        if "git" in entry:
            ref = entry.get("ref", "")
            chosen.append(Locked(name, None, marker, f"git+{entry['git']}@{ref}"))
            continue
        version = str(entry.get("version", ""))
        hashes = tuple(h for h in entry.get("hashes", []) if _HASH.fullmatch(h))
        pinned = version[2:] if version.startswith("==") else None
        chosen.append(Locked(name, pinned, marker, hashes=hashes))
    return Lock("Pipfile.lock", tuple(chosen), tuple(local))


# -- pylock.toml (PEP 751) ----------------------------------------------------------------


def _pylock_files(package: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
    found = []
    for item in files:
        digest = (item.get("hashes") or {}).get("sha256")
        name = item.get("name") or str(item.get("url") or item.get("path") or "").rsplit("/")[-1]
        if digest and re.fullmatch(r"[0-9a-f]{64}", digest) and name:
            found.append((name, f"sha256:{digest}"))
    return tuple(found)


def pylock(data: Mapping[str, Any], extras: tuple[str, ...]) -> Lock:
    """pylock.toml: every package, markers on extras and groups resolved for EXTRAS and
    the lock's default groups."""
    groups = data.get("default-groups", [])
    chosen: list[Locked] = []
    local: list[str] = []
    for package in data.get("packages", []):
        name = str(package["name"])
        if "directory" in package or ("archive" in package and "path" in package["archive"]):
            local.append(name)
            continue
        marker = resolve_extras(package.get("marker"), extras, groups)
        url = None
        if "vcs" in package:
            vcs = package["vcs"]
            url = f"{vcs.get('type', 'git')}+{vcs['url']}@{vcs.get('commit-id', '')}"
        version = package.get("version")
        chosen.append(Locked(name, None if url else (str(version) if version else None),
                             marker, url, () if url else _pylock_files(package)))
    return Lock("pylock.toml", tuple(chosen), tuple(local))


# -- reading ------------------------------------------------------------------------------


def uv_lock_files(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, version, file names) of every package uv.lock pins: the wheels and sdist
    it lists (its install is uv's own export; this only tells which Pythons it suits)."""
    found = []
    for package in tomllib.loads(text).get("package", []):
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        names = tuple(str(f.get("url") or f.get("path") or "").rsplit("/")[-1] for f in files)
        found.append((str(package["name"]), str(package.get("version", "")), names))
    return found


def lock_files(lock: Lock) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, version, file names) of LOCK's packages."""
    return [(p.name, p.version or "", tuple(name for name, _ in p.files)) for p in lock.packages]


def _requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"{text!r} is not a requirement ({exc})") from None


def find_lock(root: Path) -> str | None:
    return next((name for name in LOCK_FILES if project_file(root, name) is not None), None)


def read_lock(root: Path, name: str, pyproject: Mapping[str, Any],
              extras: tuple[str, ...]) -> Lock:
    """Lock file NAME of the project in ROOT, for EXTRAS; UsageError when unreadable."""
    text = read_project_file(root, name) or ""
    try:
        if name == "Pipfile.lock":
            return _checked(pipfile_lock(json.loads(text)))
        data = tomllib.loads(text)
        if name == "pdm.lock":
            return _checked(pdm_lock(data, extras))
        if name == "pylock.toml":
            return _checked(pylock(data, extras))
        return _checked(poetry_lock(data, pyproject, extras))
    except (ValueError, tomllib.TOMLDecodeError, KeyError, TypeError, InvalidVersion) as exc:
        raise UsageError(f"{root / name}: cannot read it ({exc})") from None


def _checked(lock: Lock) -> Lock:
    """Every name, version and URL of LOCK as a requirement line can hold it."""
    for package in lock.packages:
        requirement = _requirement(package.line().split(" --hash=")[0])
        if package.version is not None and "\n" in package.version + (package.url or ""):
            raise UsageError(f"{lock.source}: {requirement.name} has an unreadable version")
        if package.version is not None:
            Version(package.version)
    return lock

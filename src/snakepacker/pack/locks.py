"""The pinned versions of poetry.lock, pdm.lock and Pipfile.lock, read on the host.

pack installs what these locks pin, and nothing newer: each is read here into
requirement lines (``name==version``, with the environment marker under which the
lock wants the package), which the build stage installs in the dependency layer. Only
what the project needs to run is taken: poetry's main dependencies (the dependency
graph is walked from the project's own list, so development groups stay out), pdm's
``default`` group, Pipfile's ``default`` section. The project itself, where a lock
lists it (a path entry), is left out: it is installed from its source.

Reading the files rather than running each tool's exporter keeps the build stage free
of three package managers; the formats are TOML and JSON, and stable.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from snakepacker.errors import UsageError
from snakepacker.pack.files import project_file, read_project_file

LOCK_FILES = ("poetry.lock", "pdm.lock", "Pipfile.lock")


def _norm(name: str) -> str:
    return canonicalize_name(name)


def _line(name: str, version: str, markers: Iterable[str | None]) -> str:
    """NAME==VERSION, under the union of MARKERS (None: always)."""
    marks = list(dict.fromkeys(markers))
    if None in marks or not marks:
        return f"{name}=={version}"
    joined = " or ".join(f"({m})" for m in marks if m)
    return f"{name}=={version} ; {joined}"


def _requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"pyproject.toml: {text!r} is not a requirement ({exc})") from None


# -- poetry -------------------------------------------------------------------------


def _poetry_edges(spec: Any) -> list[tuple[str | None, bool]]:
    """(marker, optional) of each constraint a poetry dependency spec holds."""
    specs = spec if isinstance(spec, list) else [spec]
    out = []
    for item in specs:
        if isinstance(item, dict):
            out.append((item.get("markers"), bool(item.get("optional", False))))
        else:
            out.append((None, False))
    return out


def _poetry_roots(pyproject: dict[str, Any], extras: tuple[str, ...]) -> dict[str, list]:
    """The project's main dependencies: name -> markers."""
    roots: dict[str, list[str | None]] = {}
    project = pyproject.get("project", {})
    for text in project.get("dependencies", []):
        requirement = _requirement(text)
        roots.setdefault(_norm(requirement.name), []).append(
            str(requirement.marker) if requirement.marker else None)
    for extra in extras:
        for text in project.get("optional-dependencies", {}).get(extra, []):
            roots.setdefault(_norm(_requirement(text).name), []).append(None)
    poetry = pyproject.get("tool", {}).get("poetry", {})
    wanted_optional = {_norm(n) for e in extras for n in poetry.get("extras", {}).get(e, [])}
    for name, spec in poetry.get("dependencies", {}).items():
        if name.lower() == "python":
            continue
        for marker, optional in _poetry_edges(spec):
            if not optional or _norm(name) in wanted_optional:
                roots.setdefault(_norm(name), []).append(marker)
    return roots


def poetry_requirements(pyproject: dict[str, Any], lock: dict[str, Any],
                        extras: tuple[str, ...] = ()) -> list[str]:
    packages: dict[str, dict[str, Any]] = {}
    for package in lock.get("package", []):
        packages.setdefault(_norm(package["name"]), package)
    markers = _poetry_roots(pyproject, extras)
    todo = list(markers)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in packages:
            continue
        seen.add(name)
        for dep, spec in packages[name].get("dependencies", {}).items():
            for marker, optional in _poetry_edges(spec):
                if optional:
                    continue
                markers.setdefault(_norm(dep), []).append(marker)
                todo.append(_norm(dep))
    lines = []
    for name in sorted(seen):
        package = packages[name]
        if package.get("source", {}).get("type") in ("directory", "file"):
            continue  # a path dependency: not on any index
        lines.append(_line(package["name"], package["version"], markers[name]))
    return lines


# -- pdm ----------------------------------------------------------------------------


def pdm_requirements(lock: dict[str, Any]) -> list[str]:
    lines = []
    for package in lock.get("package", []):
        groups = package.get("groups", ["default"])
        if "default" not in groups or "path" in package or "editable" in package:
            continue
        lines.append(_line(package["name"], package["version"], [package.get("marker")]))
    return sorted(lines, key=str.lower)


# -- Pipfile.lock -------------------------------------------------------------------


def pipfile_requirements(lock: dict[str, Any]) -> list[str]:
    lines = []
    for name, entry in sorted(lock.get("default", {}).items()):
        if "path" in entry or "file" in entry:
            continue
        marker = entry.get("markers")
        if "git" in entry:
            ref = f"@{entry['ref']}" if entry.get("ref") else ""
            line = f"{name} @ git+{entry['git']}{ref}"
            lines.append(line + (f" ; {marker}" if marker else ""))
            continue
        version = entry.get("version", "")
        if not version.startswith("=="):
            raise UsageError(f"Pipfile.lock: {name} is not pinned ({version or 'no version'})")
        lines.append(_line(name, version[2:], [marker]))
    return lines


# -- the entry point -----------------------------------------------------------------


def find_lock(root: Path) -> str | None:
    return next((name for name in LOCK_FILES if project_file(root, name) is not None), None)


def read_lock(root: Path, name: str, pyproject: dict[str, Any],
              extras: tuple[str, ...]) -> tuple[str, ...]:
    """The requirement lines lock file NAME in ROOT pins; UsageError when unreadable."""
    path = root / name
    text = read_project_file(root, name) or ""
    try:
        if name == "Pipfile.lock":
            return tuple(pipfile_requirements(json.loads(text)))
        data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    if name == "pdm.lock":
        return tuple(pdm_requirements(data))
    return tuple(poetry_requirements(pyproject, data, extras))

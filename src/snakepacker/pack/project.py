"""What `pack` learns about its SOURCE before anything is built.

SOURCE is a project directory (pyproject.toml, setup.cfg/setup.py or a bare
requirements file) or a requirement string. Everything here is read statically on the
host: no build backend runs. What cannot be known that way (dynamic dependencies, the
console scripts of a requirement) is left as None and found in the build stage.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import enum
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from snakepacker.cachedir import cache_dir
from snakepacker.errors import UsageError
from snakepacker.pack import locks
from snakepacker.pack.files import project_file, read_project_file

# The URL schemes a `name @ URL` requirement string may use.
_DIRECT_SCHEMES = ("http", "https", "file")
REQUIREMENTS_FILES = ("requirements.txt", "requirements.lock")
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")


class SourceKind(enum.StrEnum):
    PYPROJECT = "pyproject"  # a pyproject.toml with a [project] table (or poetry's)
    SETUPTOOLS = "setuptools"  # setup.cfg and/or setup.py, no [project] table
    REQUIREMENTS = "requirements"  # only a requirements file and code: nothing to install
    REQUIREMENT = "requirement"  # a requirement string, no directory

    @property
    def installs(self) -> bool:
        """Whether the directory is itself a distribution, built and installed."""
        return self in (SourceKind.PYPROJECT, SourceKind.SETUPTOOLS)


def parse_requirement(text: str) -> Requirement | None:
    """TEXT as a PEP 508 requirement, or None when it is not one."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def requirement_name(requirement: str) -> str | None:
    parsed = parse_requirement(requirement)
    return canonicalize_name(parsed.name) if parsed else None


def _is_direct(requirement: Requirement) -> bool:
    """A `name @ URL` requirement whose URL names a scheme the installers fetch."""
    if not requirement.url:
        return False
    scheme = urlsplit(requirement.url).scheme
    return scheme in _DIRECT_SCHEMES or scheme.startswith("git+")


@dataclass(frozen=True)
class Project:
    kind: SourceKind
    root: Path | None  # the project directory; None for a requirement string
    requirement: str | None = None  # the requirement string
    name: str | None = None  # normalized distribution name, when known
    version: str | None = None
    requires_python: str | None = None
    # Dependencies known statically: installed in their own layer before the code.
    dependencies: tuple[str, ...] = ()
    # True when `dependencies` (or the lock) is everything the project needs, so the
    # project itself installs with --no-deps.
    complete: bool = False
    lock: str | None = None  # "uv.lock", or a pinned requirements file (relative path)
    scripts: tuple[str, ...] | None = None  # console scripts; None when unknown
    source_url: str | None = None
    tool: dict[str, Any] = field(default_factory=dict)  # [tool.snakepacker]
    python_version: str | None = None  # the minor .python-version names (pyenv, uv)
    # poetry.lock, pdm.lock, Pipfile.lock or pylock.toml, read here for the extras asked
    locked: locks.Lock | None = None
    # Every file a lock (uv.lock included) lists, by package: (name, version, file
    # names). Which Python the image gets may depend on the wheels among them.
    lock_files: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # What its build backend needs ([build-system] requires; setuptools without one):
    # the build stage installs it once, so a code change builds the wheel without
    # setting up a fresh isolated environment.
    build_requires: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the user named it: the requirement, or the directory's name."""
        if self.requirement is not None:
            return self.requirement
        assert self.root is not None
        return self.root.name

    @property
    def image_name(self) -> str:
        """A default image name: the distribution's name, else the directory's."""
        base = self.name or (requirement_name(self.requirement) if self.requirement else None)
        base = base or (self.root.name if self.root else "app")
        return re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._") or "app"


def looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or "/" in source or source.endswith(
        (".toml", ".py", ".cfg", ".txt")
    )


def inspect_source(
    source: str, extras: tuple[str, ...] = (), requirements: str | None = None
) -> Project:
    """Read SOURCE; UsageError when it is neither an existing project nor a requirement.
    REQUIREMENTS names the requirements file to install, over [tool.snakepacker]'s."""
    if not source.strip():
        raise UsageError("SOURCE is empty: name a project directory or a requirement")
    parsed = parse_requirement(source.strip())
    if parsed is not None and _is_direct(parsed):  # a requirement, though it has slashes
        return Project(SourceKind.REQUIREMENT, None, requirement=source.strip(),
                       name=canonicalize_name(parsed.name))
    path = Path(source).expanduser()
    if path.is_file() and path.name in ("pyproject.toml", "setup.py", "setup.cfg"):
        path = path.parent
    if path.is_file() and path.suffix == ".txt":
        return _requirements_project(path.parent, path.name)
    if path.is_dir():
        return inspect_directory(path.resolve(), extras, requirements)
    if looks_like_path(source) or path.exists():
        raise UsageError(f"SOURCE {source!r}: no such project directory")
    if parsed is None or parsed.url:
        raise UsageError(
            f"SOURCE {source!r} is neither a project directory nor a requirement string"
        )
    return Project(
        SourceKind.REQUIREMENT, None, requirement=source.strip(),
        name=canonicalize_name(parsed.name),
    )


def inspect_directory(
    root: Path, extras: tuple[str, ...] = (), requirements: str | None = None
) -> Project:
    project = _inspect_directory(root, extras, requirements)
    pinned = python_version_file(root)
    if pinned:
        project = dataclasses.replace(project, python_version=pinned)
    lock = locks.find_lock(root) if project.lock is None else None
    if lock:
        # What the lock pins is what is installed.
        text = read_project_file(root, "pyproject.toml")
        data = tomllib.loads(text) if text is not None else {}
        locked = locks.read_lock(root, lock, data, extras)
        project = dataclasses.replace(project, dependencies=(), complete=True, locked=locked,
                                      lock_files=tuple(locks.lock_files(locked)))
    elif project.lock == "uv.lock":
        text = read_project_file(root, "uv.lock") or ""
        try:
            files = locks.uv_lock_files(text)
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise UsageError(f"{root / 'uv.lock'}: cannot read it ({exc})") from None
        project = dataclasses.replace(project, lock_files=tuple(files))
    return project


def python_version_file(root: Path) -> str | None:
    """The CPython minor a .python-version file names (pyenv's and uv's: "3.12",
    "3.12.3", "cpython-3.12.3-linux-x86_64-gnu"; "3.13t" or "cpython-3.13.5+freethreaded"
    for a free-threaded build); its first line that names one wins."""
    path = root / ".python-version"
    text = read_project_file(root, ".python-version")
    if text is None:
        return None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^(?:cpython-|python|py)?(3)\.(\d+)(t?)(?:[.\-+_a-z0-9]*)$", line)
        if match:
            free = match[3] or ("t" if "freethreaded" in line else "")
            return f"{match[1]}.{match[2]}{free}"
        if line:
            raise UsageError(f"{path}: cannot read a CPython version from {line!r}")
    return None


def _inspect_directory(
    root: Path, extras: tuple[str, ...], requirements: str | None
) -> Project:
    pyproject = root / "pyproject.toml"
    data: dict[str, Any] = {}
    text = read_project_file(root, "pyproject.toml")
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{pyproject}: not valid TOML ({exc})") from None
    tool = data.get("tool", {}).get("snakepacker", {})
    if not isinstance(tool, dict):
        raise UsageError(f"{pyproject}: [tool.snakepacker] must be a table")
    lock = _lock_file(root, requirements or tool.get("requirements"))
    project = _project_of(root, pyproject, data, tool, lock, extras)
    if project.kind.installs:
        project = dataclasses.replace(project, build_requires=_build_requires(pyproject, data))
    return project


def _build_requires(pyproject: Path, data: dict[str, Any]) -> tuple[str, ...]:
    """[build-system] requires; PEP 517's fallback, setuptools (and wheel, which its
    older releases build wheels with), when the project declares no build system."""
    system = data.get("build-system", {})
    requires = system.get("requires") if isinstance(system, dict) else ()
    if requires is None:
        return LEGACY_BUILD_REQUIRES
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise UsageError(f"{pyproject}: [build-system] requires must be a list of strings")
    for requirement in requires:
        if parse_requirement(requirement) is None:
            raise UsageError(f"{pyproject}: [build-system] requires: {requirement!r} is not "
                             "a requirement")
    return tuple(requires)


def _project_of(
    root: Path, pyproject: Path, data: dict[str, Any], tool: dict[str, Any],
    lock: str | None, extras: tuple[str, ...],
) -> Project:
    if "project" in data:
        _validate(pyproject, data["project"])
        return _pep621(root, data["project"], tool, lock, extras)
    poetry = data.get("tool", {}).get("poetry")
    if isinstance(poetry, dict):
        scripts = poetry.get("scripts")
        python = poetry.get("dependencies", {}).get("python")
        return Project(
            SourceKind.PYPROJECT, root, name=_opt_normalize(poetry.get("name")),
            version=poetry.get("version"),
            scripts=tuple(scripts) if isinstance(scripts, dict) else (),
            lock=lock, tool=tool,
            requires_python=poetry_python(python) if isinstance(python, str) else None,
        )
    if (root / "setup.cfg").is_file() or (root / "setup.py").is_file():
        return _setuptools(root, tool, lock, extras)
    if lock and lock != "uv.lock":
        return _requirements_project(root, lock, tool)
    for candidate in REQUIREMENTS_FILES:
        if (root / candidate).is_file():
            return _requirements_project(root, candidate, tool)
    if locks.find_lock(root) in ("Pipfile.lock", "pylock.toml"):  # code and a lock
        return _requirements_project(root, "", tool)
    if pyproject.is_file():
        raise UsageError(
            f"{pyproject} has no [project] table and there is no setup.py, setup.cfg "
            "or requirements.txt: nothing to install"
        )
    raise UsageError(
        f"{root} is not a Python project (no pyproject.toml, setup.py, setup.cfg or "
        "requirements.txt)"
    )


def poetry_python(spec: str) -> str:
    """poetry's `python = "^3.10"` (or "~3.10", ">=3.10,<4", "3.10.*") as a PEP 440
    specifier: a caret allows everything below the next major, a tilde everything below
    the next minor."""
    clauses = []
    for part in spec.replace(" ", "").split(","):
        if part[:1] in "^~" and part[1:2] != "=":
            release = [int(p) for p in part[1:].split(".") if p.isdigit()]
            if not release:
                raise UsageError(f"[tool.poetry.dependencies] python {spec!r}: not a version")
            upper = [release[0] + 1] if part[0] == "^" else [release[0], release[1] + 1] \
                if len(release) > 1 else [release[0] + 1]
            clauses += [f">={part[1:]}", f"<{'.'.join(map(str, upper))}"]
        elif part == "*":
            continue
        elif part[:1].isdigit():
            clauses.append(f"=={part}")
        else:
            clauses.append(part)
    return ",".join(clauses)


def _validate(path: Path, project: object) -> None:
    """The [project] table against PEP 621's schema (validate-pyproject's), so a wrong
    type is one line naming the field, never a traceback or a misread value.

    Compiling the schema costs about a third of a second, on every pack of the
    edit-rebuild loop: a table that passed once is remembered (by its digest, in the
    cache directory) and not checked again."""
    digest = hashlib.sha256(json.dumps(project, sort_keys=True, default=str)
                            .encode()).hexdigest()
    memo = cache_dir() / "valid-projects" / digest
    if memo.exists():
        return
    from validate_pyproject.error_reporting import ValidationError

    try:
        _validator()({"project": project})
    except ValidationError as exc:
        raise UsageError(f"{path}: {exc.message}") from None
    with contextlib.suppress(OSError):
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.touch()


@functools.cache
def _validator() -> Callable[[dict[str, Any]], object]:
    from validate_pyproject import api  # imported on first use: it compiles schemas

    return api.Validator()


def _opt_normalize(name: object) -> str | None:
    return canonicalize_name(name) if isinstance(name, str) and name else None


def _lock_file(root: Path, named: object) -> str | None:
    """uv.lock, the requirements file named (--requirements, [tool.snakepacker]
    requirements), or a requirements.txt whose every line is pinned."""
    if named:
        if not isinstance(named, str):
            raise UsageError("[tool.snakepacker] requirements must be a string")
        if project_file(root, named) is None:
            raise UsageError(f"requirements file {root / named} does not exist")
        return PurePosixPath(named).as_posix()
    if project_file(root, "uv.lock") is not None:
        return "uv.lock"
    for candidate in REQUIREMENTS_FILES:
        text = read_project_file(root, candidate)
        if text is not None and is_pinned(text):
            return candidate
    return None


def is_pinned(text: str) -> bool:
    """True when every requirement line pins one version (options and hashes allowed)."""
    lines = [line.split(" #")[0].strip() for line in text.replace("\\\n", " ").splitlines()]
    reqs = [line for line in lines if line and not line.startswith(("#", "-", "--"))]
    return bool(reqs) and all(_pins_one_version(line.split(" --")[0].strip()) for line in reqs)


def _pins_one_version(line: str) -> bool:
    parsed = parse_requirement(line)
    if parsed is None or parsed.url:
        return False
    specs = list(parsed.specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") \
        and not specs[0].version.endswith(".*")


def _pep621(
    root: Path, project: dict[str, Any], tool: dict[str, Any], lock: str | None,
    extras: tuple[str, ...],
) -> Project:
    dynamic = set(project.get("dynamic", []))
    name = _opt_normalize(project.get("name"))
    deps: list[str] = []
    complete = "dependencies" not in dynamic and (
        not extras or "optional-dependencies" not in dynamic
    )
    if "dependencies" not in dynamic:
        deps = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional and "optional-dependencies" not in dynamic:
            raise UsageError(f"{root.name} has no extra {extra!r} "
                             f"(it has: {', '.join(optional) or 'none'})")
        deps += optional.get(extra, [])
    # A project may name itself with extras inside its own extras: expand those here,
    # since the project is not on the index.
    expanded: list[str] = []
    seen_extras = set(extras)
    while deps:
        dep = deps.pop(0)
        parsed = parse_requirement(dep)
        if name and parsed is not None and canonicalize_name(parsed.name) == name:
            for extra in sorted(parsed.extras):
                if extra not in seen_extras:
                    seen_extras.add(extra)
                    deps += optional.get(extra, [])
            continue
        expanded.append(dep)
    scripts = None if "scripts" in dynamic else tuple(project.get("scripts", {}))
    urls = project.get("urls", {})
    source = next((urls[k] for k in urls if k.lower() in ("source", "repository", "homepage")),
                  None)
    return Project(
        SourceKind.PYPROJECT, root, name=name,
        version=None if "version" in dynamic else project.get("version"),
        requires_python=None if "requires-python" in dynamic else project.get("requires-python"),
        dependencies=tuple(expanded), complete=complete or lock == "uv.lock",
        lock=lock, scripts=scripts, source_url=source, tool=tool,
    )


def _setuptools(
    root: Path, tool: dict[str, Any], lock: str | None, extras: tuple[str, ...]
) -> Project:
    cfg = configparser.ConfigParser(interpolation=None)
    text = read_project_file(root, "setup.cfg")
    if text is not None:
        try:
            cfg.read_string(text, "setup.cfg")
        except configparser.Error as exc:
            raise UsageError(f"{root / 'setup.cfg'}: cannot read it ({exc})") from None

    def get(section: str, key: str) -> str | None:
        return cfg.get(section, key, fallback=None)

    def lines(value: str | None) -> list[str]:
        return [v.strip() for v in (value or "").splitlines() if v.strip()]

    deps = lines(get("options", "install_requires"))
    for extra in extras:
        deps += lines(get("options.extras_require", extra))
    scripts_cfg = lines(get("options.entry_points", "console_scripts"))
    has_setup_py = (root / "setup.py").is_file()
    scripts: tuple[str, ...] | None = tuple(s.split("=")[0].strip() for s in scripts_cfg)
    if has_setup_py and not scripts:
        scripts = None  # setup.py may declare them
    return Project(
        SourceKind.SETUPTOOLS, root, name=_opt_normalize(get("metadata", "name")),
        version=get("metadata", "version"),
        requires_python=get("options", "python_requires"),
        dependencies=tuple(deps), complete=not has_setup_py,
        lock=lock, scripts=scripts, tool=tool,
    )


def _requirements_project(
    root: Path, file: str, tool: dict[str, Any] | None = None
) -> Project:
    """A directory of code with a requirements file: the file is installed, the code
    is copied to the working directory."""
    return Project(
        SourceKind.REQUIREMENTS, root.resolve(), name=None, lock=file or None, complete=True,
        scripts=(), tool=tool or {},
    )

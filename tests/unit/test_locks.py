"""Lock files written by the real tools, read by pack.locks.

Four small projects (tests/data/locks/) ask for the same things: uvicorn with its
`standard` extra, idna pinned to an older release, tomli only below Python 3.11, a
`yaml` extra of their own and a dev group. The session fixture locks each with its own
tool (poetry, pdm, pipenv, and uv writing a pylock.toml), as users do; the tests read
those locks and check what pack would install for each Python and extra.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.family.distros import DISTROS
from snakepacker.pack import locks, wheels
from snakepacker.pack.project import SourceKind, inspect_source

APPS = Path(__file__).resolve().parents[1] / "data" / "locks"
BIN = Path(sys.executable).parent
STANDARD = {"httptools", "python-dotenv", "pyyaml", "uvloop", "watchfiles", "websockets"}
ALWAYS = {"uvicorn", "click", "h11", "idna", "anyio", *STANDARD}


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return str(path)


def _lock(app: Path, tmp: Path) -> None:
    env = {**os.environ, "HOME": str(tmp), "PIPENV_IGNORE_VIRTUALENVS": "1",
           "WORKON_HOME": str(tmp / "venvs"), "PIPENV_VERBOSITY": "-1",
           "PDM_CHECK_UPDATE": "false", "POETRY_VIRTUALENVS_CREATE": "false",
           "UV_CACHE_DIR": str(tmp / "uv-cache")}
    commands = {
        "poetry-app": [[_tool("poetry"), "lock", "-n"]],
        "pdm-app": [[_tool("pdm"), "lock", "-G", ":all"]],
        "pipenv-app": [[_tool("pipenv"), "lock"]],
        "pylock-app": [[_tool("uv"), "lock", "-q"],
                       [_tool("uv"), "export", "-q", "--format", "pylock.toml", "--no-dev",
                        "--all-extras", "-o", "pylock.toml"]],
        "uv-app": [[_tool("uv"), "lock", "-q"]],
        "numpy-app": [[_tool("uv"), "lock", "-q"]],
    }
    for command in commands[app.name]:
        proc = subprocess.run(command, cwd=app, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"{command}: {proc.stderr[-2000:]}"
    if app.name == "pylock-app":
        (app / "uv.lock").unlink()


@pytest.fixture(scope="session")
def locked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each app of tests/data/locks copied and locked by its own tool."""
    tmp = tmp_path_factory.mktemp("locks")
    apps = {}
    for name in ("poetry-app", "pdm-app", "pipenv-app", "pylock-app", "uv-app", "numpy-app"):
        source = APPS / ("uv-app" if name == "pylock-app" else name)
        app = shutil.copytree(source, tmp / name)
        _lock(app, tmp)
        apps[name] = app
    return apps


def _read(app: Path, extras: tuple[str, ...] = ()) -> locks.Lock:
    project = inspect_source(str(app), extras)
    assert project.locked is not None and project.complete
    return project.locked


def _names(packages: tuple[locks.Locked, ...]) -> set[str]:
    return {p.name.lower().replace("_", "-") for p in packages}


LOCKS = ["poetry-app", "pdm-app", "pipenv-app", "pylock-app"]


@pytest.mark.parametrize("app", LOCKS)
def test_extras_of_dependencies_are_installed_and_dev_groups_are_not(
    locked: dict[str, Path], app: str
) -> None:
    """uvicorn[standard] brings its optional dependencies (a walk that skipped every
    optional dependency lost them); the dev group's iniconfig stays out."""
    packages = locks.for_target(_read(locked[app]), locks.target_environments("3.12", "x86_64"))
    names = _names(packages)
    assert names >= ALWAYS
    assert "iniconfig" not in names
    assert "tomli" not in names  # only below Python 3.11
    assert next(p for p in packages if p.name.lower() == "idna").version == "3.4"


@pytest.mark.parametrize("app", ["poetry-app", "pdm-app", "pylock-app"])
def test_a_marker_for_older_pythons_is_kept_for_them(locked: dict[str, Path],
                                                     app: str) -> None:
    packages = locks.for_target(_read(locked[app]), locks.target_environments("3.10", "x86_64"))
    assert "tomli" in _names(packages)
    assert "exceptiongroup" in _names(packages)


@pytest.mark.parametrize("app", LOCKS)
def test_every_package_from_an_index_carries_its_hashes(locked: dict[str, Path],
                                                        app: str) -> None:
    packages = locks.for_target(_read(locked[app]), locks.target_environments("3.12", "x86_64"))
    assert packages and all(p.all_hashes for p in packages), [p.name for p in packages
                                                          if not p.all_hashes]
    text = locks.requirements_text(packages)
    assert text.count("--hash=sha256:") >= len(packages)
    # Every line reads back as a requirement (what uv and pip parse).
    from packaging.requirements import Requirement
    for line in text.splitlines():
        Requirement(line.split(" --hash=")[0])


@pytest.mark.parametrize("app", ["poetry-app", "pdm-app", "pylock-app"])
def test_only_the_files_the_image_can_install_are_kept(locked: dict[str, Path],
                                                       app: str) -> None:
    """httptools publishes a hundred wheels; for CPython 3.12 on jammy's x86_64 the
    install can take one or two of them and the sdist, and only their hashes stay."""
    tags = wheels.target_tags("3.12", DISTROS["jammy"].glibc, "x86_64")
    packages = locks.for_target(_read(locked[app]), locks.target_environments("3.12", "x86_64"),
                                tags)
    httptools = next(p for p in packages if p.name == "httptools")
    names = [name for name, _ in httptools.files]
    assert 1 < len(names) <= 4, names
    assert all(n.endswith(".tar.gz") or ("cp312" in n and "x86_64" in n and "musl" not in n)
               for n in names), names
    untouched = locks.for_target(_read(locked[app]),
                                 locks.target_environments("3.12", "x86_64"))
    assert len(next(p for p in untouched if p.name == "httptools").files) > 50
    arm = locks.for_target(_read(locked[app]), locks.target_environments("3.12", "aarch64"),
                           wheels.target_tags("3.12", (2, 35), "aarch64"))
    assert all("x86_64" not in n for p in arm for n, _ in p.files)


def test_a_lock_with_no_file_for_the_target_is_refused() -> None:
    lock = locks.Lock("pylock.toml", (locks.Locked(
        "onlymac", "1.0", None, files=(("onlymac-1.0-cp312-cp312-macosx_11_0_arm64.whl",
                                        "sha256:" + "0" * 64),)),))
    with pytest.raises(UsageError, match=r"has no file of onlymac 1\.0 that installs here"):
        locks.for_target(lock, locks.target_environments("3.12", "x86_64"),
                         wheels.target_tags("3.12", (2, 35), "x86_64"))


@pytest.mark.parametrize("app", ["poetry-app", "pdm-app"])
def test_an_extra_of_the_project(locked: dict[str, Path], app: str) -> None:
    """The project's own `yaml` extra asks for pyyaml, which uvicorn[standard] brings
    anyway: asked or not, it is there once, and the extra's name never reaches a
    marker the installer would have to read."""
    for extras in ((), ("yaml",)):
        packages = locks.for_target(_read(locked[app], extras),
                                    locks.target_environments("3.12", "x86_64"))
        assert [p.name.lower() for p in packages].count("pyyaml") == 1
        assert not any("extra" in (p.marker or "") for p in packages)


def test_an_extra_that_brings_a_package_of_its_own(locked: dict[str, Path]) -> None:
    """poetry-app's `compat` extra asks for six, which nothing else needs."""
    def names(extras: tuple[str, ...]) -> set[str]:
        return {p.name.lower() for p in locks.for_target(
            _read(locked["poetry-app"], extras), locks.target_environments("3.12", "x86_64"))}

    assert names(("compat",)) - names(()) == {"six"}


def test_a_pipfile_lock_project_is_code_and_a_lock(locked: dict[str, Path]) -> None:
    project = inspect_source(str(locked["pipenv-app"]))
    assert project.kind is SourceKind.REQUIREMENTS
    assert project.locked is not None and project.locked.source == "Pipfile.lock"


def test_uv_lock_is_left_to_uv(locked: dict[str, Path]) -> None:
    project = inspect_source(str(locked["uv-app"]))
    assert project.lock == "uv.lock" and project.locked is None


def test_pylock_leaves_the_project_itself_out(locked: dict[str, Path]) -> None:
    assert _read(locked["pylock-app"]).local == ("uv-app",)


# -- what the real locks do not show --------------------------------------------------


def test_an_old_poetry_lock_is_walked_with_extras() -> None:
    """A lock of format 2.0 has no groups or markers per package: the graph is walked
    from the project's dependencies, following an optional dependency only where an
    extra asked of its package names it."""
    pyproject = {"tool": {"poetry": {"dependencies": {
        "python": "^3.10", "uvicorn": {"version": ">=0.30", "extras": ["standard"]},
        "rich": {"version": "*", "optional": True}}, "extras": {"pretty": ["rich"]}}}}
    lock = {"metadata": {"lock-version": "2.0"}, "package": [
        {"name": "uvicorn", "version": "0.30.0", "files": [],
         "dependencies": {"h11": ">=0.8", "uvloop": {"version": ">=0.14", "optional": True,
                                                     "markers": 'sys_platform != "win32"'},
                          "httptools": {"version": ">=0.5", "optional": True}},
         "extras": {"standard": ["uvloop (>=0.14) ; sys_platform != 'win32'"]}},
        {"name": "h11", "version": "0.14.0", "files": []},
        {"name": "uvloop", "version": "0.19.0", "files": []},
        {"name": "httptools", "version": "0.6.0", "files": []},
        {"name": "rich", "version": "13.0.0", "files": []},
    ]}
    names = {p.name: p.marker for p in locks.poetry_lock(lock, pyproject, ()).packages}
    assert names == {"uvicorn": None, "h11": None, "uvloop": '(sys_platform != "win32")'}
    pretty = locks.poetry_lock(lock, pyproject, ("pretty",)).packages
    assert {p.name for p in pretty} == {"uvicorn", "h11", "uvloop", "rich"}


def test_git_and_path_sources() -> None:
    lock = {"metadata": {"lock-version": "2.1"}, "package": [
        {"name": "lib", "version": "1.0", "groups": ["main"], "files": [],
         "source": {"type": "git", "url": "https://example.invalid/lib.git",
                    "resolved_reference": "a" * 40}},
        {"name": "sibling", "version": "0.1", "groups": ["main"], "files": [],
         "source": {"type": "directory", "url": "../sibling"}},
    ]}
    found = locks.poetry_lock(lock, {}, ())
    assert found.packages[0].line() == f"lib @ git+https://example.invalid/lib.git@{'a' * 40}"
    assert found.local == ("sibling",)


@pytest.mark.parametrize(("marker", "extras", "true"), [
    ('extra == "standard"', ("standard",), True),
    ("extra == 'standard'", (), False),
    ('"standard" == extra', ("Standard",), True),
    ('extra != "x"', (), True),
    ("'yaml' in extras", ("yaml",), True),
    ("'yaml' not in extras", ("yaml",), False),
    ('python_version < "3.11" and extra == "yaml"', ("yaml",), False),
])
def test_extras_in_markers_are_resolved(marker: str, extras: tuple[str, ...], true: bool) -> None:
    from packaging.markers import Marker

    resolved = locks.resolve_extras(marker, extras)
    assert resolved is not None and "extra" not in resolved
    env = locks.target_environments("3.12", "x86_64")[0]
    assert Marker(resolved).evaluate(env) is true


def test_a_package_pinned_for_no_version_is_refused_when_needed() -> None:
    lock = locks.pipfile_lock({"default": {"tomli": {"version": "*",
                                                     "markers": "python_version < '3.11'"}}})
    assert locks.for_target(lock, locks.target_environments("3.12", "x86_64")) == ()
    with pytest.raises(UsageError, match="pins no version of tomli"):
        locks.for_target(lock, locks.target_environments("3.10", "x86_64"))


def test_a_version_that_is_no_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    (tmp_path / "pdm.lock").write_text(
        '[[package]]\nname = "six"\nversion = "1.0\\nRUN id"\ngroups = ["default"]\n')
    with pytest.raises(UsageError, match=r"cannot read it|not a requirement"):
        inspect_source(str(tmp_path))


# -- the Python a lock can run on ----------------------------------------------------


def test_the_newest_python_with_wheels_for_every_locked_package_is_chosen(
    locked: dict[str, Path]
) -> None:
    """requires-python >=3.10 allows 3.13 and 3.14, but numpy 1.26.4 has wheels up to
    CPython 3.12: 3.12 is packed, and one line says why."""
    from snakepacker.family.images import Family
    from snakepacker.options import family_from
    from snakepacker.pack.plan import choose_minor_for

    project = inspect_source(str(locked["numpy-app"]))
    family = Family(family_from({"distro": "jammy"}))
    minors = ["3.10", "3.11", "3.12", "3.13", "3.13t", "3.14"]
    minor, why = choose_minor_for(None, project, minors, family)
    assert minor == "3.12"
    assert why == ("Python 3.12: the newest the project allows for which every locked "
                   "package has a wheel for jammy linux/amd64 (numpy 1.26.4 has none for 3.13)")
    assert choose_minor_for("3.13", project, minors, family) == ("3.13", None)  # asked for
    plain = inspect_source(str(locked["uv-app"]))  # every package has wheels for 3.14
    assert choose_minor_for(None, plain, minors, family) == ("3.14", None)


@pytest.mark.parametrize(("spec", "pep440"), [
    ("^3.10", ">=3.10,<4"), ("~3.10", ">=3.10,<3.11"), (">=3.9,<3.13", ">=3.9,<3.13"),
    ("3.11.*", "==3.11.*"), ("*", ""),
])
def test_poetrys_python_constraint_reads_as_requires_python(spec: str, pep440: str) -> None:
    from snakepacker.pack.project import poetry_python

    assert poetry_python(spec) == pep440

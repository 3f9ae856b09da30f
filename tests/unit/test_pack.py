"""`snakepacker pack` without an engine: inspection, options, choices and the Dockerfile."""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from snakepacker.cli.main import build_parser, main
from snakepacker.engine.fake import FakeEngine
from snakepacker.errors import UsageError
from snakepacker.family.images import Family
from snakepacker.options import PACK, pack_options, read
from snakepacker.pack import pyversions
from snakepacker.pack.context import write_pack_context
from snakepacker.pack.dockerfile import render_build_stage, render_pack
from snakepacker.pack.packing import cache_scope, stage_images
from snakepacker.pack.plan import Plan, choose_entrypoint, choose_minor, make_plan
from snakepacker.pack.project import SourceKind, inspect_source, is_pinned
from snakepacker.platforms import get_platform
from tests.helpers import DEMO, build_record_in, write

ENV: dict[str, str] = {}  # no SNAKEPACKER_* from the caller's environment


def pyproject(**project: object) -> str:
    project.setdefault("version", "0.1")
    lines = ["[project]"]
    for key, value in project.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key.replace('_', '-')} = {_toml(value)}")
    for key, value in project.items():
        if isinstance(value, dict):
            lines.append(f"[project.{key}]")
            lines += [f'"{k}" = {_toml(v)}' for k, v in value.items()]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"'


def pack_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["pack", *argv])


def options_for(source: str | Path, *argv: str, env: dict[str, str] | None = None):
    project = inspect_source(str(source))
    values = read(PACK, pack_args(str(source), *argv), env=ENV if env is None else env,
                  pyproject=project.tool, project_dir=project.root)
    return pack_options(values, project)


# -- requires-python ------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "minor", "ok"), [
    (None, "3.7", True),
    (">=3.10", "3.10", True),
    (">=3.10", "3.9", False),
    (">=3.10.4", "3.10", True),  # some patch release fits
    (">=3.8,<3.11", "3.11", False),
    ("<3.11", "3.10", True),
    ("~=3.10", "3.14", True),
    ("~=3.10.2", "3.11", False),
    ("~=3.10.2", "3.10", True),
    ("==3.11.*", "3.11", True),
    ("==3.11.*", "3.12", False),
    ("!=3.11.*, >=3.10", "3.11", False),
    ("!=3.11.*, >=3.10", "3.12", True),
    (">3.12", "3.12", True),  # 3.12.1 > 3.12
    ("==3.12.3", "3.12", True),
    ("==3.12.3", "3.13", False),
    (" >= 3.9 ", "3.9", True),
])
def test_requires_python(spec: str | None, minor: str, ok: bool) -> None:
    assert pyversions.allows(spec, minor) is ok


@pytest.mark.parametrize("spec", [">=three", "3.10", "~=3", ">=3.*"])
def test_requires_python_unreadable(spec: str) -> None:
    with pytest.raises(UsageError, match="requires-python"):
        pyversions.allows(spec, "3.12")


def test_choose_minor_newest_allowed() -> None:
    assert choose_minor(None, ">=3.8", ["3.10", "3.12"]) == "3.12"
    assert choose_minor(None, "<3.12", ["3.10", "3.12"]) == "3.10"
    assert choose_minor(None, None, ["3.12", "3.10"]) == "3.12"
    assert choose_minor("3.10", ">=3.8", ["3.10", "3.12"]) == "3.10"


def test_choose_minor_errors() -> None:
    with pytest.raises(UsageError, match="allows none of the family's Pythons"):
        choose_minor(None, "<3.9", ["3.10", "3.12"])
    with pytest.raises(UsageError, match=r"unknown Python minor '3\.99'"):
        choose_minor("3.99", None, ["3.10", "3.12"])
    with pytest.raises(UsageError, match="not in the family here"):
        choose_minor("3.11", None, ["3.10", "3.12"])
    with pytest.raises(UsageError, match="does not satisfy"):
        choose_minor("3.10", ">=3.11", ["3.10", "3.12"])


# -- inspecting SOURCE ---------------------------------------------------------------


def test_inspect_demo_app() -> None:
    project = inspect_source(str(DEMO))
    assert project.kind is SourceKind.PYPROJECT
    assert project.name == "demo-app"
    assert project.version == "0.1.0"
    assert project.scripts == ("demo-app",)
    assert project.complete
    assert any(d.startswith("psycopg2") for d in project.dependencies)


def test_inspect_requirement_strings() -> None:
    for text, name in (("ipython[notebook]", "ipython"), ("black==24.*", "black"),
                       ("Flask_Login>=0.6", "flask-login")):
        project = inspect_source(text)
        assert project.kind is SourceKind.REQUIREMENT
        assert project.name == name
        assert project.scripts is None  # known only once installed
    with pytest.raises(UsageError, match="no such project directory"):
        inspect_source("./no-such-dir")
    with pytest.raises(UsageError, match="neither a project directory nor a requirement"):
        inspect_source("black ==")


def test_inspect_dynamic_and_extras(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": """\
        [project]
        name = "My.App"
        dynamic = ["version", "scripts"]
        dependencies = ["requests"]
        [project.optional-dependencies]
        db = ["psycopg2"]
        all = ["my-app[db]", "rich"]
    """})
    project = inspect_source(str(tmp_path), ("all",))
    assert project.name == "my-app"
    assert project.version is None and project.scripts is None
    assert project.dependencies == ("requests", "rich", "psycopg2")
    with pytest.raises(UsageError, match="no extra 'nope'"):
        inspect_source(str(tmp_path), ("nope",))


def test_inspect_setup_cfg_and_setup_py(tmp_path: Path) -> None:
    write(tmp_path, {"setup.cfg": """\
        [metadata]
        name = cfg_app
        version = 2.0
        [options]
        python_requires = >=3.11
        install_requires =
            attrs
            click>=8
        [options.entry_points]
        console_scripts =
            cfg-app = cfg_app:main
    """})
    project = inspect_source(str(tmp_path))
    assert (project.kind, project.name, project.requires_python) == (
        SourceKind.SETUPTOOLS, "cfg-app", ">=3.11")
    assert project.dependencies == ("attrs", "click>=8")
    assert project.scripts == ("cfg-app",) and project.complete
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    assert not inspect_source(str(tmp_path)).complete  # setup.py may add more


def test_locks_are_honoured(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": pyproject(name="a", dependencies=["b"]),
                     "requirements.txt": "b==1.0\nc==2.0 ; python_version >= '3.8'\n"})
    assert inspect_source(str(tmp_path)).lock == "requirements.txt"
    (tmp_path / "requirements.txt").write_text("b>=1\n")
    assert inspect_source(str(tmp_path)).lock is None  # not pinned: pyproject's deps win
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert inspect_source(str(tmp_path)).lock == "uv.lock"
    assert is_pinned("# c\n--index-url x\nfoo==1.2 \\\n    --hash=sha256:ab\n")


def test_requirements_only_project(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "flask\n", "app.py": "print('hi')\n"})
    project = inspect_source(str(tmp_path))
    assert project.kind is SourceKind.REQUIREMENTS and project.lock == "requirements.txt"
    assert project.scripts == ()


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a Python project"):
        inspect_source(str(tmp_path))


# -- options -------------------------------------------------------------------------


def test_tool_table_and_command_line(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": pyproject(name="a", scripts={"a": "a:main"}) + """
[tool.snakepacker]
python = "3.10"
installer = "pip"
apt = ["ffmpeg"]
keep-pip = true
minors = ["3.10", "3.12"]
entrypoint = "a --serve"
"""})
    opts = options_for(tmp_path)
    assert (opts.python, opts.installer, opts.apt, opts.keep_pip) == ("3.10", "pip",
                                                                       ("ffmpeg",), True)
    assert opts.family.minors == ("3.10", "3.12") and opts.minors_given
    assert opts.entrypoint == ("a", "--serve")
    assert opts.tags == ("a:latest",)
    opts = options_for(tmp_path, "--python", "3.12", "--installer", "uv", "--apt", "curl",
                       "--no-keep-pip", "--minors", "3.12", "-t", "x:1", "-t", "x:2")
    assert (opts.python, opts.installer, opts.apt, opts.keep_pip) == ("3.12", "uv",
                                                                       ("curl",), False)
    assert opts.family.minors == ("3.12",)
    assert opts.tags == ("x:1", "x:2")
    # The environment beats pyproject.toml for family options.
    opts = options_for(tmp_path, env={"SNAKEPACKER_MINORS": "3.11"})
    assert opts.family.minors == ("3.11",)


def test_image_environment_volumes_and_ports(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": pyproject(name="a", scripts={"a": "a:main"}) + """
[tool.snakepacker]
env = { MODE = "prod", GREETING = "hello world" }
volume = ["/data"]
port = [8080]
"""})
    opts = options_for(tmp_path)
    assert opts.env == (("MODE", "prod"), ("GREETING", "hello world"))
    assert (opts.volumes, opts.ports) == (("/data",), (8080,))
    opts = options_for(tmp_path, "--env", "MODE=dev", "--volume", "/srv", "--port", "80",
                       "--port", "443")
    assert opts.env == (("MODE", "dev"),)
    assert (opts.volumes, opts.ports) == (("/srv",), (80, 443))


def test_tool_table_rejects_unknown_keys(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": pyproject(name="a") + "[tool.snakepacker]\npyton = 1\n"})
    with pytest.raises(UsageError, match="unknown key 'pyton'; did you mean 'python'"):
        options_for(tmp_path)


@pytest.mark.parametrize(("argv", "message"), [
    (("--installer", "conda"), "unknown installer 'conda' (choose: uv, pip)"),
    (("--venv-path", "relative"), "--venv-path 'relative': not an absolute path"),
    (("--user", "Bad User"), "--user 'Bad User': not a user name or uid"),
    (("--apt", "rm -rf"), "--apt '-rf': not a Debian package name"),
    (("--port", "70000"), "--port '70000': not a TCP port (1-65535)"),
    (("--port", "http"), "--port 'http': not a TCP port (1-65535)"),
    (("--env", "1X=y"), "--env '1X': not a variable name (KEY=VALUE)"),
    (("--volume", "data"), "--volume 'data': not an absolute path"),
])
def test_bad_option_values(argv: tuple[str, ...], message: str) -> None:
    """Each is snakepacker's own check, named in its one line (exit code 2)."""
    with pytest.raises(UsageError, match=re.escape(message)):
        options_for(DEMO, *argv)


def test_entrypoint_choice() -> None:
    project = inspect_source(str(DEMO))
    assert choose_entrypoint(project, None, None, ("demo-app",)) == (("demo-app",), None)
    assert choose_entrypoint(project, ("x",), ("y",), ()) == (("x",), ("y",))
    assert choose_entrypoint(project, None, ("python", "-m", "a"), ()) == (
        None, ("python", "-m", "a"))
    with pytest.raises(UsageError, match="no console script: pass --entrypoint"):
        choose_entrypoint(project, None, None, ())
    with pytest.raises(UsageError, match=re.escape(
            "no console script, but its install put programs in the venv's bin/: "
            "uwsgi, uwsgi-ctl; pass one with --entrypoint (e.g. --entrypoint uwsgi)")):
        choose_entrypoint(project, None, None, (), ("uwsgi", "uwsgi-ctl"))
    # A console script is taken before any other program.
    assert choose_entrypoint(project, None, None, ("demo-app",), ("uwsgi",)) == (
        ("demo-app",), None)
    with pytest.raises(UsageError, match="several console scripts"):
        choose_entrypoint(project, None, None, ("a", "b"))
    black = inspect_source("black")
    assert choose_entrypoint(black, None, None, ("black", "blackd")) == (("black",), None)
    with pytest.raises(UsageError, match="known only once it is installed"):
        choose_entrypoint(black, None, None, None)


# -- the Dockerfile ------------------------------------------------------------------


def plan_for(source: str | Path, *argv: str, minor: str = "3.12") -> Plan:
    opts = options_for(source, *argv)
    return make_plan(opts, Family(opts.family), minor, decide_entrypoint=True)


def instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_dockerfile_demo_app() -> None:
    text = render_pack(plan_for(DEMO))
    steps = instructions(text)
    assert steps[0] == "FROM snakepacker/python:all AS build"
    assert "FROM snakepacker/python:3.12" in steps
    assert not any(line.startswith("# syntax") for line in text.splitlines())
    # The dependencies are installed before the code is copied; the project after,
    # not editable and without dependencies.
    deps = next(i for i, s in enumerate(steps) if "'psycopg2>=2.9'" in s)
    copy = steps.index("COPY . /usr/src/app")
    project = next(i for i, s in enumerate(steps) if "--no-deps /usr/src/app" in s)
    assert deps < copy < project
    assert "--mount=type=cache,target=/root/.cache/uv" in steps[deps]
    install = next(c for c in steps[project].split(";") if "--no-deps /usr/src/app" in c)
    assert " -e " not in install and "--editable" not in install
    # 3.12 is source-built: find-libdeps' JSON also says whether the venv links libpython.
    assert "find-libdeps --json /usr/share/python3/app" in text
    assert "uv pip uninstall" in text and "pip setuptools wheel" in text
    assert "compileall" in text
    assert "/opt/python/3.12/bin/python3.12 -m venv --without-pip /usr/share/python3/app" in text
    assert 'ENTRYPOINT ["dumb-init", "--", "demo-app"]' in steps
    assert "USER 10001:10001" in steps and "WORKDIR /app" in steps
    assert 'org.opencontainers.image.version="0.1.0"' in text
    assert 'io.snakepacker.python="3.12"' in text
    # CA material only ever as a secret mount.
    assert "ca-certificates.crt /run/secrets/ca-certs" in text
    assert not re.search(r"^(COPY|ADD)\b.*\.(pem|crt)", text, re.M)


def test_dockerfile_options() -> None:
    text = render_pack(plan_for(DEMO, "--installer", "pip", "--keep-pip", "--apt", "ffmpeg",
                           "--user", "root", "--venv-path", "/opt/app", "--pillow",
                           "--workdir", "/srv", minor="3.10"))
    steps = instructions(text)
    assert steps[0] == "FROM snakepacker/python:all-pillow AS build"
    assert "FROM snakepacker/python:3.10-pillow" in steps
    assert "/usr/bin/python3.10 -m venv /opt/app" in text
    assert "/opt/app/bin/python -m pip install" in text
    assert "--mount=type=cache,target=/root/.cache/pip" in text
    assert "pip uninstall" not in text
    assert any("xargs -a /tmp/apt-packages.txt apt-install ffmpeg" in s for s in steps)
    assert not any(s.startswith("USER") for s in steps) and "useradd" not in text
    assert "WORKDIR /srv" in steps


def _stage(text: str, name: str) -> list[str]:
    """The instructions of the stage NAME starts (build, project, final), each with its
    runs of blanks made one."""
    marker = f"# ============================== {name} stage"
    rest = text[text.index(marker):]
    end = rest.find("# ==============================", len(marker))
    return [" ".join(step.split()) for step in instructions(rest if end < 0 else rest[:end])]


def test_the_build_stage_stamps_a_fixed_date_and_no_debug_info(tmp_path: Path) -> None:
    text = render_pack(plan_for(DEMO))
    build = _stage(text, "build")
    assert 'ENV CFLAGS=-g0 CXXFLAGS=-g0 SOURCE_DATE_EPOCH="946684800"' in build
    assert "ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never" in build
    assert "NO_CACHE" not in text  # with the cache, the installer's cache is used
    # The project stage builds FROM build and so inherits it; the final stage never
    # sees it (nor the compiler flags): the image's own environment stays as it was.
    assert "FROM build AS project" in _stage(text, "project")
    assert "SOURCE_DATE_EPOCH" not in "\n".join(_stage(text, "final"))
    assert "CFLAGS" not in "\n".join(_stage(text, "final"))
    # The same text for the project in a git checkout: the date is not the commit's
    # (that reaches the labels only, as a build argument), so the dependencies' steps
    # stay cached across commits.
    checkout = tmp_path / "demo-app"
    shutil.copytree(DEMO, checkout)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_COMMITTER_DATE": "@1700000000 +0000",
           "HOME": str(tmp_path)}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=checkout, env=env, check=True)
    assert render_pack(plan_for(checkout)) == text


@pytest.mark.parametrize(("installer", "env"), [
    ("uv", "ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1"),
    ("pip", "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore "
            "PIP_NO_CACHE_DIR=1"),
])
def test_no_cache_leaves_the_installers_cache_unused(installer: str, env: str) -> None:
    """--no-cache builds every sdist again, not only every step: a wheel built by an
    earlier pack would make a reproducibility check prove nothing about its build."""
    text = render_pack(plan_for(DEMO, "--installer", installer, "--no-cache"))
    assert env in _stage(text, "build")
    assert "its cache left unused (--no-cache)" in text
    cached = render_pack(plan_for(DEMO, "--installer", installer))
    assert "NO_CACHE" not in cached and "its cache left unused" not in cached


def test_dockerfile_requirement_and_build_stage() -> None:
    text = render_pack(plan_for("black==24.*", "--entrypoint", "black"))
    steps = instructions(text)
    assert not any(s.startswith("COPY . ") for s in steps)  # nothing from the context
    assert "uv pip install --python /usr/share/python3/app/bin/python 'black==24.*'" in text
    stage = render_build_stage(plan_for("black==24.*", "--entrypoint", "black"))
    assert text.startswith(stage.rstrip("\n"))  # same steps: the full build hits the cache
    assert "FROM snakepacker/python:3.12\n" not in stage


def test_dockerfile_uv_lock_and_requirements_only(tmp_path: Path) -> None:
    write(tmp_path / "locked", {"pyproject.toml": pyproject(name="l", scripts={"l": "l:m"}),
                                "uv.lock": "version = 1\n"})
    text = render_pack(plan_for(tmp_path / "locked"))
    assert 'COPY ["pyproject.toml", "uv.lock", "/tmp/lock/"]' in text
    assert "uv export --quiet --frozen --no-dev --no-emit-project --project" in text
    assert "--no-hashes" not in text  # the lock's hashes are checked by the install
    write(tmp_path / "plain", {"requirements.txt": "flask\n", "app.py": "\n"})
    text = render_pack(plan_for(tmp_path / "plain", "--entrypoint", "python app.py"))
    steps = instructions(text)
    assert 'COPY ["requirements.txt", "/tmp/lock/requirements.txt"]' in steps
    assert "COPY . /app" in steps and "COPY --from=project /tmp/snakepacker-layer/ /" in steps
    assert "--root /usr/share/python3/app --whole /app" in text  # the code is the layer
    assert 'ENTRYPOINT ["dumb-init", "--", "python", "app.py"]' in steps


def test_context_leaves_out_junk(tmp_path: Path) -> None:
    project = write(tmp_path / "p", {
        "pyproject.toml": pyproject(name="p"), "p/__init__.py": "",
        "p/__pycache__/x.pyc": "", ".git/HEAD": "", ".venv/pyvenv.cfg": "",
        "myenv/pyvenv.cfg": "", "build/lib/x": "", "p.egg-info/PKG-INFO": "",
    })
    out = tmp_path / "ctx"
    write_pack_context(inspect_source(str(project)).root, "FROM scratch\n", out)
    found = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert found == [".dockerignore", "Dockerfile", "p/__init__.py", "pyproject.toml"]
    assert "Dockerfile" in (out / ".dockerignore").read_text().split()


# -- the command line, no engine -------------------------------------------------------


def test_cli_dockerfile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", str(DEMO), "--dockerfile", "--minors", "3.10,3.12"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Generated by `snakepacker pack`")
    assert "FROM snakepacker/python:3.12" in out  # pyproject says python = "3.12"


@pytest.mark.parametrize(("argv", "message"), [
    (["./missing-project"], "no such project directory"),
    ([str(DEMO), "--python", "3.99"], "unknown Python minor '3.99'"),
    (["black", "--dockerfile"], "pass --entrypoint"),
])
def test_cli_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pack", *argv, "--dockerfile"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snakepacker: error: ") and message in err[0]


def test_cli_requires_python_none_fits(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, {"pyproject.toml": pyproject(name="old", requires_python="<3.9",
                                                 scripts={"old": "old:main"})})
    assert main(["pack", str(tmp_path), "--dockerfile", "--minors", "3.10,3.12"]) == 2
    err = capsys.readouterr().err
    assert "requires-python '<3.9' allows none of the family's Pythons (3.10, 3.12)" in err


def test_cli_help_mentions_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["pack", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--tag", "--python", "--installer", "--pillow", "--venv-path",
                   "--keep-pip", "--apt", "--entrypoint", "--cmd", "--user", "--workdir",
                   "--dockerfile", "--ca-cert", "--index-url", "[tool.snakepacker]"):
        assert option in out


# -- the build context: what is copied --------------------------------------------------


def test_context_keeps_nested_build_and_dist_and_leaves_out_credentials(tmp_path: Path) -> None:
    project = write(tmp_path / "p", {
        "pyproject.toml": pyproject(name="p"),
        "src/p/build/__init__.py": "", "src/p/static/dist/app.js": "", "venv/x/keep.txt": "",
        "src/p/node_modules/m.js": "", "dist/p-1.tar.gz": "", "node_modules/m.js": "",
        ".env": "TOKEN=1", ".env.prod": "", ".ssh/id_rsa": "", "src/p/certs/server.pem": "",
    })
    (project / "venv" / "x" / "keep.txt").unlink()
    (project / "venv" / "pyvenv.cfg").write_text("")
    out = tmp_path / "ctx"
    copied = write_pack_context(inspect_source(str(project)).root, "FROM scratch\n", out,
                                include=("src/p/certs/server.pem",))
    found = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert found == [".dockerignore", "Dockerfile", "pyproject.toml", "src/p/build/__init__.py",
                     "src/p/certs/server.pem", "src/p/node_modules/m.js",
                     "src/p/static/dist/app.js"]
    assert copied.secrets == [".env", ".env.prod", ".ssh/"]
    assert set(copied.skipped) == {"dist/", "node_modules/", "venv/"}


def test_the_projects_dockerignore_is_kept_for_the_engine(tmp_path: Path) -> None:
    project = write(tmp_path / "p", {"pyproject.toml": pyproject(name="p"),
                                     ".dockerignore": "docs\n"})
    out = tmp_path / "ctx"
    write_pack_context(inspect_source(str(project)).root, "FROM scratch\n", out)
    assert (out / ".dockerignore").read_text().split() == ["docs", "Dockerfile", ".dockerignore"]


# -- values that must arrive unchanged, and checks before any build -------------------------


def test_env_values_are_escaped_or_passed_as_build_arguments() -> None:
    from snakepacker.pack.dockerfile import env_build_args

    plan = plan_for(DEMO, "--env", "A=$HOME/x", "--env", 'B=pa$$w"0\\rd', "--env", "C=l1\nl2")
    text = render_pack(plan)
    assert 'A="\\$HOME/x"' in text and 'B="pa\\$\\$w\\"0\\\\rd"' in text
    assert "ARG SNAKEPACKER_ENV_C" in text and "C=${SNAKEPACKER_ENV_C}" in text
    assert env_build_args(plan) == {"SNAKEPACKER_ENV_C": "l1\nl2"}


@pytest.mark.parametrize("tag", ["Bad:Tag", "a/B", "x:", ":latest", "a" * 300, "x:y:z",
                                 "_x", "a//b", "x:-y"])
def test_every_tag_is_checked_before_anything_is_built(tag: str) -> None:
    with pytest.raises(UsageError, match="not a valid image name"):
        options_for(DEMO, "-t", "good:1", "-t", tag)


@pytest.mark.parametrize("tag", ["app", "app:1.0", "127.0.0.1:5000/a/b:c", "ghcr.io/x/y"])
def test_valid_tags(tag: str) -> None:
    assert options_for(DEMO, "-t", tag).tags == (tag,)


def test_the_wheel_cache_is_per_distro_build_image_and_platform() -> None:
    plain = render_pack(plan_for(DEMO))
    pillow = render_pack(plan_for(DEMO, "--pillow"))
    bookworm = render_pack(plan_for(DEMO, "--distro", "bookworm"))
    assert re.search(r"id=snakepacker-uv-jammy-all-amd64\s", plain)
    assert re.search(r"id=snakepacker-uv-jammy-all-pillow-amd64\s", pillow)
    assert re.search(r"id=snakepacker-uv-bookworm-all-amd64\s", bookworm)
    options = options_for(DEMO)
    arm = make_plan(options, Family(options.family, platform=get_platform("linux/arm64")),
                    "3.12", decide_entrypoint=True)
    assert re.search(r"id=snakepacker-uv-jammy-all-arm64\s", render_pack(arm))
    assert "FROM snakepacker/python:all-arm64 AS build" in render_pack(arm)


def test_the_index_digest_keys_the_resolving_steps(tmp_path: Path) -> None:
    from snakepacker.engine.secrets import network_fingerprint
    from snakepacker.family.options import NetworkOptions

    text = render_pack(plan_for(DEMO))
    assert text.index("ARG SNAKEPACKER_NETWORK") < text.index("uv pip install")
    a = network_fingerprint(NetworkOptions((), "https://u:secret@a/simple"))
    b = network_fingerprint(NetworkOptions((), "https://u:secret@b/simple"))
    assert a != b and "secret" not in a
    assert a == network_fingerprint(NetworkOptions((), "https://u:secret@a/simple"))


@pytest.mark.parametrize(("table", "field"), [
    ('name = 5\nversion = "1"', "`project.name` must be string"),
    ('name = "a"\nversion = 1.5', "`project.version` must be string"),
    ('name = "a"\nversion = "1"\nrequires-python = 3', "`project.requires-python`"),
    ('name = "a"\nversion = "1"\ndependencies = [1]', "`project.dependencies[0]`"),
    ('name = "a"\nversion = "1"\ndependencies = "notalist"', "`project.dependencies` must"),
])
def test_wrong_types_in_project_are_one_line_naming_the_field(
    tmp_path: Path, table: str, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[project]\n{table}\n")
    assert main(["pack", str(tmp_path), "--dockerfile"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and field in err[0] and err[0].startswith("snakepacker: error: ")


def test_direct_references_are_requirements_and_empty_is_an_error() -> None:
    project = inspect_source("tool[cli] @ https://files.example.invalid/tool-1.0-py3-none-any.whl")
    assert project.kind is SourceKind.REQUIREMENT and project.name == "tool"
    for blank in ("", "  "):
        with pytest.raises(UsageError, match="SOURCE is empty"):
            inspect_source(blank)


def test_the_entry_point_is_checked_when_the_image_is_built() -> None:
    text = render_pack(plan_for(DEMO, "--entrypoint", "nosuchcmd --flag"))
    assert 'command -v nosuchcmd > /dev/null' in text
    assert "rm -f /usr/share/python3/app/.lock" in text


def test_ignore_missing_libs_reaches_find_libdeps() -> None:
    text = render_pack(plan_for(DEMO, "--ignore-missing-libs", "libGL.so.1,libX11.so.6"))
    # Both for the dependencies' venv and, when the project brings ELF files, again.
    assert text.count(
        "find-libdeps --json --ignore-missing=libGL.so.1,libX11.so.6 /usr/share") == 2
    distro = render_pack(plan_for(DEMO, "--ignore-missing-libs", "libGL.so.1", minor="3.10"))
    assert distro.count("find-libdeps --ignore-missing=libGL.so.1 /usr/share") == 2
    with pytest.raises(UsageError, match="not a library's soname"):
        options_for(DEMO, "--ignore-missing-libs", "../x")


def test_final_stage_has_dependency_and_project_layers_apart() -> None:
    text = render_pack(plan_for(DEMO))
    final = instructions(text[text.index("# ============================== final stage"):])
    made = [s.split(" ", 1)[0] + " " + s.split(" ")[1] for s in final
            if s.startswith(("RUN", "COPY", "ADD", "WORKDIR"))]
    # The system packages (their list mounted, not copied), the dependencies' venv, the
    # working directory, and the project's own files last.
    assert "--mount=type=bind,from=project,source=/usr/share/snakepacker/pack/apt-packages.txt,"\
        "target=/tmp/apt-packages.txt" in next(s for s in final if s.startswith("RUN"))
    assert made == ["RUN --mount=type=secret,id=apt-auth,target=/run/secrets/apt-auth",
                    "COPY --from=build", "WORKDIR /app", "COPY --from=project"]
    assert final[-1] == "CMD []" and "COPY --from=project /tmp/snakepacker-layer/ /" in final
    # Nothing compiles the interpreter's stdlib (the X.Y image has it), and the project
    # stage compiles only the files the project's install added (pack-layer's --compile;
    # the second compileall is the build stage's backend venv, which never reaches the
    # final image).
    assert "sysconfig" not in text and text.count("compileall") == 2
    assert "/opt/snakepacker/backend/bin/python -m compileall -q -j0 /opt/snakepacker/backend" \
        in text and "/opt/snakepacker/backend" not in text[text.index("AS project"):].split(
            "# ============================== final stage")[1]
    assert "pack-layer.py gather /tmp/snakepacker-state.json /tmp/snakepacker-layer " \
        "--root /usr/share/python3/app \\\n        --compile" in text
    # The code reaches neither the build stage nor the final one directly.
    build = text[text.index("AS build"):text.index("AS project")]
    assert "COPY . " not in build


LIBPYTHON = ("/opt/python/3.12/lib/libpython3.12.so.1.0", "/opt/python/3.12/lib/libpython3.so")


def test_libpython_is_copied_from_the_build_image_when_the_venv_links_it() -> None:
    """A source-built 3.12's X.Y image has no libpython.so: the final stage mounts the
    build image's two files and copies them to their path only when the project stage's
    list (find-libdeps' answer, read by the probe) is not empty."""
    text = render_pack(plan_for(DEMO))
    final = text[text.index("# ============================== final stage"):]
    run = re.sub(r"\s+", " ", next(s for s in instructions(final) if s.startswith("RUN")))
    assert "--mount=type=bind,from=project,source=/usr/share/snakepacker/pack/libpython.txt," \
        "target=/tmp/libpython.txt" in run
    for path in LIBPYTHON:
        name = path.rpartition("/")[2]
        assert f"--mount=type=bind,from=snakepacker/python:all,source={path},target=/tmp/{name}" \
            in run
    copy = ("if [ -s /tmp/libpython.txt ]; then "
            "cp -p /tmp/libpython3.12.so.1.0 /tmp/libpython3.so /opt/python/3.12/lib/; fi")
    assert copy in run and run.count("cp ") == 1
    # Both lists come from one find-libdeps run: the dependencies', and the project's own
    # when it brings ELF files (else the dependencies' lists are copied on).
    build = text[text.index("AS build"):text.index("AS project")]
    project = text[text.index("AS project"):text.index("final stage")]
    assert build.count("find-libdeps --json /usr/share/python3/app") == 1
    assert "/tmp/deps-packages.txt /tmp/deps-libpython.txt " + " ".join(LIBPYTHON) in build
    assert "/usr/share/snakepacker/pack/apt-packages.txt /usr/share/snakepacker/pack/" \
        "libpython.txt " + " ".join(LIBPYTHON) in project
    assert "cp /tmp/deps-libpython.txt /usr/share/snakepacker/pack/libpython.txt" in project
    # On `all-pillow` the mounts name that build image.
    pillow = render_pack(plan_for(DEMO, "--pillow"))
    assert f"from=snakepacker/python:all-pillow,source={LIBPYTHON[0]}," in pillow


@pytest.mark.parametrize("minor", ["3.10", "3.7"])
def test_no_libpython_copy_where_the_x_y_image_has_it(minor: str) -> None:
    """The distro's 3.10 has libpython as a package (find-libdeps names it like any
    library's); a source-built 3.7 keeps it in its X.Y image (its stdlib links it)."""
    text = render_pack(plan_for(DEMO, minor=minor))
    assert "libpython" not in text.replace("libpython3.7-", "")
    assert "find-libdeps --json" not in text
    assert text.count("find-libdeps /usr/share/python3/app > ") == 2


def _probe(tmp_path: Path, found: dict[str, object], *ours: str) -> tuple[str, str]:
    """Run the probe as the build stage does, on FOUND (find-libdeps' JSON)."""
    import json
    import subprocess
    import sys

    from snakepacker.pack.dockerfile import _LIBPYTHON_PROBE

    answer = tmp_path / "libdeps.json"
    answer.write_text(json.dumps(found))
    packages, needs = tmp_path / "packages.txt", tmp_path / "needs.txt"
    subprocess.run([sys.executable, "-I", "-S", "-c", _LIBPYTHON_PROBE, str(answer),
                    str(packages), str(needs), *ours], check=True)
    return packages.read_text(), needs.read_text()


def test_the_probe_finds_libpython_through_a_link_and_lists_the_packages(
        tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "libpython3.12.so.1.0").write_bytes(b"\x7fELF")
    (lib / "libpython3.so").write_bytes(b"\x7fELF")
    (lib / "libpython3.12.so").symlink_to("libpython3.12.so.1.0")
    ours = (str(lib / "libpython3.12.so.1.0"), str(lib / "libpython3.so"))
    packages = {"libssl3": {}, "libpq5": {}}
    # Found through the development link (and a path with ".."): needed.
    via_link = f"{lib}/../lib/libpython3.12.so"
    listed, needs = _probe(tmp_path, {"packages": packages, "libraries": {
        via_link: [], "/usr/lib/x86_64-linux-gnu/libpq.so.5": ["libpq5"]}}, *ours)
    assert listed == "libpq5\nlibssl3\n"  # sorted, as find-libdeps prints them
    assert needs == "libpython3.12.so\n"
    # Not needed: an empty list, which the final stage reads as "copy nothing".
    listed, needs = _probe(tmp_path, {"packages": {}, "libraries": {
        "/usr/lib/x86_64-linux-gnu/libpq.so.5": ["libpq5"]}}, *ours)
    assert (listed, needs) == ("", "")
    # Another libpython (the distro's, say) is none of the build image's.
    _, needs = _probe(tmp_path, {"packages": {"libpython3.10": {}}, "libraries": {
        "/usr/lib/x86_64-linux-gnu/libpython3.10.so.1.0": ["libpython3.10"]}}, *ours)
    assert needs == ""


def test_pip_installs_the_project_with_the_installers_own_pip() -> None:
    text = render_pack(plan_for(DEMO, "--installer", "pip"))
    assert ("/opt/snakepacker/installer/bin/python -m pip --python "
            "/usr/share/python3/app/bin/python install --no-deps /usr/src/app") in text
    build = text[text.index("AS build"):text.index("AS project")]
    assert "pip uninstall --yes --quiet setuptools wheel pip" in build
    assert "/opt/snakepacker/backend" not in text  # pip builds the wheel in isolation


@pytest.mark.parametrize(("build_system", "requires"), [
    ('[build-system]\nrequires = ["hatchling>=1.20", "hatch-vcs"]\n'
     'build-backend = "hatchling.build"\n', ("hatchling>=1.20", "hatch-vcs")),
    ('[build-system]\nbuild-backend = "setuptools.build_meta"\n',
     ("setuptools>=40.8.0", "wheel")),
    ("", ("setuptools>=40.8.0", "wheel")),  # PEP 517's fallback: setuptools
    ('[build-system]\nrequires = []\nbuild-backend = "backend"\n'
     'backend-path = ["."]\n', ()),
])
def test_a_projects_build_requirements_are_read(
    tmp_path: Path, build_system: str, requires: tuple[str, ...]
) -> None:
    write(tmp_path, {"pyproject.toml": build_system + pyproject(name="app")})
    assert inspect_source(str(tmp_path)).build_requires == requires


def test_a_setup_py_project_builds_with_setuptools(tmp_path: Path) -> None:
    write(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='app')\n"})
    assert inspect_source(str(tmp_path)).build_requires == ("setuptools>=40.8.0", "wheel")


def test_build_requirements_that_are_no_list_of_strings_are_one_line(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[build-system]\nrequires = "setuptools"\n'
                     + pyproject(name="app")})
    with pytest.raises(UsageError, match=r"\[build-system\] requires must be a list of strings"):
        inspect_source(str(tmp_path))


def test_the_project_wheel_is_built_with_a_backend_the_build_stage_installed() -> None:
    """The build stage installs [build-system] requires into a venv of their own, with
    its bytecode; the project stage builds the wheel with it (no isolated environment
    to set up on a code change) and installs that wheel, or, when that backend cannot
    build it (a requirement only get_requires_for_build_wheel names), builds it in
    isolation as before."""
    text = render_pack(plan_for(DEMO))
    build = text[text.index("AS build"):text.index("AS project")]
    assert ("/opt/python/3.12/bin/python3.12 -m venv --without-pip /opt/snakepacker/backend"
            in build)
    assert "uv pip install --python /opt/snakepacker/backend/bin/python 'setuptools>=68'" \
        in build
    assert build.index("/opt/snakepacker/backend") < build.index("'psycopg2>=2.9'")
    project = " ".join(" ".join(instructions(text[text.index("AS project"):text.index(
        "# ============================== final stage")])).split())
    assert ("if uv build --wheel --no-build-isolation --python "
            "/opt/snakepacker/backend/bin/python --out-dir /tmp/snakepacker-wheel "
            "/usr/src/app; then uv pip install --python /usr/share/python3/app/bin/python "
            "--no-deps /tmp/snakepacker-wheel/*.whl; else") in project
    fallback = project[project.index("; else"):project.index("fi;", project.index("; else"))]
    assert "uv pip install --python /usr/share/python3/app/bin/python --no-deps " \
        "/usr/src/app" in fallback
    # The probe finds the project by the wheel it was installed from, too.
    assert 'startswith("file:///tmp/snakepacker-wheel/")' in text


def test_a_project_installed_with_its_dependencies_builds_in_isolation(tmp_path: Path) -> None:
    """Dependencies not all in the layer before (a lock that leaves some out): the
    project's install resolves them, from its directory, as before."""
    write(tmp_path, {"pyproject.toml": pyproject(name="app", dynamic=["dependencies"])})
    write(tmp_path, {"requirements.txt": "six==1.16.0\n"})
    plan = plan_for(tmp_path, "--entrypoint", "app")
    assert not plan.options.project.complete and plan.options.project.lock
    text = render_pack(plan)
    assert "/opt/snakepacker/backend" not in text and "--no-build-isolation" not in text


def test_a_valid_project_table_is_checked_once(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from snakepacker.pack import project as project_module

    monkeypatch.setenv("SNAKEPACKER_CACHE", str(tmp_path / "cache"))
    write(tmp_path / "p", {"pyproject.toml": pyproject(name="once", scripts={"o": "o:m"})})
    inspect_source(str(tmp_path / "p"))
    assert len(list((tmp_path / "cache" / "valid-projects").iterdir())) == 1

    def no_validator() -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(project_module, "_validator", no_validator)
    inspect_source(str(tmp_path / "p"))  # remembered: the schema is not compiled again
    (tmp_path / "p" / "pyproject.toml").write_text(
        '[project]\nname = "once"\nversion = "1"\ndependencies = [1]\n')
    with pytest.raises(AssertionError, match="validated again"):
        inspect_source(str(tmp_path / "p"))  # another table is checked


# -- the build record -------------------------------------------------------------------


def test_an_app_repeats_the_grade_its_parent_was_built_with() -> None:
    """Not this run's options: a quick parent makes a quick app, whatever pack is told."""
    plan = plan_for(DEMO)
    assert build_record_in(render_pack(plan))["grade"] == "unknown"
    for grade in ("quick", "release", "release+bolt"):
        record = build_record_in(render_pack(dataclasses.replace(plan, parent_grade=grade)))
        assert record["grade"] == grade and record["distro"] == "jammy"
        assert [c["minor"] for c in record["cpython"]] == ["3.12"]


@pytest.mark.parametrize("found, grade", [
    ({"io.snakepacker.build": '{"distro":"noble","grade":"release+bolt"}'}, "release+bolt"),
    ({"io.snakepacker.build": '{"distro":"jammy","grade":"quick"}'}, "quick"),
    ({"io.snakepacker.build": "not json"}, "unknown"),
    ({"io.snakepacker.build": '["a list"]'}, "unknown"),
    ({"org.opencontainers.image.title": "an image of someone else's"}, "unknown"),
    (None, "unknown"),  # no labels at all
])
def test_pack_reads_the_grade_from_the_parent_images_label(
        found: dict[str, str] | None, grade: str) -> None:
    plan = plan_for(DEMO)
    engine = FakeEngine(images={plan.final_ref: "sha256:1", plan.build_ref: "sha256:2"},
                        image_labels={plan.final_ref: found} if found else {})
    family = Family(plan.options.family)
    stages = stage_images(engine, plan, family)
    assert (stages.build_id, stages.final_id, stages.grade) == ("sha256:2", "sha256:1", grade)
    # One query, which also asks about base (and X.Y, here the final image) for the
    # size report.
    assert engine.called("describe") == [
        ((plan.build_ref, plan.final_ref, family.ref("base")),)]


def test_a_parent_not_built_has_no_id_and_no_grade() -> None:
    plan = plan_for(DEMO)
    family = Family(plan.options.family)
    engine = FakeEngine(images={plan.build_ref: "sha256:2"})
    stages = stage_images(engine, plan, family)
    assert (stages.build_id, stages.final_id, stages.grade) == ("sha256:2", None, "unknown")
    assert set(stages.facts) == {plan.build_ref}
    stages = stage_images(FakeEngine(), plan, family)
    assert (stages.build_id, stages.final_id, stages.grade) == (None, None, "unknown")


@pytest.mark.parametrize("flag", ["--quick", "--bolt"])
def test_pack_has_no_grade_options_of_its_own(
        flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The grade is the parent image's: pack refuses the family's grade options as bad
    usage, one line and exit code 2, before anything else."""
    with pytest.raises(SystemExit) as exited:
        main(["pack", str(DEMO), flag, "--dockerfile"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert re.fullmatch(rf"snakepacker: error: unrecognized arguments: {flag} "
                        r"\(see `snakepacker[a-z ]*--help`\)\n", err), err


def test_compiled_templates_are_kept_in_the_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pack's loop compiles its templates once; a cache directory that cannot be made
    only costs that time again."""
    from snakepacker import templating

    expected = render_pack(plan_for(DEMO))
    try:
        monkeypatch.setenv("SNAKEPACKER_CACHE", str(tmp_path / "cache"))
        templating._environment.cache_clear()
        assert render_pack(plan_for(DEMO)) == expected
        folders = list((tmp_path / "cache").glob("templates-*"))
        assert len(folders) == 1  # one per version of the environment's code
        kept = list(folders[0].iterdir())
        assert kept and all(p.stat().st_size > 1000 for p in kept)
        templating._environment.cache_clear()
        assert render_pack(plan_for(DEMO)) == expected  # read back from the cache
        (tmp_path / "file").write_text("")
        monkeypatch.setenv("SNAKEPACKER_CACHE", str(tmp_path / "file" / "cache"))
        templating._environment.cache_clear()
        assert render_pack(plan_for(DEMO)) == expected
    finally:
        templating._environment.cache_clear()


def test_the_distributions_a_project_names_without_building(tmp_path: Path) -> None:
    """What the size report's advice is about: the requirement packed, the declared
    dependencies, and what a lock pins."""
    assert plan_for("OpenCV-Python==4.10.0.84", "--entrypoint", "python") \
        .named_distributions() == {"opencv-python"}
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "vision"\nversion = "1"\n'
        'dependencies = ["opencv-python-headless>=4", "numpy; python_version >= \'3\'"]\n'
        'scripts = {vision = "app:main"}\n')
    (tmp_path / "app.py").write_text("def main():\n    pass\n")
    assert plan_for(tmp_path).named_distributions() == {"opencv-python-headless", "numpy"}


def _stages(text: str) -> dict[str, str]:
    """The rendered Dockerfile's stages by name (the text from one FROM to the next)."""
    parts = re.split(r"^FROM \S+ AS (\w+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_cache_is_keyed_by_the_dependency_list_not_the_place(tmp_path: Path) -> None:
    """Two checkouts of one project share the installer's cache; another lock gets
    another; the project's own code never runs where the cache is mounted."""
    first, second = tmp_path / "one", tmp_path / "two"
    shutil.copytree(DEMO, first)
    shutil.copytree(DEMO, second)
    scopes = [cache_scope(plan_for(p), "sha256:" + "a" * 64) for p in (first, second)]
    assert scopes[0] == scopes[1]
    pyproject = second / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("dependencies = [",
                                                       'dependencies = ["six", ', 1))
    assert cache_scope(plan_for(second), "sha256:" + "a" * 64) != scopes[0]
    assert cache_scope(plan_for(first), "sha256:" + "b" * 64) != scopes[0]  # another `all`
    stages = _stages(render_pack(plan_for(first)))
    assert "type=cache" in stages["build"] and "type=cache" not in stages["project"]


def test_a_project_that_runs_code_to_list_its_dependencies_gets_no_cache(
        tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='dyn', version='1', py_modules=['app'], install_requires=['six'],\n"
        "      entry_points={'console_scripts': ['dyn=app:main']})\n")
    (tmp_path / "app.py").write_text("def main():\n    pass\n")
    stages = _stages(render_pack(plan_for(tmp_path, "--entrypoint", "dyn")))
    assert "type=cache" not in stages["metadata"] + stages["project"]
    # The build backend's venv (setuptools, as [build-system] would name it) may use
    # the cache; the dependencies' step, whose list the project's code made, may not.
    deps = stages["build"].split("# The dependencies,")[1]
    assert "type=cache" not in deps and "type=cache" in stages["build"]

"""The Python tools run unchanged on every CPython from 3.7 on.

Each tool is run as a script under every interpreter found (pyenv versions and
the one running the tests), both as `pythonX.Y file.py` and through its
sh/Python polyglot header, the way images start it.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.family.cpython import GIL_MINORS
from snakepacker.pack.options import DEFAULT_VENV
from snakepacker.tools import EMBEDDED_SCRIPTS, STAGE_SCRIPTS, TOOL_FILES

PYTHON_TOOLS = {name: TOOL_FILES[name] for name in ("wait-for-port", "find-libdeps")}
# Every stdlib-only script an image or a build stage runs (sysconfig-cc is given to a
# freshly built CPython by its build stage, so it has no header).
STDLIB_SCRIPTS = {**PYTHON_TOOLS, **STAGE_SCRIPTS, **EMBEDDED_SCRIPTS}
OLDEST = (3, 7)


def _version_of(python: str) -> tuple[int, int] | None:
    match = re.search(r"/(\d+)\.(\d+)[^/]*/bin/python3$", python)
    if match:
        return int(match.group(1)), int(match.group(2))
    return None


def interpreters() -> list[tuple[tuple[int, int], str]]:
    """(version, path) of every CPython 3.7+ to test with, oldest first."""
    roots = {os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv"), "/root/.pyenv"}
    found: dict[str, tuple[int, int]] = {}
    for root in sorted(r for r in roots if r):
        for python in glob.glob(os.path.join(root, "versions", "3.*", "bin", "python3")):
            version = _version_of(python)
            if version is not None and version >= OLDEST and os.access(python, os.X_OK):
                found.setdefault(os.path.realpath(python), version)
    current = os.path.realpath(sys.executable)
    found.setdefault(current, sys.version_info[:2])
    return sorted(((v, p) for p, v in found.items()), key=lambda item: (item[0], item[1]))


INTERPRETERS = interpreters()
IDS = [f"{major}.{minor}" for (major, minor), _ in INTERPRETERS]


@pytest.fixture(params=INTERPRETERS, ids=IDS)
def python(request: pytest.FixtureRequest) -> str:
    return request.param[1]


@pytest.fixture
def listener() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def closed_port() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture(scope="module")
def elf_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real extension modules (linked to libssl, libffi...) and a non-ELF .so."""
    tree = tmp_path_factory.mktemp("elf-tree")
    modules = sorted(glob.glob("/usr/lib/python3*/lib-dynload/*.so"))
    modules = [m for m in modules if os.path.basename(m).startswith(("_ssl", "_ctypes", "_bz2"))]
    if not modules:
        modules = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "lib-dynload", "*")))
    for module in modules[:6]:
        shutil.copy(module, tree / os.path.basename(module))
    (tree / "not-elf.so").write_text("nothing to see\n")
    return tree


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def reference_find_libdeps(tree: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(PYTHON_TOOLS["find-libdeps"]), "--json", str(tree)])


def test_oldest_interpreter_is_tested() -> None:
    versions = [version for version, _ in INTERPRETERS]
    assert versions, "no interpreter at all"
    if not any(v < sys.version_info[:2] for v in versions):
        pytest.skip("only the running interpreter is available on this host")
    assert min(versions) <= (3, 8)


# --- as `pythonX.Y file.py` ------------------------------------------------------


def test_wait_for_port_runs(python: str, listener: str, closed_port: str) -> None:
    tool = str(PYTHON_TOOLS["wait-for-port"])
    # -I -S: isolated and without site-packages, so only the stdlib is there.
    up = run([python, "-I", "-S", tool, "-t", "10", listener])
    assert up.returncode == 0, up.stderr
    down = run([python, "-I", "-S", tool, "--period=0.1", "-t", "0.3", closed_port])
    assert down.returncode == 10, down.stderr
    assert closed_port in down.stderr
    bad = run([python, "-I", "-S", tool, "localhost:99999"])
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1
    command = run([python, "-I", "-S", tool, "-q", listener, "--", "sh", "-c", "exit 5"])
    assert command.returncode == 5, command.stderr
    helped = run([python, "-I", "-S", tool, "--help"])
    assert helped.returncode == 0
    assert "exit status" in helped.stdout


def test_find_libdeps_runs(python: str, elf_tree: Path) -> None:
    tool = str(PYTHON_TOOLS["find-libdeps"])
    result = run([python, "-I", "-S", tool, "--json", str(elf_tree)])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == reference_find_libdeps(elf_tree).stdout
    assert '"libc6"' in result.stdout or not os.path.isdir("/var/lib/dpkg/info")
    verbose = run([python, "-I", "-S", tool, "-v", str(elf_tree)])
    assert "not-elf.so" in verbose.stderr


# --- through the polyglot header -------------------------------------------------


def _bin_dir(tmp_path: Path, python: str, name: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / name).symlink_to(python)
    return bin_dir


# Where the header looks when PATH has no Python: source-built CPythons, then a packed
# app's venv (test_header_follows_the_family keeps these the family's).
FALLBACKS = ("/opt/python/", "/usr/share/python3/app/bin/python")


def relocated(name: str, root: Path) -> Path:
    """A copy of tool NAME whose header looks for its fallback interpreters under ROOT
    instead of /, so that a test, not this machine, decides which of them exist."""
    lines = PYTHON_TOOLS[name].read_text().splitlines(keepends=True)
    end = lines.index('"""\n')
    header = "".join(lines[:end])
    for path in FALLBACKS:
        assert path in header, path
        header = header.replace(path, f"{root}{path}")
        assert header.count(path) == header.count(f"{root}{path}"), path  # every one moved
    copy = root / "tool" / PYTHON_TOOLS[name].name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(header + "".join(lines[end:]))
    copy.chmod(0o755)
    return copy


def logging_python(root: Path, path: str, log: Path) -> None:
    """An interpreter at ROOT/PATH that notes it was chosen (in LOG), then runs the
    tool with the Python running these tests."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_text(f'#!/bin/sh\necho "{path}" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    target.chmod(0o755)


def chosen(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def fallbacks(tmp_path: Path) -> tuple[Path, Path]:
    """A root with two source-built CPythons and an app's venv, each noting its use in
    the log: (root, log)."""
    root, log = tmp_path / "root", tmp_path / "chosen.log"
    for path in ("/opt/python/3.10/bin/python3", "/opt/python/3.12.3/bin/python3",
                 "/usr/share/python3/app/bin/python"):
        logging_python(root, path, log)
    return root, log


def test_header_uses_python3_on_path(
    python: str, tmp_path: Path, listener: str, elf_tree: Path, fallbacks: tuple[Path, Path]
) -> None:
    # PATH holds nothing but this python3: the header can only have used it, and it
    # comes before every fallback, all of which are there.
    root, log = fallbacks
    env = {"PATH": str(_bin_dir(tmp_path, python, "python3"))}
    waited = run([str(relocated("wait-for-port", root)), "-t", "10", listener], env=env)
    assert waited.returncode == 0, waited.stderr
    found = run([str(relocated("find-libdeps", root)), "--json", str(elf_tree)], env=env)
    assert found.returncode == 0, found.stderr
    assert found.stdout == reference_find_libdeps(elf_tree).stdout
    assert chosen(log) == []


def test_header_finds_versioned_python(
    python: str, tmp_path: Path, listener: str, fallbacks: tuple[Path, Path]
) -> None:
    root, log = fallbacks
    version = _version_of(python) or sys.version_info[:2]
    env = {"PATH": str(_bin_dir(tmp_path, python, "python{}.{}".format(*version)))}
    for name, args in (("wait-for-port", ["-t", "10", listener]), ("find-libdeps", ["--help"])):
        result = run([str(relocated(name, root)), *args], env=env)
        assert result.returncode == 0, (name, result.stderr)
    assert chosen(log) == []


@pytest.mark.parametrize("name", sorted(PYTHON_TOOLS))
def test_header_without_python_on_path_takes_the_newest_source_built_one(
    name: str, tmp_path: Path, fallbacks: tuple[Path, Path]
) -> None:
    root, log = fallbacks
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run([str(relocated(name, root)), "--help"], env={"PATH": str(empty)})
    assert result.returncode == 0, result.stderr
    assert chosen(log) == ["/opt/python/3.12.3/bin/python3"]


@pytest.mark.parametrize("name", sorted(PYTHON_TOOLS))
def test_header_takes_the_apps_venv_when_there_is_nothing_else(
    name: str, tmp_path: Path
) -> None:
    root, log = tmp_path / "root", tmp_path / "chosen.log"
    logging_python(root, "/usr/share/python3/app/bin/python", log)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run([str(relocated(name, root)), "--help"], env={"PATH": str(empty)})
    assert result.returncode == 0, result.stderr
    assert chosen(log) == ["/usr/share/python3/app/bin/python"]


@pytest.mark.parametrize("name", sorted(PYTHON_TOOLS))
def test_header_without_any_python(name: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    tool = relocated(name, tmp_path / "root")  # no interpreter anywhere under it
    result = run([str(tool), "--help"], env={"PATH": str(empty)})
    assert result.returncode == 127
    assert result.stderr == f"{name}: no Python interpreter found in this image\n"


@pytest.mark.parametrize("name", sorted(PYTHON_TOOLS))
def test_header_shape(name: str) -> None:
    path = PYTHON_TOOLS[name]
    assert os.access(path, os.X_OK)
    lines = path.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    module = ast.parse(path.read_text())
    # The shell block is the module docstring, __future__ comes right after it.
    assert ast.get_docstring(module) is not None
    first = module.body[1]
    assert isinstance(first, ast.ImportFrom) and first.module == "__future__"
    assert "__main__" in path.read_text()


@pytest.mark.parametrize("name", sorted(PYTHON_TOOLS))
def test_header_shell_part_is_clean(name: str, tmp_path: Path) -> None:
    lines = PYTHON_TOOLS[name].read_text().splitlines()
    end = lines.index('"""')
    header = tmp_path / "header.sh"
    header.write_text("\n".join(lines[:end]) + "\n")
    syntax = run(["sh", "-n", str(header)])
    assert syntax.returncode == 0, syntax.stderr
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    checked = run(["shellcheck", "--shell=sh", str(header)])
    assert checked.returncode == 0, checked.stdout


# The interpreter's own sysconfig files: (_sysconfigdata_*.py, the config Makefile).
_SYSCONFIG_FILES = (
    "import importlib.util, sysconfig; "
    "print(importlib.util.find_spec(sysconfig._get_sysconfigdata_name()).origin); "
    "print(sysconfig.get_makefile_filename())"
)
_CLANG = {"gcc": "clang", "cc": "clang", "g++": "clang++", "c++": "clang++"}


def _load_vars(path: Path) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    variables = namespace["build_time_vars"]
    assert isinstance(variables, dict)
    return variables


def _clang_built_prefix(python: str, prefix: Path) -> tuple[Path, Path, dict[str, object]]:
    """PREFIX laid out as an installed CPython whose sysconfig files are PYTHON's own,
    with the compiler commands turned into clang's, as a clang build records them; with
    the JSON copy of the variables that CPython 3.14 adds beside them."""
    data, makefile = run([python, "-c", _SYSCONFIG_FILES]).stdout.split()
    variables = _load_vars(Path(data))
    for name in ("CC", "CXX", "LDSHARED", "LDCXXSHARED", "BLDSHARED", "LINKCC"):
        value = variables.get(name)
        if isinstance(value, str) and value.split(" ")[0] in _CLANG:
            first, _, rest = value.partition(" ")
            variables[name] = " ".join((_CLANG[first], rest)).strip()
    assert str(variables["CC"]).startswith("clang"), variables["CC"]
    variables["CONFIG_ARGS"] = "'CC=clang' 'LDFLAGS_NODIST=-fuse-ld=lld'"
    lib = prefix / "lib" / Path(data).parent.name
    (lib / Path(makefile).parent.name).mkdir(parents=True)
    copied = lib / Path(data).name
    copied.write_text("build_time_vars = " + repr(variables) + "\n")
    (lib / "_sysconfig_vars__test.json").write_text(json.dumps(variables))
    clang_makefile = lib / Path(makefile).parent.name / "Makefile"
    lines = Path(makefile).read_text().splitlines()
    clang_makefile.write_text("\n".join(
        re.sub(r"^(CC|CXX)=(\s*)(\S+)", lambda m: m[1] + "=" + m[2] + _CLANG.get(m[3], m[3]),
               line) for line in lines) + "\n")
    return copied, clang_makefile, variables


def test_sysconfig_cc_sends_extension_builds_to_the_system_compiler(
    python: str, tmp_path: Path
) -> None:
    data, makefile, before = _clang_built_prefix(python, tmp_path)
    makefile_before = makefile.read_text()
    script = str(STAGE_SCRIPTS["sysconfig-cc"])
    result = run([python, "-I", "-S", script, str(tmp_path)])
    assert result.returncode == 0, result.stderr
    as_json = data.parent / "_sysconfig_vars__test.json"
    assert result.stdout.split() == [str(data), str(as_json), str(makefile)]

    after = _load_vars(data)
    assert str(after["CC"]).split(" ")[0] == "cc"
    assert str(after["LDSHARED"]).split(" ")[0] == "cc"
    changed = {name for name in before if before[name] != after[name]}
    assert "CC" in changed and changed <= {"CC", "CXX", "LDSHARED", "LDCXXSHARED",
                                           "BLDSHARED", "LINKCC"}
    for name in changed:  # only the driver's name, the flags after it kept
        assert str(after[name]).split(" ")[1:] == str(before[name]).split(" ")[1:]
    assert after["CONFIG_ARGS"] == before["CONFIG_ARGS"]  # how it was really built
    assert json.loads(as_json.read_text()) == after
    # The interpreter that owns the files reads them back as its sysconfig would.
    read = run([python, "-I", "-S", "-c", "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
                "print(importlib.import_module(sys.argv[2]).build_time_vars['CC'])",
                str(data.parent), data.stem])
    assert read.stdout.strip() == after["CC"], read.stderr
    old = [line for line in makefile_before.splitlines() if line.startswith("CC=")]
    new = [line for line in makefile.read_text().splitlines() if line.startswith("CC=")]
    assert old and "clang" in old[0] and new == [old[0].replace("clang", "cc", 1)]
    assert len(makefile.read_text().splitlines()) == len(makefile_before.splitlines())

    again = run([python, "-I", "-S", script, str(tmp_path)])  # nothing left to change
    assert (again.returncode, again.stdout) == (0, "")


def test_sysconfig_cc_refuses_what_is_not_a_cpython_prefix(tmp_path: Path) -> None:
    script = str(STAGE_SCRIPTS["sysconfig-cc"])
    usage = run([sys.executable, script])
    assert usage.returncode == 2 and "usage: sysconfig-cc PREFIX" in usage.stderr
    empty = run([sys.executable, script, str(tmp_path)])
    assert empty.returncode == 1 and "no _sysconfigdata_*.py under" in empty.stderr


# --- static checks -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STDLIB_SCRIPTS))
def test_vermin_says_37_is_enough(name: str) -> None:
    vermin = shutil.which("vermin") or str(Path(sys.executable).parent / "vermin")
    if not os.path.exists(vermin):
        pytest.skip("vermin is not installed (pip install -e '.[test]')")
    result = run([vermin, "--no-tips", "--violations", "-t=3.7-", str(STDLIB_SCRIPTS[name])])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(STDLIB_SCRIPTS))
def test_standard_library_only(name: str) -> None:
    module = ast.parse(STDLIB_SCRIPTS[name].read_text())
    imported: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_git_keeps_the_scripts_executable() -> None:
    root = Path(__file__).resolve().parents[2]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for path in (*PYTHON_TOOLS.values(), TOOL_FILES["apt-install"]):
        relative = str(Path(path).resolve().relative_to(root))
        listed = run(["git", "-C", str(root), "ls-files", "-s", relative])
        if not listed.stdout:
            pytest.skip(f"{relative} is not committed yet")
        assert listed.stdout.startswith("100755 "), listed.stdout


@pytest.mark.parametrize("name", sorted(PYTHON_TOOLS))
def test_header_follows_the_family(name: str) -> None:
    # The shell header can not import the family data: it repeats the CPython
    # minors (newest first) and the default venv of packed apps, and must keep
    # up with them. A free-threaded image has python3 on PATH, which the header tries
    # first: its minors (3.13t) need no loop of their own.
    lines = PYTHON_TOOLS[name].read_text().splitlines()
    header = "\n".join(lines[: lines.index('"""')])
    newest_first = sorted(GIL_MINORS, key=lambda m: tuple(int(p) for p in m.split(".")),
                          reverse=True)
    loops = dict(re.findall(r"^for (\w+) in ([^;]*); do$", header, re.MULTILINE))
    assert loops["v"].split() == ["3", *newest_first]
    assert loops["minor"].split() == [m.split(".")[1] for m in newest_first]
    assert set(re.findall(r'(/[^\s"$]+)/bin/python\b', header)) == {DEFAULT_VENV}

"""find-libdeps on real ELF files and the real dpkg database of this host.

The expected packages are worked out independently of find-libdeps: readelf
gives the needed sonames, ldd the library the loader picks, dpkg-query -S the
package owning it.
"""

from __future__ import annotations

import glob
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snakepacker.tools import find_libdeps

TOOL = Path(find_libdeps.__file__)

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/var/lib/dpkg/info"), reason="needs a Debian host with a dpkg database"
)

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
needs_binutils = pytest.mark.skipif(
    shutil.which("readelf") is None or shutil.which("ldd") is None, reason="needs readelf and ldd"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120
    )


def packages_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.split()


# --- an independent oracle ------------------------------------------------------


def needed_sonames(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def ldd_paths(path: Path) -> dict[str, str]:
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
    found = dict(re.findall(r"^\s*(\S+) => (/\S+)", out, re.MULTILINE))
    # The dynamic loader itself is printed as a bare path.
    for loader in re.findall(r"^\s*(/\S+) \(0x", out, re.MULTILINE):
        found.setdefault(os.path.basename(loader), loader)
    return found


def usr_merge_twins(path: str) -> list[str]:
    for top in ("/lib/", "/lib64/", "/bin/", "/sbin/"):
        if path.startswith(top):
            return [path, "/usr" + path]
        if path.startswith("/usr" + top):
            return [path, path[4:]]
    return [path]


def dpkg_owner(path: str) -> str | None:
    resolved = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    for candidate in [
        *usr_merge_twins(path),
        *usr_merge_twins(resolved),
        *usr_merge_twins(os.path.realpath(path)),
    ]:
        out = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                owner, _, listed = line.partition(": ")
                if listed == candidate and not owner.startswith("diversion by"):
                    return owner.split(":")[0].split(",")[0].strip()
    return None


def expected_packages(files: list[Path]) -> set[str]:
    expected: set[str] = set()
    for path in files:
        found = ldd_paths(path)
        for soname in needed_sonames(path):
            owner = dpkg_owner(found[soname])
            assert owner is not None, f"no package owns {found[soname]}"
            expected.add(owner)
    return expected


# --- fixtures ---------------------------------------------------------------------


def system_extension_modules() -> list[Path]:
    """Extension modules of the Debian Python: owned by packages, linked to others."""
    found = sorted(glob.glob("/usr/lib/python3*/lib-dynload/*.so"))
    found += sorted(glob.glob("/usr/lib/python3/dist-packages/*.so"))
    return [Path(p) for p in found if not os.path.islink(p)]


@pytest.fixture
def modules_tree(tmp_path: Path) -> Path:
    modules = system_extension_modules()
    if len(modules) < 5:
        pytest.skip("no Debian Python extension modules on this host")
    tree = tmp_path / "tree"
    tree.mkdir()
    for module in modules:
        shutil.copy(module, tree / module.name)
    return tree


def compile_c(
    out: Path, source: str, *flags: str, shared: bool = True, cwd: Path | None = None
) -> Path:
    src = out.parent / f".{out.name}.c"
    # Use libc, so that libc.so.6 is needed even with --as-needed linking.
    src.write_text('#include <stdio.h>\nint libc_user(void) { return puts("x"); }\n' + source)
    cmd = ["cc", "-o", str(out), str(src), *(["-shared", "-fPIC"] if shared else []), *flags]
    subprocess.run(cmd, check=True, cwd=cwd, capture_output=True)
    src.unlink()
    return out


def find_manylinux_wheel(cache: Path) -> Path:
    """A manylinux wheel with vendored libraries: from disk if any, else from PyPI."""
    patterns = ["/opt/wheels/*.whl", "/opt/pypi*/files/*.whl", "/opt/pypi*/simple/*/*.whl"]
    preferred = ("pillow-", "numpy-", "scipy-", "lxml-")
    candidates = sorted(
        (p for pattern in patterns for p in glob.glob(pattern)),
        key=lambda p: os.path.getsize(p),
    )
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for path in candidates:
        name = os.path.basename(path).lower()
        if name.startswith(preferred) and "manylinux" in name and "x86_64" in name and tag in name:
            with zipfile.ZipFile(path) as wheel:
                if any(".libs/" in n for n in wheel.namelist()):
                    return Path(path)
    cache.mkdir(parents=True, exist_ok=True)
    cached = sorted(cache.glob("pillow-*.whl"))
    if cached:
        return cached[0]
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--no-deps",
            "-d",
            str(cache),
            "pillow",
        ],
        capture_output=True,
        text=True,
    )
    cached = sorted(cache.glob("pillow-*.whl"))
    if download.returncode != 0 or not cached:
        pytest.skip("no manylinux wheel on disk and none could be downloaded")
    return cached[0]


@pytest.fixture(scope="session")
def wheel_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = find_manylinux_wheel(tmp_path_factory.mktemp("wheel-cache"))
    tree = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tree)
    for info_path in tree.rglob("*"):
        if info_path.is_file():
            info_path.chmod(0o755)
    return tree


# --- the machine's own libraries -------------------------------------------------


@needs_binutils
def test_system_extension_modules_match_dpkg_query(modules_tree: Path) -> None:
    result = run(str(modules_tree))
    assert result.returncode == 0, result.stderr
    got = packages_of(result)
    assert got == sorted(set(got)), "output must be sorted and unique"
    expected = expected_packages(sorted(modules_tree.iterdir()))
    assert set(got) == expected
    assert "libc6" in got


@needs_binutils
@pytest.mark.parametrize(
    ("module", "package_pattern"),
    [
        ("_ssl", r"libssl\d"),
        ("_ctypes", r"libffi\d"),
        ("_lzma", r"liblzma\d+"),
        ("_uuid", r"libuuid\d+"),
        ("_bz2", r"libbz2-[\d.]+"),
        ("_sqlite3", r"libsqlite3-\d+"),
    ],
)
def test_single_module(tmp_path: Path, module: str, package_pattern: str) -> None:
    matches = [p for p in system_extension_modules() if p.name.startswith(module + ".")]
    if not matches:
        pytest.skip(f"{module} is built in or absent here")
    shutil.copy(matches[0], tmp_path / matches[0].name)
    result = run(str(tmp_path))
    assert result.returncode == 0, result.stderr
    got = packages_of(result)
    assert any(re.fullmatch(package_pattern, p) for p in got), got
    assert set(got) == expected_packages([tmp_path / matches[0].name])


def test_elf_is_recognised_whatever_its_name(tmp_path: Path) -> None:
    modules = [p for p in system_extension_modules() if p.name.startswith("_ssl.")]
    if not modules:
        pytest.skip("no _ssl extension module")
    shutil.copy(modules[0], tmp_path / "no-extension-at-all")
    got = packages_of(run(str(tmp_path)))
    assert any(p.startswith("libssl") for p in got), got


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    modules = [p for p in system_extension_modules() if p.name.startswith("_ssl.")]
    if not modules:
        pytest.skip("no _ssl extension module")
    (tmp_path / "link.so").symlink_to(modules[0])
    (tmp_path / "dirlink").symlink_to(modules[0].parent)
    result = run(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_scanning_a_system_directory_itself() -> None:
    # /usr/lib/python3.X/lib-dynload as given, with the real file names.
    dirs = sorted(glob.glob("/usr/lib/python3*/lib-dynload"))
    if not dirs:
        pytest.skip("no Debian Python")
    result = run(dirs[0])
    assert result.returncode == 0, result.stderr
    assert "libc6" in packages_of(result)


# --- /usr-merge, diversions and the dpkg database --------------------------------


def test_usr_merge_library_registered_under_lib() -> None:
    # libc6 registers its libraries under /lib/<triplet>; the loader may find them
    # under /usr/lib/<triplet>.
    listed = subprocess.run(["dpkg-query", "-L", "libc6"], capture_output=True, text=True)
    libc = [line for line in listed.stdout.splitlines() if line.endswith("/libc.so.6")]
    if not libc or not libc[0].startswith("/lib/"):
        pytest.skip("libc6 does not register libc.so.6 under /lib here")
    usr_path = "/usr" + libc[0]
    if not os.path.exists(usr_path):
        pytest.skip("no /usr-merge on this host")
    assert usr_path not in listed.stdout.splitlines()
    db = find_libdeps.DpkgDb()
    candidates = find_libdeps.owner_candidates(usr_path)
    listed_owners = db.owners(candidates)
    assert db.owner_of(usr_path, listed_owners) == set()
    assert db.owner_of(libc[0], listed_owners) == {"libc6"}


@needs_cc
def test_usr_merge_through_runpath(tmp_path: Path) -> None:
    # RUNPATH makes the loader find libc.so.6 under /usr/lib/<triplet> first.
    triplet_dirs = glob.glob("/usr/lib/*-linux-gnu*/libc.so.6")
    if not triplet_dirs:
        pytest.skip("no multiarch libc")
    libdir = os.path.dirname(triplet_dirs[0])
    tree = tmp_path / "tree"
    tree.mkdir()
    compile_c(tree / "libuser.so", "int f(void) { return 1; }\n", f"-Wl,-rpath,{libdir}")
    result = run("--json", str(tree))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["libraries"][f"{libdir}/libc.so.6"] == ["libc6"]
    assert list(data["packages"]) == ["libc6"]


def test_diversions_are_read() -> None:
    db = find_libdeps.DpkgDb()
    with open("/var/lib/dpkg/diversions") as handle:
        lines = handle.read().splitlines()
    if len(lines) < 3:
        pytest.skip("no diversions on this host")
    original, moved, by = lines[0], lines[1], lines[2]
    assert db.diverted_to[moved][0] == original
    listed = db.owners([original, moved])
    if by != ":" and by in listed.get(original, set()):
        # The file now at the original path is the diverting package's.
        assert db.owner_of(original, listed) == {by}
    assert by not in db.owner_of(moved, listed)


def test_arch_qualified_list_files_give_plain_names() -> None:
    arch_lists = glob.glob("/var/lib/dpkg/info/*:*.list")
    if not arch_lists:
        pytest.skip("no arch-qualified list files")
    name = os.path.basename(arch_lists[0])[: -len(".list")]
    with open(arch_lists[0]) as handle:
        paths = [line for line in handle.read().splitlines() if line and line != "/."]
    files = [p for p in paths if os.path.isfile(p) and not os.path.islink(p)]
    if not files:
        pytest.skip("that package ships no regular file")
    owners = find_libdeps.DpkgDb().owners([files[0]])
    assert name.split(":")[0] in owners[files[0]]
    assert all(":" not in owner for owner in owners[files[0]])


# --- libraries inside the tree, RUNPATH and RPATH ---------------------------------


@needs_cc
@pytest.mark.parametrize("dtags", ["--enable-new-dtags", "--disable-new-dtags"])
def test_origin_runpath_library_inside_tree_is_no_system_dep(tmp_path: Path, dtags: str) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg" / "lib").mkdir(parents=True)
    compile_c(
        tree / "pkg" / "lib" / "libsnakeinner.so.1",
        "int inner(void) { return 2; }\n",
        "-Wl,-soname,libsnakeinner.so.1",
    )
    compile_c(
        tree / "pkg" / "ext.so",
        "int inner(void);\nint outer(void) { return inner(); }\n",
        f"-L{tree / 'pkg' / 'lib'}",
        "-l:libsnakeinner.so.1",
        f"-Wl,{dtags}",
        "-Wl,-rpath,$ORIGIN/lib",
    )
    tag = "RUNPATH" if dtags == "--enable-new-dtags" else "RPATH"
    dynamic = subprocess.run(["readelf", "-d", str(tree / "pkg" / "ext.so")], capture_output=True)
    assert f"({tag})".encode() in dynamic.stdout
    result = run("--json", str(tree))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data["packages"]) == ["libc6"]
    assert data["missing"] == {}
    assert not any("libsnakeinner" in lib for lib in data["libraries"])

    # Move the library where $ORIGIN/lib does not reach and out of the tree:
    # now it must be reported missing, which shows the lookup above was real.
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(str(tree / "pkg" / "lib" / "libsnakeinner.so.1"), outside)
    missing = run(str(tree))
    assert missing.returncode == 1
    assert "libsnakeinner.so.1" in missing.stderr
    assert str(tree / "pkg" / "ext.so") in missing.stderr


@needs_cc
def test_library_found_by_name_elsewhere_in_tree(tmp_path: Path) -> None:
    # Not on any search path, but shipped inside the tree (preloaded by the app).
    build = tmp_path / "build"
    build.mkdir()
    compile_c(build / "libsnakepre.so", "int pre(void) { return 3; }\n")
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "b").mkdir()
    compile_c(
        tree / "a" / "user.so",
        "int pre(void);\nint use(void) { return pre(); }\n",
        f"-L{build}",
        "-lsnakepre",
    )
    shutil.copy(build / "libsnakepre.so", tree / "b" / "libsnakepre.so")
    result = run(str(tree))
    assert result.returncode == 0, result.stderr
    assert packages_of(result) == ["libc6"]


@needs_cc
def test_needed_library_found_nowhere(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    compile_c(build / "libsnakefake.so", "int fake(void) { return 4; }\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    user = compile_c(
        tree / "needs_fake.so",
        "int fake(void);\nint use(void) { return fake(); }\n",
        f"-L{build}",
        "-lsnakefake",
    )
    (build / "libsnakefake.so").unlink()

    result = run(str(tree))
    assert result.returncode == 1
    assert str(user) in result.stderr
    assert "libsnakefake.so" in result.stderr
    assert "error" in result.stderr
    assert "Traceback" not in result.stderr

    ignored = run("--ignore-missing", str(tree))
    assert ignored.returncode == 0
    assert "warning" in ignored.stderr
    assert "libsnakefake.so" in ignored.stderr
    assert packages_of(ignored) == ["libc6"]

    data = json.loads(run("--json", "--ignore-missing", str(tree)).stdout)
    assert data["missing"] == {str(user): ["libsnakefake.so"]}


@needs_cc
def test_library_owned_by_no_package_is_a_warning(tmp_path: Path) -> None:
    libdir = tmp_path / "opt-lib"
    libdir.mkdir()
    compile_c(libdir / "libsnakelocal.so", "int local(void) { return 5; }\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    user = compile_c(
        tree / "uses_local.so",
        "int local(void);\nint use(void) { return local(); }\n",
        f"-L{libdir}",
        "-lsnakelocal",
        f"-Wl,-rpath,{libdir}",
    )
    result = run(str(tree))
    assert result.returncode == 0
    assert packages_of(result) == ["libc6"]
    assert "warning" in result.stderr
    assert str(libdir / "libsnakelocal.so") in result.stderr
    assert "no package" in result.stderr
    data = json.loads(run("--json", str(tree)).stdout)
    assert data["unowned"] == {str(libdir / "libsnakelocal.so"): {str(user): ["libsnakelocal.so"]}}


# --- files that are not (good) ELF -------------------------------------------------


def test_non_elf_named_so_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "fake.so").write_text("this is not a shared object\n")
    (tmp_path / "empty.so").write_bytes(b"")
    (tmp_path / "script.py").write_text("print('hi')\n")
    result = run(str(tmp_path))
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""
    verbose = run("-v", str(tmp_path))
    assert verbose.returncode == 0
    assert "fake.so" in verbose.stderr
    assert "not ELF" in verbose.stderr
    assert "script.py" not in verbose.stderr  # only -vv lists every non-ELF file
    assert "script.py" in run("-vv", str(tmp_path)).stderr


@pytest.mark.parametrize("size", [4, 20, 63, 200, 4096])
def test_truncated_elf_is_skipped(tmp_path: Path, size: int) -> None:
    modules = [p for p in system_extension_modules() if p.name.startswith("_ssl.")]
    if not modules:
        pytest.skip("no _ssl extension module")
    whole = modules[0].read_bytes()
    assert len(whole) > 4096
    (tmp_path / "cut.so").write_bytes(whole[:size])
    result = run("-v", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "cut.so" in result.stderr
    assert "Traceback" not in result.stderr


def test_static_executable_and_object_files_have_no_deps(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler")
    compile_c(tmp_path / "thing.o", "int x(void) { return 0; }\n", "-c", shared=False)
    static = subprocess.run(
        ["cc", "-static", "-o", str(tmp_path / "static"), "-x", "c", "-"],
        input=b"int main(void) { return 0; }\n",
        capture_output=True,
    )
    if static.returncode != 0:
        (tmp_path / "static").unlink(missing_ok=True)
    result = run(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@needs_binutils
def test_parse_file_reads_needed_and_soname() -> None:
    modules = [p for p in system_extension_modules() if p.name.startswith("_ssl.")]
    if not modules:
        pytest.skip("no _ssl extension module")
    elf, why = find_libdeps.parse_file(str(modules[0]))
    assert elf is not None, why
    assert elf.kind[0] in (1, 2)
    assert elf.needed == needed_sonames(modules[0])  # as readelf reads it
    libc = glob.glob("/usr/lib/*-linux-gnu*/libc.so.6")
    if libc:
        libc_elf, _ = find_libdeps.parse_file(libc[0])
        assert libc_elf is not None
        assert libc_elf.soname == "libc.so.6"


# --- a real manylinux wheel -----------------------------------------------------------


def test_manylinux_wheel_vendored_libs_are_not_reported(wheel_tree: Path) -> None:
    vendored = {p.name for d in wheel_tree.glob("*.libs") for p in d.iterdir()}
    assert vendored, "the wheel should vendor libraries"
    result = run("--json", str(wheel_tree))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["missing"] == {}
    reported_sonames = {
        soname
        for files in data["packages"].values()
        for sonames in files.values()
        for soname in sonames
    }
    assert not reported_sonames & vendored
    assert not any(os.path.basename(lib) in vendored for lib in data["libraries"])
    # The vendored libraries themselves were scanned: their own needs appear.
    users = {user for files in data["packages"].values() for user in files}
    assert any(".libs/" in user for user in users)
    assert "libc6" in data["packages"]
    plain = run(str(wheel_tree))
    assert packages_of(plain) == sorted(data["packages"])


@needs_binutils
def test_manylinux_wheel_agrees_with_ldd_and_dpkg(wheel_tree: Path) -> None:
    elves = []
    for path in wheel_tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    elves.append(path)
    expected: set[str] = set()
    for path in elves:
        found = ldd_paths(path)
        for soname in needed_sonames(path):
            if soname not in found:
                # ldd on a vendored library alone may not find its vendored
                # neighbours (they are found through the module loading it).
                assert list(wheel_tree.rglob(soname)), soname
                continue
            lib = found[soname]
            if str(wheel_tree) in os.path.realpath(lib):
                continue
            owner = dpkg_owner(lib)
            assert owner is not None
            expected.add(owner)
    assert set(packages_of(run(str(wheel_tree)))) == expected


# --- command line ----------------------------------------------------------------------


def test_json_shape(modules_tree: Path) -> None:
    result = run("--json", str(modules_tree))
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert set(data) == {"packages", "unowned", "missing", "libraries", "ignored", "unreadable"}
    assert data["ignored"] == {} and data["unreadable"] == {}
    assert data["packages"]
    for package, files in data["packages"].items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", package)
        for user, sonames in files.items():
            assert Path(user).parent == modules_tree
            assert sonames == sorted(sonames)
            assert all(isinstance(s, str) for s in sonames)
    assert sorted(data["packages"]) == packages_of(run(str(modules_tree)))


def test_several_dirs_and_overlapping_dirs(modules_tree: Path, tmp_path: Path) -> None:
    once = run(str(modules_tree))
    twice = run(str(modules_tree), str(modules_tree), str(tmp_path))
    assert once.returncode == twice.returncode == 0
    assert once.stdout == twice.stdout


@pytest.mark.parametrize(
    "args", [[], ["/nonexistent/snakepacker-dir"], ["--bogus", "/tmp"], ["--json"]]
)
def test_bad_command_line(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "usage" in result.stderr
    assert "Traceback" not in result.stderr


def test_main_in_process(modules_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert find_libdeps.main([str(modules_tree)]) == 0
    assert "libc6" in capsys.readouterr().out.split()


def test_expand_search_path_tokens() -> None:
    kind = (2, 1, 62)  # 64-bit little-endian x86-64
    assert find_libdeps.expand_search_path("$ORIGIN/../lib:${ORIGIN}/x", "/a/b", kind) == [
        "/a/lib",
        "/a/b/x",
    ]
    lib_dirs = find_libdeps.expand_search_path("/opt/$LIB", "/a", kind)
    assert "/opt/lib/x86_64-linux-gnu" in lib_dirs
    assert "/opt/lib64" in lib_dirs
    assert find_libdeps.expand_search_path("/p/${PLATFORM}", "/a", kind) == ["/p/x86_64"]
    assert find_libdeps.expand_search_path("relative:$UNKNOWN/x", "/a", kind) == []


def test_ld_so_conf_includes_are_followed(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("/opt/b\n# comment\n")
    (tmp_path / "conf.d" / "a.conf").write_text("/opt/a  /opt/a2\n")
    (tmp_path / "ld.so.conf").write_text("/first\ninclude conf.d/*.conf\nhwcap 0 nosegneg\n")
    assert find_libdeps.read_ld_so_conf(str(tmp_path / "ld.so.conf")) == [
        "/first",
        "/opt/a",
        "/opt/a2",
        "/opt/b",
    ]


# --- the shortcuts that keep it fast ----------------------------------------------

X86_64 = (2, 1, 62)  # 64-bit little-endian x86-64


def test_list_file_guesses_follow_debian_library_names() -> None:
    guesses = find_libdeps.list_file_guesses
    assert guesses("libc.so.6", X86_64)[:2] == ["libc6:amd64.list", "libc6.list"]
    assert "libgcc-s1:amd64.list" in guesses("libgcc_s.so.1", X86_64)
    assert "libstdc++6:amd64.list" in guesses("libstdc++.so.6", X86_64)
    assert "libfoo2-1.list" in guesses("libfoo2.so.1", X86_64)
    assert "libfoo-1.2.list" in guesses("libfoo-1.2.so", X86_64)
    assert "libssl3t64:amd64.list" in guesses("libssl.so.3", X86_64)
    assert "zlib1g:amd64.list" in guesses("libz.so.1", X86_64)
    # glibc's other libraries are all in libc6.
    assert "libc6:amd64.list" in guesses("libm.so.6", X86_64)
    assert "libc6:i386.list" in guesses("libc.so.6", (1, 1, 3))


def fake_dpkg(tmp_path: Path, files: dict[str, str]) -> find_libdeps.DpkgDb:
    info = tmp_path / "info"
    info.mkdir()
    for name, text in files.items():
        (info / name).write_text(text)
    return find_libdeps.DpkgDb(str(info), str(tmp_path / "no-diversions"))


def test_dpkg_hints_settle_without_listing_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = "/usr/lib/x86_64-linux-gnu/libfoo.so.1"
    db = fake_dpkg(
        tmp_path,
        {"libfoo1:amd64.list": f"/.\n/usr\n{lib}\n", "other.list": "/usr/bin/other\n"},
    )

    def no_listing(path: str) -> list[str]:
        raise AssertionError(f"listed {path}")

    monkeypatch.setattr(find_libdeps.os, "listdir", no_listing)
    hints = find_libdeps.list_file_guesses("libfoo.so.1", X86_64)
    assert db.owners([lib], [[lib]], hints) == {lib: {"libfoo1"}}


def test_dpkg_missed_hints_fall_back_to_shlibs_then_every_list(tmp_path: Path) -> None:
    lib = "/usr/lib/x86_64-linux-gnu/libbar.so.2"
    other = "/usr/lib/x86_64-linux-gnu/libqux.so.0"
    db = fake_dpkg(
        tmp_path,
        {
            "odd-name.list": f"{lib}\n",
            "odd-name.shlibs": "libbar 2 odd-name (>= 2)\n",
            "unrelated.shlibs": "libnone 1 unrelated\n",
            "qux-runtime.list": f"{other}\n",
        },
    )
    hints = find_libdeps.list_file_guesses("libbar.so.2", X86_64)
    shlibs = ["odd-name.shlibs", "unrelated.shlibs"]
    assert db._packages_providing(shlibs, {"libbar.so.2"}) == {"odd-name"}
    assert db.owners([lib, other], [[lib], [other]], hints) == {
        lib: {"odd-name"},
        other: {"qux-runtime"},
    }


def test_dpkg_hints_give_the_same_owners_as_reading_everything() -> None:
    libc = sorted(glob.glob("/usr/lib/*-linux-gnu*/libc.so.6"))
    if not libc:
        pytest.skip("no multiarch libc")
    finder = find_libdeps.Finder()
    kind = finder.kind_of(libc[0])
    assert kind is not None
    candidates = find_libdeps.owner_candidates(libc[0])
    groups = [find_libdeps.soname_candidates(libc[0])]
    hints = find_libdeps.list_file_guesses("libc.so.6", kind)
    fast = find_libdeps.DpkgDb().owners(candidates, groups, hints)
    slow = find_libdeps.DpkgDb().owners(candidates)
    owners = {path: slow[path] for path in candidates if path in slow}
    assert owners
    assert {path: fast[path] for path in candidates if path in fast} == owners


def test_a_directory_reached_by_two_names_is_listed_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "libx.so.1").write_bytes(b"")
    (tmp_path / "alias").symlink_to("real")
    finder = find_libdeps.Finder()
    names = finder.listing(str(tmp_path / "real"))
    assert names == {"libx.so.1"}
    assert finder.listing(str(tmp_path / "alias")) is names
    assert finder.listing(str(tmp_path / "missing")) == frozenset()


# --- ELF files for another machine ----------------------------------------------------


def ssl_module() -> Path:
    modules = [p for p in system_extension_modules() if p.name.startswith("_ssl.")]
    if not modules:
        pytest.skip("no _ssl extension module")
    return modules[0]


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def test_elf_for_another_architecture_is_skipped_and_noted(tmp_path: Path) -> None:
    # The x86-64 (or whatever this host runs) module relabelled as aarch64,
    # and once more as 32-bit: the loader here would load neither, and the
    # aarch64 libraries it names are not installed.
    real = ssl_module().read_bytes()
    order = "little" if real[5] == 1 else "big"
    (tmp_path / "arm64.so").write_bytes(
        patched(real, 18, (183 if real[18] != 183 else 62).to_bytes(2, order))
    )
    (tmp_path / "class32.so").write_bytes(patched(real, 4, bytes([1 if real[4] == 2 else 2])))
    result = run(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    verbose = run("-v", str(tmp_path))
    assert verbose.returncode == 0
    for name in ("arm64.so", "class32.so"):
        line = next(line for line in verbose.stderr.splitlines() if name in line)
        assert "not for this machine" in line


def test_host_kind_is_that_of_the_interpreter() -> None:
    kind = find_libdeps.host_kind()
    assert kind is not None
    with open(os.path.realpath(sys.executable), "rb") as handle:
        assert kind == find_libdeps.elf_kind(handle.read(64))


@pytest.fixture(scope="session")
def foreign_wheel_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pure-Python wheel that ships ARM helper binaries (adafruit-blinka)."""
    cache = tmp_path_factory.mktemp("foreign-wheel")
    env = dict(os.environ)
    env.setdefault("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    env.setdefault("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run(
        [*pip, "-d", str(cache), "adafruit-blinka"],
        capture_output=True,
        env=env,
        timeout=300,
    )
    wheels = sorted(cache.glob("adafruit_blinka-*.whl"))
    if not wheels:
        pytest.skip("adafruit-blinka could not be downloaded")
    tree = tmp_path_factory.mktemp("blinka")
    with zipfile.ZipFile(wheels[-1]) as archive:
        archive.extractall(tree)
    return tree


def test_wheel_with_arm_helper_binaries_can_be_scanned(foreign_wheel_tree: Path) -> None:
    foreign = [
        p for p in foreign_wheel_tree.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"
    ]
    assert foreign, "the wheel no longer ships ELF helpers"
    result = run("-v", "--json", str(foreign_wheel_tree))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["missing"] == {} and data["packages"] == {}
    for path in foreign:
        assert f"skipped {path}: ELF for " in result.stderr


# --- --ignore-missing SONAME ------------------------------------------------------------


@pytest.fixture
def missing_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A tree whose one module needs libsnakefake.so and libsnakeother.so.2, both gone."""
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler")
    build = tmp_path / "build"
    build.mkdir()
    compile_c(build / "libsnakefake.so", "int fake(void) { return 4; }\n")
    compile_c(
        build / "libsnakeother.so",
        "int other(void) { return 5; }\n",
        "-Wl,-soname,libsnakeother.so.2",
    )
    tree = tmp_path / "tree"
    tree.mkdir()
    user = compile_c(
        tree / "needs_two.so",
        "int fake(void); int other(void);\nint use(void) { return fake() + other(); }\n",
        f"-L{build}",
        "-lsnakefake",
        "-lsnakeother",
    )
    shutil.rmtree(build)
    return tree, user


def test_ignore_missing_names_sonames(missing_tree: tuple[Path, Path]) -> None:
    tree, user = missing_tree
    both = run(
        "--ignore-missing", "libsnakefake.so", "--ignore-missing=libsnakeother.so.2", str(tree)
    )
    assert both.returncode == 0, both.stderr
    assert both.stderr == ""
    assert packages_of(both) == ["libc6"]
    listed = run("--json", "--ignore-missing", "libsnakeother.so.2,libsnakefake.so", str(tree))
    assert listed.returncode == 0
    data = json.loads(listed.stdout)
    assert data["missing"] == {}
    assert data["ignored"] == {str(user): ["libsnakefake.so", "libsnakeother.so.2"]}
    assert (
        "ignored"
        in run("-v", "--ignore-missing=libsnakefake.so,libsnakeother.so.2", str(tree)).stderr
    )

    one = run("--ignore-missing", "libsnakefake.so", str(tree))
    assert one.returncode == 1
    assert "libsnakeother.so.2" in one.stderr and "libsnakefake.so" not in one.stderr
    # A bare --ignore-missing before the DIR still makes every missing library a warning.
    bare = run("--ignore-missing", str(tree))
    assert bare.returncode == 0 and bare.stderr.count("warning") == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--ignore-missing=", "."],
        ["--ignore-missing=a.so,,b.so", "."],
        ["--ignore-missing=/lib/x.so", "."],
    ],
)
def test_ignore_missing_bad_sonames(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1


# --- unreadable files ------------------------------------------------------------------


def run_as_nobody(tool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if os.getuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop root")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        prefix = []
    python = os.path.realpath(sys.executable)
    return subprocess.run(
        [*prefix, python, str(tool), *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree in a directory that an unprivileged user can reach."""
    top = Path(tempfile.mkdtemp(prefix="find-libdeps-"))
    top.chmod(0o755)
    yield top
    for path in top.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(top)


def test_unreadable_file_is_a_warning_and_an_error_with_strict(shared_tree: Path) -> None:
    tool = shared_tree / "find-libdeps"
    shutil.copy(TOOL, tool)
    tool.chmod(0o755)
    tree = shared_tree / "tree"
    tree.mkdir()
    shutil.copy(ssl_module(), tree / "_ssl.so")
    secret = tree / "secret.so"
    shutil.copy(ssl_module(), secret)
    secret.chmod(0o000)
    closed = tree / "closed"
    closed.mkdir()
    closed.chmod(0o000)
    for path in (tree, tree / "_ssl.so"):
        path.chmod(0o755)

    result = run_as_nobody(tool, str(tree))
    assert result.returncode == 0, result.stderr
    assert "libssl3" in packages_of(result) or any(
        p.startswith("libssl") for p in packages_of(result)
    )
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert any(str(secret) in line and "Permission denied" in line for line in warnings)
    assert any(str(closed) in line for line in warnings)

    data = json.loads(run_as_nobody(tool, "--json", str(tree)).stdout)
    assert set(data["unreadable"]) == {str(secret), str(closed)}

    strict = run_as_nobody(tool, "--strict", str(tree))
    assert strict.returncode == 1
    assert "error" in strict.stderr and str(secret) in strict.stderr
    assert "Traceback" not in strict.stderr


# --- names with control characters ------------------------------------------------------


def test_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    name = "evil\nfind-libdeps: error: forged\t\x1b[31m.so"
    (tree / name).write_text("not ELF\n")
    result = run("-v", str(tree))
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert not any(line.startswith("find-libdeps: error: forged") for line in lines)
    assert "evil\\nfind-libdeps: error: forged\\t\\x1b[31m.so" in result.stderr
    assert "\x1b" not in result.stderr


def test_shown_escapes_only_what_it_must() -> None:
    shown = find_libdeps.shown
    assert shown("/usr/lib/libé.so") == "/usr/lib/libé.so"
    assert shown("a\\b") == "a\\\\b"
    assert shown("a\rb\x7f") == "a\\rb\\x7f"
    assert shown(os.fsdecode(b"lib\xff.so")) == "lib\\xff.so"
    assert shown("x\u2028y") == "x\\u2028y"


# --- fuzzing: malformed files are skipped, never fatal ---------------------------------------

FUZZ_RUNNER = r"""
import contextlib, io, json, resource, sys, traceback
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.insert(0, sys.argv[2])
import find_libdeps
crashes = []
for case in sys.argv[3:]:
    sys.__stderr__.write(case + "\n")  # the last one named is the one that hung
    sys.__stderr__.flush()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = find_libdeps.main(["-v", "--json", case])
        json.loads(out.getvalue())
        if status not in (0, 1) or "Traceback" in err.getvalue():
            crashes.append([case, "status %s: %s" % (status, err.getvalue())])
    except BaseException:
        crashes.append([case, traceback.format_exc()])
print(json.dumps(crashes))
"""


def fuzz_sources() -> list[Path]:
    """Small real ELF files of this system: a library, an extension module, an executable."""
    patterns = [
        "/usr/lib/*-linux-gnu/libz.so.1.*",
        "/usr/lib/*-linux-gnu/libffi.so.8.*",
        "/usr/bin/true",
    ]
    found = [Path(p) for pattern in patterns for p in sorted(glob.glob(pattern))[:1]]
    return [p for p in found if p.read_bytes()[:4] == b"\x7fELF"] + [ssl_module()]


def header_regions(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the ELF header, the program headers and the dynamic section."""
    end = "<" if data[5] == 1 else ">"
    wide = data[4] == 2
    if wide:
        phoff, phentsize, phnum = (
            *struct.unpack_from(end + "Q", data, 32),
            *struct.unpack_from(end + "HH", data, 54),
        )
    else:
        phoff, phentsize, phnum = (
            *struct.unpack_from(end + "I", data, 28),
            *struct.unpack_from(end + "HH", data, 42),
        )
    regions = [(0, 64 if wide else 52), (phoff, phentsize * phnum)]
    for index in range(phnum):
        at = phoff + index * phentsize
        if wide:
            p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
                end + "IIQQQQ", data, at
            )
        else:
            p_type, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(end + "IIIII", data, at)
        if p_type == 2:  # PT_DYNAMIC
            regions.append((p_offset, p_filesz))
    return regions


def mutate(data: bytes, regions: list[tuple[int, int]], rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        start, size = rng.choice(regions)
        width = rng.choice([1, 2, 4, 8])
        at = start + rng.randrange(max(size - width, 1))
        choice = rng.random()
        if choice < 0.4:
            new = bytes(rng.randrange(256) for _ in range(width))
        elif choice < 0.7:
            new = b"\xff" * width
        elif choice < 0.8:
            new = b"\x00" * width
        else:
            new = (
                (b"\xff" * (width - 1) + b"\x7f")
                if data[5] == 1
                else (b"\x7f" + b"\xff" * (width - 1))
            )
        buffer[at : at + width] = new
    if rng.random() < 0.1:
        del buffer[rng.randrange(64, len(buffer)) :]
    return bytes(buffer)


def test_fuzzed_elf_files_are_skipped_never_fatal(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    cases: list[Path] = []
    for source in fuzz_sources():
        data = source.read_bytes()
        regions = header_regions(data)
        for index in range(80):
            case = tmp_path / f"{source.name}.{index}"
            case.write_bytes(mutate(data, regions, rng))
            cases.append(case)
    for index in range(60):
        head = b"\x7fELF" if index % 2 else b""
        size = rng.randrange(0, 4096)
        case = tmp_path / f"random.{index}"
        case.write_bytes(head + bytes(rng.randrange(256) for _ in range(size)))
        cases.append(case)
    assert len(cases) >= 300

    # Memory is capped well below what the headers may claim (gigabytes), time
    # only against a hang: the last case named on stderr is the one that hung.
    limit = 1 << 30
    result = subprocess.run(
        [sys.executable, "-c", FUZZ_RUNNER, str(limit), str(TOOL.parent)] + [str(c) for c in cases],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    crashes = json.loads(result.stdout)
    assert crashes == [], crashes[:3]


# --- hostile ELF files: memory and output stay on the order of the file's size -----------

# The tool run in a child of its own, so that RUSAGE_CHILDREN's peak is the tool's
# alone (the test process has run compilers and other tools before).  Its address
# space and CPU time are capped so that a regression can not take the machine down;
# its output is counted as it comes, not kept.
MEASURE_RUNNER = r"""
import json, resource, subprocess, sys, threading
limit = int(sys.argv[1])

def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))

child = subprocess.Popen(
    sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=cap
)
counted = {}

def drain(name, stream):
    total, head = 0, b""
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        total += len(chunk)
        if len(head) < 4096:
            head = (head + chunk)[:4096]
    counted[name] = [total, head.decode("utf-8", "replace")]

threads = [
    threading.Thread(target=drain, args=(name, stream))
    for name, stream in (("stdout", child.stdout), ("stderr", child.stderr))
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
status = child.wait()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"status": status, "peak": peak, **counted}))
"""


def run_measured(*args: str) -> dict[str, Any]:
    """find-libdeps ARGS in a child: its exit status, peak RSS (bytes) and output."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_RUNNER, str(1 << 30), sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def crafted_elf(
    entries: list[tuple[int, int]],
    strings: bytes,
    strsz: int = 0,
    dynamic_to_end: bool = False,
    kind: tuple[int, int, int] | None = None,
) -> bytes:
    """A minimal shared object for this machine (or kind), made from scratch.

    One PT_LOAD maps the whole file at address 0, so that the string table's
    address is its offset; PT_DYNAMIC holds DT_STRTAB, DT_STRSZ (0 by default:
    no size, nothing but the file bounds the strings), entries, then DT_NULL.
    dynamic_to_end: PT_DYNAMIC says it runs on over the strings to the end.
    """
    if kind is None:
        kind = find_libdeps.host_kind()
        if kind is None:
            pytest.skip("the interpreter's ELF kind is unknown")
    elf_class, data, machine = kind
    end = "<" if data == 1 else ">"
    wide = elf_class == 2
    header_size, ph_size, dyn_size = (64, 56, 16) if wide else (52, 32, 8)
    dynamic = [(5, 0), (10, strsz), *entries, (0, 0)]  # DT_STRTAB, DT_STRSZ, ..., DT_NULL
    dyn_offset = header_size + 2 * ph_size
    str_offset = dyn_offset + len(dynamic) * dyn_size
    dynamic[0] = (5, str_offset)
    total = str_offset + len(strings)
    length = (total if dynamic_to_end else str_offset) - dyn_offset
    ident = b"\x7fELF" + bytes([elf_class, data, 1]) + bytes(9)
    if wide:
        header = struct.pack(
            end + "16sHHIQQQIHHHHHH", ident, 3, machine, 1, 0, 64, 0, 0, 64, 56, 2, 64, 0, 0
        )
        load = struct.pack(end + "IIQQQQQQ", 1, 5, 0, 0, 0, total, total, 4096)
        dyn = struct.pack(end + "IIQQQQQQ", 2, 6, dyn_offset, dyn_offset, 0, length, length, 8)
    else:
        header = struct.pack(
            end + "16sHHIIIIIHHHHHH", ident, 3, machine, 1, 0, 52, 0, 0, 52, 32, 2, 40, 0, 0
        )
        load = struct.pack(end + "IIIIIIII", 1, 0, 0, 0, total, total, 5, 4096)
        dyn = struct.pack(end + "IIIIIIII", 2, dyn_offset, dyn_offset, 0, length, length, 6, 4)
    body = b"".join(struct.pack(end + ("qQ" if wide else "iI"), *entry) for entry in dynamic)
    return header + load + dyn + body + strings


DT_NEEDED, DT_RUNPATH = 1, 29
# 60000 entries naming the 32768 suffixes of one 32 KiB run: a file of about
# 1 MB whose strings, taken one by one, add up to half a gigabyte.
RUN = 1 << 15
HOSTILE_ENTRIES = 60000


def overlapping(tag: int, strsz: int, kind: tuple[int, int, int] | None = None) -> bytes:
    strings = b"a" * RUN + b"\0"
    entries = [(tag, index % RUN) for index in range(HOSTILE_ENTRIES)]
    return crafted_elf(entries, strings, strsz, kind=kind)


def distinct_missing(kind: tuple[int, int, int] | None = None) -> tuple[bytes, list[str]]:
    """60000 short sonames, none found anywhere: a file of about 1.3 MB."""
    names = [f"{index:04x}" for index in range(HOSTILE_ENTRIES)]
    strings = b"".join(name.encode() + b"\0" for name in names)
    entries = [(DT_NEEDED, index * 5) for index in range(len(names))]
    return crafted_elf(entries, strings, len(strings), kind=kind), names


@needs_binutils
def test_crafted_elf_is_read_like_any_other(tmp_path: Path) -> None:
    # The hostile files below are made the same way: only their size and
    # their overlapping strings are odd, not their headers.
    path = tmp_path / "small.so"
    strings = b"libsnakeb.so\0$ORIGIN\0"
    entries = [(DT_NEEDED, 0), (DT_NEEDED, 3), (DT_RUNPATH, 13)]
    path.write_bytes(crafted_elf(entries, strings, len(strings)))
    elf, why = find_libdeps.parse_file(str(path))
    assert elf is not None, why
    assert elf.needed == ["libsnakeb.so", "snakeb.so"]  # a shared tail, as linkers make
    assert elf.runpath == ["$ORIGIN"]
    assert needed_sonames(path) == ["libsnakeb.so", "snakeb.so"]  # readelf agrees
    result = run(str(tmp_path))
    assert result.returncode == 1  # needed libraries found nowhere
    assert result.stderr.count("found nowhere") == 2


@pytest.mark.parametrize(
    ("tag", "strsz"),
    [(DT_NEEDED, 0), (DT_RUNPATH, 0), (DT_NEEDED, RUN + 1)],
    ids=["needed-no-strsz", "runpath-no-strsz", "needed-strsz"],
)
def test_overlapping_strings_do_not_multiply_memory_or_output(
    tmp_path: Path, tag: int, strsz: int
) -> None:
    path = tmp_path / "hostile.so"
    path.write_bytes(overlapping(tag, strsz))
    size = path.stat().st_size
    assert size < 1 << 20
    measured = run_measured("-v", str(path))
    out, err = measured["stdout"], measured["stderr"]
    assert measured["peak"] < 100 << 20, measured["peak"]
    assert out[0] + err[0] < 2 * size, (out[0], err[0])
    # A broken ELF file is skipped, named with -v; exit status 0.
    assert measured["status"] == 0, err[1]
    assert out[0] == 0
    assert "hostile.so: broken ELF" in err[1]
    assert "Traceback" not in err[1]


# parse_file reads ELF files for any machine (scan skips those not for this one).
KINDS = {"this-machine": None, "i386": (1, 1, 3), "s390x": (2, 2, 22), "powerpc": (1, 2, 20)}


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_reads_add_up_to_no_more_than_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: tuple[int, int, int] | None
) -> None:
    strings = b"libsnakeb.so\0" * 64
    files = {
        "overlapping.so": (overlapping(DT_NEEDED, 0, kind), "strings add up to more"),
        # Read as the dynamic section, the strings could be read a second time.
        "dynamic-over-strings.so": (
            crafted_elf([(DT_NEEDED, 0)], strings, dynamic_to_end=True, kind=kind),
            "tables add up to more",
        ),
        # Nothing but tables: every byte is read, none twice (the program
        # headers of a 32-bit file start inside the 64 bytes read first).
        "many-missing.so": (distinct_missing(kind)[0], ""),
    }
    if kind is None:
        files["ssl.so"] = (ssl_module().read_bytes(), "")
    read: list[int] = []
    real_read, real_pread = os.read, os.pread

    def counted_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read.append(len(data))
        return data

    def counted_pread(fd: int, size: int, offset: int) -> bytes:
        data = real_pread(fd, size, offset)
        read.append(len(data))
        return data

    for name, (content, why_skipped) in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        read.clear()
        with monkeypatch.context() as patch:
            patch.setattr(os, "read", counted_read)
            patch.setattr(os, "pread", counted_pread)
            elf, why = find_libdeps.parse_file(str(path))
        assert sum(read) <= len(content), name
        if why_skipped:
            assert elf is None and why_skipped in why, (name, why)
        else:
            assert elf is not None and elf.needed, (name, why)
        if name == "ssl.so":  # of a real library, only headers and tables: a small part
            assert sum(read) < len(content) // 4


@needs_binutils
def test_many_missing_sonames_print_a_bounded_report(tmp_path: Path) -> None:
    content, names = distinct_missing()
    path = tmp_path / "hostile.so"
    path.write_bytes(content)
    size = len(content)
    assert needed_sonames(path) == names  # readelf agrees
    measured = run_measured(str(path))
    out, err = measured["stdout"], measured["stderr"]
    assert measured["peak"] < 100 << 20, measured["peak"]
    assert out[0] + err[0] < 2 * size, (out[0], err[0])
    assert measured["status"] == 1  # libraries found nowhere
    assert out[0] == 0
    lines = err[1].splitlines()
    assert lines[0].endswith("hostile.so needs 0000, which is found nowhere")
    assert lines[9].endswith("hostile.so needs 0009, which is found nowhere")
    assert lines[10].endswith(
        f"hostile.so needs {len(names) - 10} more libraries found nowhere (--json lists them)"
    )
    assert len(lines) == 11
    # Ignored sonames are noted (-v) the same way.
    ignored = run("-v", "--ignore-missing=" + ",".join(names[:12]), str(path))
    notes = [line for line in ignored.stderr.splitlines() if "ignored" in line]
    assert len(notes) == 11, ignored.stderr[-2000:]
    assert notes[-1].endswith(
        "needs 2 more libraries found nowhere and ignored (--json lists them)"
    )
    # --json names every one of them, each once.
    listed = run("--json", "--ignore-missing", str(path))
    assert listed.returncode == 0
    assert len(listed.stdout) < 2 * size
    assert json.loads(listed.stdout)["missing"] == {str(path): sorted(names)}

"""collect-distroless on this host's real dpkg database, and pack's --distroless Dockerfile.

The expected dependencies come from dpkg-query, not from the collector's own parser;
the staged tree is proven to run by chrooting into it (as root) and starting the
interpreter it holds, with nothing of the host around it.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.pack.dockerfile import (
    DISTROLESS_PATHS,
    DISTROLESS_SEEDS,
    embedded_chunks,
    render_pack,
)
from snakepacker.pack.options import DISTROLESS_LEFT_OUT
from snakepacker.tools import collect_distroless as cd
from tests.unit.test_pack import DEMO, instructions, plan_for

TOOL = Path(cd.__file__)
# The distro's own Python (the tests may run on another one): python3.X.
HOST_PY = os.path.basename(os.path.realpath("/usr/bin/python3")) \
    if os.path.exists("/usr/bin/python3") else "python3"

needs_dpkg = pytest.mark.skipif(
    not os.path.isfile("/var/lib/dpkg/status"), reason="needs a Debian host with dpkg")


def dpkg_field(package: str, field: str) -> str:
    return subprocess.run(["dpkg-query", "-W", f"-f=${{{field}}}", package],
                          capture_output=True, text=True, check=True).stdout


def host_packages() -> dict[str, cd.Stanza]:
    return cd.parse_status(Path("/var/lib/dpkg/status").read_text(errors="surrogateescape"))


# -- the parser and the closure on synthetic stanzas ----------------------------------

STATUS = """\
Package: app-lib
Status: install ok installed
Architecture: amd64
Version: 1.0
Depends: libc6 (>= 2.34), libmissing | libalt:any, virtual-thing, dpkg (>= 1.19)
Pre-Depends: libpre
Description: a library
 with a continuation line

Package: libc6
Status: install ok installed
Depends: libgcc-s1

Package: libgcc-s1
Status: install ok installed

Package: libalt
Status: install ok installed

Package: libpre
Status: install ok installed

Package: provider
Status: install ok installed
Provides: virtual-thing (= 2)

Package: dpkg
Status: install ok installed

Package: removed-one
Status: deinstall ok config-files
"""


def test_documentation_and_iconv_modules_are_left_out() -> None:
    for path in ("/usr/share/doc/libc6/copyright", "/usr/share/man/man1",
                 "/usr/lib/x86_64-linux-gnu/gconv/BIG5.so", "/lib/aarch64-linux-gnu/gconv/X.so",
                 "/usr/share/locale/de/LC_MESSAGES/x.mo", "/usr/lib/ssl/misc/CA.pl"):
        assert not cd.kept(path), path
    for path in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/share/zoneinfo/UTC",
                 "/usr/share/python3/app/lib/gconv/x.py", "/usr/share/doc-like/x",
                 "/usr/lib/x86_64-linux-gnu/gconv", "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so",
                 "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.d/gconv-modules-extra.conf"):
        assert cd.kept(path), path


def test_parse_keeps_installed_packages_and_their_raw_text() -> None:
    packages = cd.parse_status(STATUS)
    assert "removed-one" not in packages
    assert packages["app-lib"]["Version"] == "1.0"
    assert packages["app-lib"][""].startswith("Package: app-lib\n")
    assert " with a continuation line" in packages["app-lib"]["Description"]


def test_closure_alternatives_virtuals_and_tools_left_out() -> None:
    names, missing = cd.closure(cd.parse_status(STATUS), ["app-lib=1.0", "nothere"])
    assert names == ["app-lib", "libalt", "libc6", "libgcc-s1", "libpre", "provider"]
    assert missing == ["nothere"]
    # A seed is taken even when it is a tool; SHALLOW ones without their dependencies.
    assert cd.closure(cd.parse_status(STATUS), ["dpkg"])[0] == ["dpkg"]
    assert cd.closure(cd.parse_status(STATUS), [], shallow=["app-lib"])[0] == ["app-lib"]


# -- the host's database ---------------------------------------------------------------


def _depends(package: str) -> set[str]:
    text = dpkg_field(package, "Depends") + "," + dpkg_field(package, "Pre-Depends")
    return {cd._name(group.split("|")[0]) for group in text.split(",") if group.strip()}


@needs_dpkg
def test_closure_on_the_host_follows_dpkg() -> None:
    packages = host_packages()
    names, missing = cd.closure(packages, ["libc6", "ca-certificates", "tzdata", HOST_PY])
    assert not missing
    # Every first alternative dpkg names that is installed and not a tool is in.
    for name in names:
        for dep in _depends(name):
            if dep in packages and dep not in cd.NOT_FOLLOWED:
                assert dep in names, f"{name} depends on {dep}"
    for tool in ("dpkg", "perl-base", "bash", "dash", "coreutils", "apt", "debconf",
                 "openssl"):
        assert tool not in names


@needs_dpkg
def test_collect_stages_files_status_and_accounts(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    names, missing, stager = cd.collect("/", str(dest), ["libc6", "zlib1g"], ["/etc/ssl/certs"],
                                        [], "app", 10001)
    assert not missing and {"libc6", "zlib1g"} <= set(names)
    assert stager.files > 10
    # Every file dpkg lists for zlib1g (docs aside) is there, links as links.
    arch = dpkg_field("zlib1g", "Architecture")
    for path in cd.owned_files("/var/lib/dpkg/info", "zlib1g", arch):
        if not cd.kept(path) or os.path.isdir(path):
            continue
        staged = dest / path.lstrip("/")
        assert os.path.lexists(staged), path
        assert os.path.islink(staged) == os.path.islink(path), path
    # A merged-/usr host keeps /lib as the link it is.
    if os.path.islink("/lib"):
        assert os.readlink(dest / "lib") == os.readlink("/lib")
    assert not (dest / "usr/share/doc").exists()
    stanza = (dest / "var/lib/dpkg/status.d/libc6").read_text()
    assert f"Version: {dpkg_field('libc6', 'Version')}\n" in stanza
    assert (dest / "etc/passwd").read_text().splitlines()[-1] == \
        "app:x:10001:10001:app:/tmp:/sbin/nologin"
    assert "app:x:10001:" in (dest / "etc/group").read_text()
    assert stat.S_IMODE((dest / "tmp").stat().st_mode) == 0o1777
    assert (dest / "etc/ssl/certs/ca-certificates.crt").is_file()


def test_setuid_and_setgid_bits_are_not_staged(tmp_path: Path) -> None:
    """A distroless image runs one app as its user: su's and passwd's setuid bits (on
    the host, in packages such as login) are not carried into it."""
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    for name, mode in (("su", 0o4755), ("wall", 0o2755), ("plain", 0o755)):
        (root / "usr/bin" / name).write_text("#!/bin/sh\n")
        os.chmod(root / "usr/bin" / name, mode)
    (tmp_path / "dest").mkdir()
    stager = cd.Stager(str(root), str(tmp_path / "dest"))
    for name in ("su", "wall", "plain"):
        stager.copy(f"/usr/bin/{name}")
        staged = tmp_path / "dest/usr/bin" / name
        assert stat.S_IMODE(staged.stat().st_mode) == 0o755, name


LEFT_OUT = ",".join(DISTROLESS_LEFT_OUT)


def stage_host_python(dest: Path, *extra: str) -> list[str]:
    """The host's own Python staged as pack --distroless stages the distro's: its
    packages without their Depends, then the libraries its ELF files need, the modules
    for terminals and legacy databases left out. Returns the packages."""
    from snakepacker.tools import find_libdeps

    proc = subprocess.run(
        [sys.executable, str(TOOL), str(dest), "--shallow", ",".join(DISTROLESS_SEEDS[:3]),
         "--shallow", f"{HOST_PY},{HOST_PY}-minimal,lib{HOST_PY}-minimal,lib{HOST_PY}-stdlib",
         "--find-libdeps", find_libdeps.__file__, "--leave-out", LEFT_OUT,
         *[a for p in DISTROLESS_PATHS if os.path.lexists(p) for a in ("--path", p)],
         "--user", "app", *extra], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("collect-distroless: ")
    return proc.stdout.split("\n")[0].split(": ", 2)[2].split()


def elf_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


@needs_dpkg
@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_libraries_are_the_soname_closure_not_the_depends_closure(tmp_path: Path) -> None:
    """The packages shipped are the seeds and the owners of what the loader itself
    (ldd, on the host) resolves for the staged ELF files: nothing a Depends names that
    no file loads (libgcc's gcc-N-base, readline-common), nothing only a left-out module
    needs."""
    dest = tmp_path / "root"
    names = set(stage_host_python(dest))
    libraries = set()
    for path in elf_files(dest):
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
        assert "not found" not in out, (path, out)
        libraries |= {line.split(" => ")[1].split(" (")[0] for line in out.splitlines()
                      if " => /" in line}
    owners = set()
    for library in libraries:
        if str(dest) in library:
            continue
        out = subprocess.run(["dpkg", "-S", os.path.realpath(library)], capture_output=True,
                             text=True)
        if out.returncode != 0:  # a merged-/usr path dpkg knows by its other name
            out = subprocess.run(["dpkg", "-S", library], capture_output=True, text=True,
                                 check=True)
        owners |= {cd._name(o) for o in out.stdout.split(":")[0].split(", ")}
    seeds = {*DISTROLESS_SEEDS[:3], HOST_PY, f"{HOST_PY}-minimal", f"lib{HOST_PY}-minimal",
             f"lib{HOST_PY}-stdlib"}
    assert names == (seeds & set(host_packages())) | owners
    assert not names & {"readline-common", "libreadline8", "libncursesw6", "libnsl2",
                        "libgdbm6", "libtirpc-common"}
    # A Depends closure of the same seeds would have shipped more.
    assert len(cd.closure(host_packages(), sorted(seeds & set(host_packages())))[0]) > len(names)


@needs_dpkg
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ldconfig") is None
                    or shutil.which("chroot") is None, reason="needs root, ldconfig, chroot")
def test_staged_interpreter_runs_alone(tmp_path: Path) -> None:
    """The host's own Python, staged as pack --distroless stages it, runs in a chroot
    that has no shell: ssl, sqlite3 and ctypes load, and the CA bundle verifies; a
    left-out module raises ModuleNotFoundError that says how to keep it, and what
    falls back without it (dbm's own format) still works."""
    dest = tmp_path / "root"
    stage_host_python(dest)
    subprocess.run(["ldconfig", "-r", str(dest)], check=True)
    for absent in ("bin/sh", "usr/bin/dpkg", "usr/bin/apt", "usr/bin/perl"):
        assert not os.path.lexists(dest / absent)
    code = ("import ssl, sqlite3, ctypes, ctypes.util, pwd, zlib, lzma, bz2, dbm; "
            "ctx = ssl.create_default_context(); "
            "print(len(ctx.get_ca_certs()) > 0 or ctx.cert_store_stats()['x509'] > 0, "
            "pwd.getpwuid(10001).pw_name, sqlite3.sqlite_version_info >= (3,)); "
            "db = dbm.open('/tmp/db', 'c'); db[b'k'] = b'v'; print(dbm.whichdb('/tmp/db'))\n"
            "for name in ('readline', 'curses', 'dbm.ndbm'):\n"
            "    try:\n"
            "        __import__(name)\n"
            "    except ImportError as exc:\n"
            "        print(name, 'left it out' in str(exc) and '--distroless-keep _' in str(exc)"
            " or '--distroless-keep readline' in str(exc))\n")
    run = subprocess.run([str(shutil.which("chroot")), "--userspec=10001:10001", str(dest),
                          f"/usr/bin/{HOST_PY}", "-I", "-c", code],
                         capture_output=True, text=True, env={"PATH": "/usr/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["True app True", "dbm.dumb"]
    assert run.stdout.split("\n")[2:] == ["readline True", "curses True", "dbm.ndbm True", ""]


def test_left_out_modules_are_lib_dynload_extensions() -> None:
    left = ("readline", "_curses")
    assert cd.left_out_module(
        "/usr/lib/python3.11/lib-dynload/readline.cpython-311-x86_64-linux-gnu.so",
        left) == "readline"
    assert cd.left_out_module("/opt/python/3.12/lib/python3.12/lib-dynload/_curses.abi3.so",
                              left) == "_curses"
    for path in ("/opt/python/3.12/lib/python3.12/lib-dynload/_curses_panel.cpython-312.so",
                 "/usr/share/python3/app/lib/python3.12/site-packages/readline.so",
                 "/usr/lib/python3.11/lib-dynload/readline.py"):
        assert cd.left_out_module(path, left) is None, path


def test_cli_names_packages_not_installed(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(TOOL), str(tmp_path / "x"), "--package",
                           "surely-not-a-package-here"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "not installed: surely-not-a-package-here" in proc.stderr


# -- pack's Dockerfile --------------------------------------------------------------------


def test_embedded_collector_is_the_tool() -> None:
    blob = base64.b64decode("".join(embedded_chunks("collect_distroless.py")))
    assert zlib.decompress(blob) == TOOL.read_bytes()


def test_dockerfile_distroless_adds_two_stages_and_keeps_the_others() -> None:
    plain = render_pack(plan_for(DEMO, "--healthcheck", "8000"))
    text = render_pack(plan_for(DEMO, "--distroless", "--healthcheck", "8000"))
    assert "FROM scratch" not in plain and " AS runtime" not in plain
    # The stages before are the plain Dockerfile's, the final one named.
    head = text[: text.index("# ============================== collect stage")]
    assert head.rstrip().replace(" AS runtime", "") == plain.rstrip()
    steps = instructions(text[len(head):])
    assert steps[:2] == ["FROM runtime AS collect", "USER 0"]
    assert "FROM scratch" in steps
    assert steps[steps.index("FROM scratch") + 1] == "COPY --from=collect /distroless/ /"
    run = next(s for s in steps if s.startswith("RUN set -eu;"))
    # The source route's interpreter is a path; the libraries come by the soname closure;
    # the modules for terminals and legacy databases are left out.
    assert "--path /opt/python/3.12 " in run
    assert "--shallow libc6,libgcc-s1,ca-certificates,tzdata,dumb-init " in run
    assert "--shallow-from /usr/share/snakepacker/pack/apt-packages.txt " in run
    assert '--find-libdeps "$(command -v find-libdeps)" ' in run
    assert f"--leave-out {LEFT_OUT} " in run and "--package" not in run
    assert "--links /usr/bin:/usr/share/python3/app --user app --uid 10001" in run
    assert "ldconfig -r /distroless" in run
    health = next(s for s in steps if s.startswith("HEALTHCHECK"))
    assert '"/opt/python/3.12/bin/python3.12", "-I", "-S", "/usr/local/bin/wait-for-port"' \
        in health
    assert steps[-2:] == ['ENTRYPOINT ["dumb-init", "--", "demo-app"]', "CMD []"]


def test_dockerfile_distroless_distro_route_is_shallow() -> None:
    text = render_pack(plan_for(DEMO, "--distroless", minor="3.10"))
    assert ("--shallow libc6,libgcc-s1,ca-certificates,tzdata,dumb-init,python3.10,"
            "python3.10-minimal,libpython3.10-minimal,libpython3.10-stdlib ") in text


def test_dockerfile_distroless_keep_and_apt() -> None:
    """--distroless-keep names modules not to leave out (all: none); --apt packages come
    with their Depends; a module that is not left out is one clear error."""
    text = render_pack(plan_for(DEMO, "--distroless", "--distroless-keep", "readline",
                           "--distroless-keep", "nis", "--apt", "curl"))
    assert "--leave-out _curses,_curses_panel,_dbm,_gdbm,_crypt,_tkinter " in text
    assert "--package curl " in text
    text = render_pack(plan_for(DEMO, "--distroless", "--distroless-keep", "all"))
    assert "--leave-out" not in text and "Left out" not in text
    with pytest.raises(UsageError, match="--distroless-keep 'ssl': not a module"):
        plan_for(DEMO, "--distroless", "--distroless-keep", "ssl")
    # Without --distroless, nothing changes.
    kept = render_pack(plan_for(DEMO, "--distroless-keep", "readline"))
    assert kept == render_pack(plan_for(DEMO))


@needs_dpkg
def test_sbom_inventory_reads_the_status_fragments(tmp_path: Path) -> None:
    """What `snakepacker sbom` reads from an image: the staged tree's status.d stanzas
    are its packages, with dpkg's versions."""
    from snakepacker.supply import inventory

    dest = tmp_path / "root"
    names, _, _ = cd.collect("/", str(dest), ["zlib1g"], [], [], None, 0)
    paths = [p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()]
    files = {p: (dest / p).read_bytes() for p in paths if inventory.wanted(p)}
    found = inventory.inventory(files, paths).packages
    assert sorted(p.name for p in found) == names
    zlib = next(p for p in found if p.name == "zlib1g")
    assert zlib.version == dpkg_field("zlib1g", "Version")


@needs_dpkg
def test_runs_on_every_cpython_from_3_7(tmp_path: Path) -> None:
    """It runs in the runtime image, on whichever minor the app packs with."""
    from tests.unit.test_tools_compat import interpreters

    found = interpreters()
    assert found
    for version, python in found:
        dest = tmp_path / f"{version[0]}.{version[1]}"
        proc = subprocess.run([python, str(TOOL), str(dest), "--package", "zlib1g"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, (python, proc.stderr)
        assert (dest / "var/lib/dpkg/status.d/zlib1g").is_file()

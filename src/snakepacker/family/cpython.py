"""CPython minors, their release tarballs, and the routes a minor can take into an image.

The releases table (``data/cpython-releases.tsv``) lists, per minor, python.org's
newest patch release and the upstream tarballs that Debian and Ubuntu keep in their
package archives (byte-identical to python.org's, so one sha256 verifies either).
"""

from __future__ import annotations

import csv
import enum
import functools
from dataclasses import dataclass
from importlib import resources

from snakepacker.errors import UsageError
from snakepacker.family.distros import Distro

# A family's Pythons go by their minor, "X.Y", or "X.Yt" for the free-threaded build of
# that minor (configure --disable-gil, PEP 703): its own interpreter, python3.13t, with
# its own ABI (cp313t wheels), so its own target images and its own place in `all`.
GIL_MINORS: tuple[str, ...] = tuple(f"3.{n}" for n in range(7, 15))
FREE_THREADED_SUFFIX = "t"
# The minors CPython can build without the GIL (3.13 is the first).
FREE_THREADED_MINORS: tuple[str, ...] = ("3.13", "3.14")


def is_free_threaded(minor: str) -> bool:
    return minor.endswith(FREE_THREADED_SUFFIX)


def base_minor(minor: str) -> str:
    """The CPython release line a Python of the family is built from: 3.13t -> 3.13."""
    return minor.removesuffix(FREE_THREADED_SUFFIX)


def minor_key(minor: str) -> tuple[int, int, int]:
    """Oldest first; a free-threaded build right after the GIL build of its minor."""
    major, _, rest = base_minor(minor).partition(".")
    return int(major), int(rest), int(is_free_threaded(minor))


MINORS: tuple[str, ...] = tuple(sorted(
    (*GIL_MINORS, *(m + FREE_THREADED_SUFFIX for m in FREE_THREADED_MINORS)), key=minor_key))

PYTHON_ORG = "python.org"
BOLT_SINCE = minor_key("3.12")
# llvm-bolt's options for CPython, given to ./configure whatever the tarball's own
# defaults: LLVM up to 19 mishandles computed gotos in position-independent code, which
# the interpreter is (a PIE), so the functions that dispatch with them (the eval loop,
# sre's matchers) keep gcc's layout; the rest is reordered by the profile (blocks,
# functions, hot and cold parts split), identical code folded and hot indirect calls
# promoted.
_BOLT_COMMON = ("-update-debug-sections", "-skip-funcs=_PyEval_EvalFrameDefault,"
                "sre_ucs1_match/1,sre_ucs2_match/1,sre_ucs4_match/1")
BOLT_FLAGS = {
    "BOLT_INSTRUMENT_FLAGS": " ".join(_BOLT_COMMON),
    "BOLT_APPLY_FLAGS": " ".join((
        *_BOLT_COMMON, "-reorder-blocks=ext-tsp", "-reorder-functions=cdsort",
        "-split-functions", "-icf=1", "-inline-all", "-split-eh",
        "-reorder-functions-use-hot-size", "-peepholes=none", "-jump-tables=aggressive",
        "-inline-ap", "-indirect-call-promotion=all", "-dyno-stats", "-use-gnu-stack",
        "-frame-opt=hot")),
}
# Which vendor's archive holds a suite's pool.
_SUITE_VENDORS = {
    **dict.fromkeys(
        ("bionic", "focal", "jammy", "noble", "plucky", "questing", "resolute"), "ubuntu"
    ),
    **dict.fromkeys(("bullseye", "bookworm", "trixie", "forky", "sid"), "debian"),
}


class Route(enum.StrEnum):
    """How a CPython minor gets into the family's images."""

    DISTRO = "distro"  # the release's own python3.X packages
    DEADSNAKES = "deadsnakes"  # Ubuntu only: the deadsnakes PPA's packages
    SOURCE = "source"  # built from a verified tarball into /opt/python/X.Y


@dataclass(frozen=True)
class Release:
    """One CPython source tarball and where it can be downloaded."""

    minor: str
    version: str
    file: str
    sha256: str
    suite: str  # "python.org", or the archive suite(s) that publish it
    pool_path: str  # directory in the package archive's pool, "-" for python.org

    @property
    def on_python_org(self) -> bool:
        return self.suite == PYTHON_ORG

    @property
    def vendor(self) -> str | None:
        """The archive (ubuntu or debian) whose pool holds the tarball."""
        if self.on_python_org:
            return None
        release = self.suite.split(",")[0].split("-")[0]  # "focal-updates" -> "focal"
        return _SUITE_VENDORS[release]

    @property
    def origin(self) -> str:
        """Where the tarball comes from, in words (no host: mirrors are configuration)."""
        if self.on_python_org:
            return f"{PYTHON_ORG} release {self.file}"
        return f"{self.vendor} archive {self.suite} {self.pool_path}{self.file}"

    @property
    def context_name(self) -> str:
        """The tarball's name inside a build context: stable per version and compression."""
        ext = self.file.rsplit(".tar.", 1)[1]
        return f"cpython-{self.version}.tar.{ext}"


# Run by a freshly built interpreter (any CPython 3.7+): prints the JSON record that
# SBOMs read (inventory.py), from argv: the tarball's path in the build (hashed here),
# its name, origin, the grade, the prefix and the file that holds the flags the
# interpreter's own build (the second, without --enable-shared) gave ./configure;
# sysconfig's are the first build's.
CPYTHON_RECORD_SCRIPT = (
    "import hashlib, json, platform, sys, sysconfig; "
    "keys = (\"tarball\", \"origin\", \"grade\", \"prefix\"); "
    "record = dict(zip(keys, sys.argv[2:6])); "
    "record[\"sha256\"] = hashlib.sha256(open(sys.argv[1], \"rb\").read()).hexdigest(); "
    "record[\"interpreter_configure\"] = open(sys.argv[6]).read().strip(); "
    "record.update(route=\"source\", minor=\"%d.%d%s\" % (sys.version_info[0], "
    "sys.version_info[1], \"t\" if sysconfig.get_config_var(\"Py_GIL_DISABLED\") else \"\"), "
    "version=platform.python_version(), "
    "configure=sysconfig.get_config_var(\"CONFIG_ARGS\") or \"\"); "
    "print(json.dumps(record, indent=1, sort_keys=True))"
)


@functools.cache
def releases() -> tuple[Release, ...]:
    text = resources.files("snakepacker.data").joinpath("cpython-releases.tsv").read_text()
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return tuple(Release(**row) for row in rows)


def check_minor(minor: str) -> str:
    if minor not in MINORS:
        raise UsageError(f"unknown Python minor {minor!r} (supported: {', '.join(MINORS)})")
    return minor


def default_release(minor: str) -> Release:
    """python.org's newest patch release of MINOR (of 3.13 for 3.13t): what a source
    build uses unless told."""
    check_minor(minor)
    return next(r for r in releases() if r.minor == base_minor(minor) and r.on_python_org)


def find_release(version: str) -> Release:
    """The release of an exact version such as ``3.12.3``."""
    matches = [r for r in releases() if r.version == version]
    if not matches:
        known = ", ".join(r.version for r in releases())
        raise UsageError(f"no known CPython tarball for version {version!r} (known: {known})")
    return matches[0]


def default_route(distro: Distro, minor: str) -> Route:
    """The release's own packages where it ships the minor, else a source build (always,
    for a free-threaded build)."""
    return Route.DISTRO if minor == distro.system_python else Route.SOURCE


def check_route(distro: Distro, minor: str, route: Route) -> Route:
    if is_free_threaded(minor) and route is not Route.SOURCE:
        raise UsageError(f"free-threaded {minor} is built from source only (--route "
                         f"{minor}=source)")
    if route is Route.DISTRO and minor != distro.system_python:
        raise UsageError(
            f"{distro.name} ships Python {distro.system_python}, not {minor}: "
            f"use the source route{' or deadsnakes' if distro.has_deadsnakes else ''}"
        )
    if route is Route.DEADSNAKES and not distro.has_deadsnakes:
        raise UsageError(f"the deadsnakes route is for Ubuntu; {distro.name} is {distro.vendor}")
    return route


@dataclass(frozen=True)
class PythonSpec:
    """One minor of the family: its route and, for a source build, its tarball."""

    minor: str
    route: Route
    release: Release | None = None  # set for the source route

    @property
    def free_threaded(self) -> bool:
        return is_free_threaded(self.minor)

    @property
    def configure_flags(self) -> tuple[str, ...]:
        """What ./configure gets besides the prefix and the grade's flags."""
        return ("--disable-gil",) if self.free_threaded else ()

    @property
    def boltable(self) -> bool:
        """Whether ./configure offers --enable-bolt (3.12+). Only the interpreter is
        BOLTed (make's BOLT_BINARIES): it carries libpython's code, and libpython.so
        never runs in the profile."""
        return self.route is Route.SOURCE and minor_key(self.minor) >= BOLT_SINCE

    @property
    def prefix(self) -> str:
        return f"/opt/python/{self.minor}" if self.route is Route.SOURCE else "/usr"

    @property
    def executable(self) -> str:
        return f"{self.prefix}/bin/python{self.minor}"

    @property
    def libpython_files(self) -> tuple[str, ...]:
        """libpython's shared libraries in a source build (libpython3.X.so.1.0, and
        libpython3.so, the stable ABI's name for it), which its X.Y image leaves out:
        only embedders (uWSGI, mod_wsgi) load them, so they stay in `all`, and pack
        copies them into an app image whose venv links them. None for the distro's and
        deadsnakes' Pythons (packages of their own, which find-libdeps names like any
        library's) and for 3.7, whose stdlib extensions are linked against them."""
        if self.route is not Route.SOURCE or minor_key(self.minor) < minor_key("3.8"):
            return ()
        lib = f"{self.prefix}/lib"
        return (f"{lib}/libpython{self.minor}.so.1.0", f"{lib}/libpython3.so")

    @property
    def runtime_left_out(self) -> tuple[str, ...]:
        """What the X.Y image of a source build leaves out that `all` keeps, as shell
        globs under the prefix: what compiles or links against CPython (headers, the
        Makefile and python-config, libpython.so where the stdlib does not need it),
        what only a person at a terminal uses (IDLE, 2to3 and lib2to3, turtle without
        Tk, the keyword and topic texts of help(), ensurepip's wheels), and the test
        suite's extension modules."""
        lib = f"lib/python{self.minor}"
        dynload = f"{lib}/lib-dynload"
        return (
            "include", "lib/pkgconfig", "share",
            "bin/idle*", "bin/2to3*", "bin/python*-config",
            *(("lib/libpython*",) if self.libpython_files else ()),
            f"{lib}/config-*", f"{lib}/ensurepip", f"{lib}/idlelib", f"{lib}/lib2to3",
            f"{lib}/pydoc_data", f"{lib}/turtle.py", f"{lib}/__pycache__/turtle.*",
            f"{dynload}/_test*", f"{dynload}/_ctypes_test*", f"{dynload}/_xxtestfuzz*",
            f"{dynload}/xxlimited*", f"{dynload}/xxsubtype*",
        )

    @property
    def stage(self) -> str:
        """Name of the build stage that compiles this minor (source route)."""
        return f"cpython{self.minor.replace('.', '')}"

    @property
    def describe(self) -> str:
        if self.release is not None:
            return f"{self.route} {self.release.version}"
        return str(self.route)

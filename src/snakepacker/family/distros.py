"""The distributions the family can stand on, as data.

Each entry says where its packages come from (vendor, suite, components), which
CPython minor the release ships as its own system Python, and the names its
archive gives to the packages the family installs where names differ between
releases.
"""

from __future__ import annotations

from dataclasses import dataclass

from snakepacker.errors import UsageError

# Packages whose names are the same on every supported release.
_BUILD_TOOLS = ("build-essential", "pkg-config", "git")
_SDIST_HEADERS = (
    "libffi-dev",
    "libssl-dev",
    "libpq-dev",
    "libxml2-dev",
    "libxslt1-dev",
    "libyaml-dev",
)
# What a CPython source build needs on top of the build tools. Tk is left out on
# purpose: the family's images have no display.
_CPYTHON_BUILD_DEPS = (
    "build-essential",
    "pkg-config",
    "xz-utils",
    "libbz2-dev",
    "libffi-dev",
    "libgdbm-compat-dev",
    "libgdbm-dev",
    "liblzma-dev",
    "libncurses-dev",
    "libreadline-dev",
    "libsqlite3-dev",
    "libssl-dev",
    "libzstd-dev",
    "uuid-dev",
    "zlib1g-dev",
)
# Headers Pillow's optional features build against.
_PILLOW_HEADERS = (
    "libfreetype-dev",
    "libfribidi-dev",
    "libharfbuzz-dev",
    "libimagequant-dev",
    "libjpeg-dev",
    "liblcms2-dev",
    "libopenjp2-7-dev",
    "libpng-dev",
    "libraqm-dev",
    "libtiff-dev",
    "libwebp-dev",
    "libxcb1-dev",
    "zlib1g-dev",
)

# The system libraries a manylinux wheel may expect to find rather than carry: the
# manylinux policies (PEP 513, 571, 599, 600 and auditwheel's policy list) allow X11's
# client libraries (X11, Xext, Xrender, ICE, SM), GL, GLib (glib, gobject, gthread),
# expat, zlib, libatomic and glibc's own. glibc, libgcc/libstdc++ and zlib are in every
# image already. `all` carries the rest so that find-libdeps can name their packages
# (opencv-python needs libXext.so.6, pygraphviz's wheels GLib); a packed image then
# installs only those its venv links. libX11's own package brings libxcb, which
# opencv-python's wheels also link. GLib's package took a t64 suffix on the releases
# that moved to a 64-bit time_t.
_WHEEL_SYSTEM_LIBRARIES = (
    "libatomic1",
    "libexpat1",
    "libgl1",
    "libice6",
    "libsm6",
    "libx11-6",
    "libxext6",
    "libxrender1",
)

# Files dpkg leaves out of every image: docs (but their copyright notices), manuals,
# translations, the ICU copy of the time zones, the leap-second ("right/") zones that
# nothing uses by default, the second copy of every zone under "posix/" that Ubuntu's
# tzdata ships (450 files, 0.6 MB; the same data under the zone's own name, the one
# Python's zoneinfo lists), and shell completions. The bootstrapped root and `base`
# both carry this list, so later installs honour it too.
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/zoneinfo-icu/*",
    "path-exclude=/usr/share/zoneinfo/right/*",
    "path-exclude=/usr/share/zoneinfo/posix/*",
    "path-exclude=/usr/share/bash-completion/*",
)


# LLVM's own tools, which Ubuntu's versioned Rust packages carry beside rustc (about
# 420 MB) and which building a crate never runs: left out of `all` by dpkg.
RUST_DPKG_EXCLUDES = tuple(
    f"path-exclude=/usr/lib/rust-*/lib/rustlib/*/bin/{name}"
    for name in ("llc", "opt", "llvm-*", "wasm-component-ld")
)


@dataclass(frozen=True)
class RustToolchain:
    """The newest Rust a release's archive carries, for sdists that build Rust extensions
    (cryptography, pydantic-core, orjson): the default rustc of the Ubuntu LTS releases
    (1.75) is older than many of them need, and their archives keep newer ones as
    versioned packages (rustc-1.91) outside PATH; Debian keeps one as rustc-web."""

    version: str
    packages: tuple[str, ...]
    bin_dir: str | None = None  # where a versioned toolchain keeps rustc and cargo

    @staticmethod
    def versioned(version: str) -> RustToolchain:
        return RustToolchain(version, (f"rustc-{version}", f"cargo-{version}"),
                             f"/usr/lib/rust-{version}/bin")


@dataclass(frozen=True)
class Distro:
    name: str  # the release's code name, also the family's distro key
    vendor: str  # "ubuntu" or "debian"
    version: str
    system_python: str  # the CPython minor the release ships as python3
    components: tuple[str, ...]
    mysql_dev: str  # the client library headers go by two names
    rust: RustToolchain
    glibc: tuple[int, int]  # the C library's version: which manylinux wheels run on it
    default: bool = False
    time64: bool = False  # libraries renamed by the 64-bit time_t transition (…t64)
    # The release's base-files lays out the merged /usr itself and its archive has no
    # usr-is-merged package, which mmdebstrap's merged-usr hook would install (and fail).
    merged_usr_by_base_files: bool = False
    # The LLVM version whose BOLT (llvm-bolt, merge-fdata) a source build may run after
    # PGO; None where no BOLT build has been seen to work on the release.
    bolt: str | None = None
    # The LLVM version whose clang, lld and llvm-profdata compile a release-grade CPython
    # (ThinLTO, PGO through clang's own profiles); None: the release's gcc, as for the
    # quick grade everywhere. Set where a clang release build measured faster than the
    # gcc one (bench/README.md). A --bolt build keeps gcc: llvm-bolt 18 crashed on
    # the clang-built interpreter.
    clang: str | None = None

    @property
    def official_image(self) -> str:
        """The distro's image as registries publish it."""
        return f"{self.vendor}:{self.name}"

    @property
    def suites(self) -> tuple[str, str, str]:
        """Release, updates and security pockets, in apt's order."""
        return (self.name, f"{self.name}-updates", f"{self.name}-security")

    @property
    def has_deadsnakes(self) -> bool:
        return self.vendor == "ubuntu"

    @property
    def build_packages(self) -> tuple[str, ...]:
        """What `all` installs besides the Pythons: compilers and common -dev packages."""
        return (*_BUILD_TOOLS, *_SDIST_HEADERS, self.mysql_dev)

    @property
    def wheel_system_libraries(self) -> tuple[str, ...]:
        """Runtime packages of the libraries a manylinux wheel may expect from the system."""
        glib = "libglib2.0-0t64" if self.time64 else "libglib2.0-0"
        return (*_WHEEL_SYSTEM_LIBRARIES, glib)

    @property
    def cpython_build_packages(self) -> tuple[str, ...]:
        return _CPYTHON_BUILD_DEPS

    @property
    def bolt_packages(self) -> tuple[str, ...]:
        return (f"bolt-{self.bolt}",) if self.bolt else ()

    @property
    def bolt_tools(self) -> dict[str, str]:
        """./configure's variables naming BOLT's tools (the packages put them outside PATH).

        The LLVM directory's own, not /usr/bin's versioned links: llvm-bolt looks for
        its instrumentation runtime (libbolt_rt_instr.a) in ../lib beside the path it
        was started by, which from /usr/bin is /usr/lib, where the package has none."""
        if not self.bolt:
            return {}
        return {"LLVM_BOLT": f"/usr/lib/llvm-{self.bolt}/bin/llvm-bolt",
                "MERGE_FDATA": f"/usr/lib/llvm-{self.bolt}/bin/merge-fdata"}

    @property
    def clang_packages(self) -> tuple[str, ...]:
        """The compiler, linker, profile tools and profile runtime of one LLVM version."""
        if not self.clang:
            return ()
        v = self.clang
        return (f"clang-{v}", f"lld-{v}", f"llvm-{v}", f"libclang-rt-{v}-dev")

    @property
    def clang_bin(self) -> str | None:
        """Where that LLVM keeps clang, llvm-ar and llvm-profdata under their plain names,
        which ./configure looks for on PATH."""
        return f"/usr/lib/llvm-{self.clang}/bin" if self.clang else None

    @property
    def pillow_headers(self) -> tuple[str, ...]:
        return _PILLOW_HEADERS


# Debian's newer Rust, kept for the browsers' builds; it replaces rustc and cargo on PATH.
_RUST_WEB = RustToolchain("1.96", ("rustc-web", "cargo-web"))

DISTROS: dict[str, Distro] = {
    d.name: d
    for d in (
        Distro(
            "jammy", "ubuntu", "22.04", "3.10", ("main", "universe"),
            mysql_dev="libmysqlclient-dev", rust=RustToolchain.versioned("1.91"),
            glibc=(2, 35), default=True,
        ),
        Distro("noble", "ubuntu", "24.04", "3.12", ("main", "universe"), "libmysqlclient-dev",
               rust=RustToolchain.versioned("1.97"), glibc=(2, 39), time64=True, bolt="18",
               clang="18",
               merged_usr_by_base_files=True),
        Distro("bookworm", "debian", "12", "3.11", ("main",), "default-libmysqlclient-dev",
               rust=_RUST_WEB, glibc=(2, 36)),
        Distro("trixie", "debian", "13", "3.13", ("main",), "default-libmysqlclient-dev",
               rust=_RUST_WEB, glibc=(2, 41), time64=True),
    )
}

DEFAULT_DISTRO = next(d.name for d in DISTROS.values() if d.default)


def get_distro(name: str) -> Distro:
    try:
        return DISTROS[name]
    except KeyError:
        known = ", ".join(DISTROS)
        raise UsageError(f"unknown distro {name!r} (known: {known})") from None

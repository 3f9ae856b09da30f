"""The family's options as data: which distro, minors, routes and tarballs, and names.

``FamilyOptions`` is what every family image is rendered and built from. It is made
by the options table (``snakepacker.options``) from already-read values; nothing here
reads the environment, a file or the command line, so the family stays pure data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snakepacker.errors import UsageError
from snakepacker.family.cpython import (
    MINORS,
    PythonSpec,
    Release,
    Route,
    base_minor,
    check_minor,
    default_release,
    default_route,
    find_release,
    minor_key,
    releases,
)
from snakepacker.family.distros import DEFAULT_DISTRO, Distro, get_distro

DEFAULT_NAMESPACE = "snakepacker"
DEFAULT_REGISTRY = "ghcr.io"


@dataclass(frozen=True)
class NetworkOptions:
    """What build stages that reach PyPI need: extra CAs and an index. Never kept in images."""

    ca_certs: tuple[Path, ...] = ()
    index_url: str | None = None
    apt_auth: str = ""  # the archive mirrors' logins, as apt's auth.conf


@dataclass(frozen=True)
class FamilyOptions:
    distro: Distro = field(default_factory=lambda: get_distro(DEFAULT_DISTRO))
    minors: tuple[str, ...] = MINORS  # the X.Y images and the Pythons in `all`, oldest first
    routes: Mapping[str, Route] = field(default_factory=dict)  # forced routes by minor
    releases: Mapping[str, Release] = field(default_factory=dict)  # chosen tarballs by minor
    tarballs: Mapping[str, Path] = field(default_factory=dict)  # local tarball files by minor
    namespace: str = DEFAULT_NAMESPACE
    registry: str = DEFAULT_REGISTRY
    quick: bool = False  # source builds without PGO + LTO (development, CI)
    bolt: bool = False  # BOLT after PGO on the source builds that offer it (3.12+)
    cpython_mirror: str | None = None  # a URL or directory laid out like python.org's /ftp/python
    root_image: str | None = None  # forces the image `base` is built from
    network: NetworkOptions = field(default_factory=NetworkOptions)

    def python(self, minor: str) -> PythonSpec:
        route = self.routes.get(minor) or default_route(self.distro, minor)
        release = None
        if route is Route.SOURCE:
            # 3.13t builds the tarball chosen for 3.13 unless one is chosen for it.
            release = (self.releases.get(minor) or self.releases.get(base_minor(minor))
                       or default_release(minor))
        return PythonSpec(minor, route, release)

    def source_grade(self, py: PythonSpec) -> str:
        """How PY is compiled if built from source: quick, release (PGO + LTO), or
        release+bolt where BOLT was asked for and PY's configure offers it."""
        if self.quick:
            return "quick"
        return "release+bolt" if self.bolt and py.boltable else "release"

    def grade(self, pythons: Sequence[PythonSpec]) -> str:
        """How the source-built ones among PYTHONS are compiled, for their build record:
        release+bolt if any of them is."""
        bolted = any(self.source_grade(py) == "release+bolt" for py in pythons)
        return "release+bolt" if bolted else ("quick" if self.quick else "release")

    def tarball(self, minor: str) -> Path | None:
        """The local tarball file given for MINOR (or for its GIL build), if any."""
        return self.tarballs.get(minor) or self.tarballs.get(base_minor(minor))

    @property
    def pythons(self) -> tuple[PythonSpec, ...]:
        return tuple(self.python(m) for m in self.minors)


def parse_minors(words: tuple[str, ...]) -> tuple[str, ...]:
    if not words:
        return MINORS
    return tuple(sorted({check_minor(m) for m in words}, key=minor_key))


def parse_routes(words: tuple[str, ...]) -> dict[str, Route]:
    pairs: dict[str, Route] = {}
    for item in words:
        minor, sep, name = item.partition("=")
        if not sep:
            raise UsageError(f"--route takes MINOR=ROUTE, got {item!r}")
        try:
            pairs[check_minor(minor)] = Route(name)
        except ValueError:
            choices = ", ".join(r.value for r in Route)
            raise UsageError(f"unknown route {name!r} for {minor} (choose: {choices})") from None
    return pairs


def _is_file_name(spec: str) -> bool:
    return "/" in spec or spec.endswith((".tar.xz", ".tgz", ".tar.gz"))


def release_named(path: Path) -> Release:
    """The release a local tarball is, told by the name it was published under (its
    sha256 is checked against the table before any build uses it)."""
    by_file = {r.file: r for r in releases()}
    if path.name in by_file:
        return by_file[path.name]
    match = re.fullmatch(r"Python-(\d+\.\d+\.\d+\w*)\.(?:tar\.xz|tgz|tar\.gz)", path.name)
    if match:
        return find_release(match[1])
    raise UsageError(
        f"cannot tell which CPython release {path} is from its name: keep the name it was "
        "published under (Python-X.Y.Z.tar.xz, or the archive's pythonX.Y_X.Y.Z.orig.tar.xz)"
    )


def parse_releases(words: tuple[str, ...]) -> tuple[dict[str, Release], dict[str, Path]]:
    """Which tarball a source-built minor uses: ``3.13.5`` (for 3.13 and 3.13t),
    ``3.13t=3.13.5`` (for 3.13t alone), or the path of a local tarball."""
    chosen: dict[str, Release] = {}
    files: dict[str, Path] = {}
    for item in words:
        minor, sep, version = item.partition("=")
        spec = version if sep else item
        if _is_file_name(spec):
            release = release_named(Path(spec))
            files[minor if sep else release.minor] = Path(spec)
        else:
            release = find_release(spec)
        if sep and release.minor != base_minor(check_minor(minor)):
            raise UsageError(f"--cpython {item}: {release.version} is not a {minor} release")
        chosen[minor if sep else release.minor] = release
    return chosen, files


def local_tarballs(words: tuple[str, ...]) -> tuple[Path, ...]:
    """The local files named among --cpython's words."""
    return tuple(Path(w.partition("=")[2] or w) for w in words
                 if _is_file_name(w.partition("=")[2] or w))

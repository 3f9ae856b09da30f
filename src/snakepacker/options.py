"""Options for the image family, read once from the command line and the environment.

Every command that renders or builds images works from one ``FamilyOptions``; nothing
else reads ``os.environ`` for these settings.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from snakepacker.errors import UsageError
from snakepacker.family.cpython import (
    MINORS,
    PythonSpec,
    Release,
    Route,
    check_minor,
    check_route,
    default_release,
    default_route,
    find_release,
    minor_key,
)
from snakepacker.family.distros import DEFAULT_DISTRO, DISTROS, Distro, get_distro
from snakepacker.sources import release_of_file

ENV_PREFIX = "SNAKEPACKER_"
DEFAULT_NAMESPACE = "snakepacker"


@dataclass(frozen=True)
class NetworkOptions:
    """What build stages that reach PyPI need: extra CAs and an index. Never kept in images."""

    ca_certs: tuple[Path, ...] = ()
    index_url: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> NetworkOptions:
        paths = list(getattr(args, "ca_cert", None) or [])
        if not paths and env.get(ENV_PREFIX + "CA_CERTS"):
            paths = [p for p in env[ENV_PREFIX + "CA_CERTS"].split(os.pathsep) if p]
        certs = tuple(Path(p) for p in paths)
        for cert in certs:
            if not cert.is_file():
                raise UsageError(f"CA certificate file not found: {cert}")
        index = getattr(args, "index_url", None) or env.get(ENV_PREFIX + "INDEX_URL") or None
        return cls(certs, index)


@dataclass(frozen=True)
class FamilyOptions:
    distro: Distro
    minors: tuple[str, ...]  # the family's X.Y images and the Pythons in `all`, oldest first
    routes: Mapping[str, Route] = field(default_factory=dict)  # forced routes by minor
    releases: Mapping[str, Release] = field(default_factory=dict)  # chosen tarballs by minor
    tarballs: Mapping[str, Path] = field(default_factory=dict)  # local tarball files by minor
    namespace: str = DEFAULT_NAMESPACE
    registry: str = "ghcr.io"
    release_grade: bool = False  # PGO + LTO source builds
    cpython_mirror: str | None = None  # a URL or directory laid out like python.org's /ftp/python
    root_image: str | None = None  # forces the image `base` is built from
    network: NetworkOptions = field(default_factory=NetworkOptions)

    def python(self, minor: str) -> PythonSpec:
        route = self.routes.get(minor) or default_route(self.distro, minor)
        release = None
        if route is Route.SOURCE:
            release = self.releases.get(minor) or default_release(minor)
        return PythonSpec(minor, route, release)

    @property
    def pythons(self) -> tuple[PythonSpec, ...]:
        return tuple(self.python(m) for m in self.minors)

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, env: Mapping[str, str] | None = None
    ) -> FamilyOptions:
        env = os.environ if env is None else env

        def pick(name: str) -> str | None:
            value = getattr(args, name, None)
            return value if value is not None else env.get(ENV_PREFIX + name.upper())

        distro = get_distro(pick("distro") or DEFAULT_DISTRO)
        minors = _parse_minors(pick("minors"))
        routes = _parse_pairs(pick("route"), "--route", Route)
        for minor, route in routes.items():
            check_route(distro, minor, route)
        releases, tarballs = _parse_releases(pick("cpython"))
        return cls(
            distro=distro,
            minors=minors,
            routes=routes,
            releases=releases,
            tarballs=tarballs,
            namespace=pick("namespace") or DEFAULT_NAMESPACE,
            registry=pick("registry") or "ghcr.io",
            release_grade=bool(getattr(args, "release_grade", False))
            or env.get(ENV_PREFIX + "RELEASE_GRADE", "").lower() in ("1", "true", "yes"),
            cpython_mirror=pick("cpython_mirror"),
            root_image=pick("root_image"),
            network=NetworkOptions.from_args(args, env),
        )


def add_family_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("family options (each also read from SNAKEPACKER_<NAME>)")
    group.add_argument("--distro", choices=list(DISTROS),
                       help=f"the distro the family stands on (default {DEFAULT_DISTRO})")
    group.add_argument("--minors", metavar="X.Y,…",
                       help=f"narrow the family to these CPython minors (default all: "
                            f"{MINORS[0]} to {MINORS[-1]})")
    group.add_argument("--route", metavar="X.Y=ROUTE,…",
                       help="force how a minor is installed: "
                            + ", ".join(r.value for r in Route)
                            + " (default: distro where the release ships it, else source)")
    group.add_argument("--cpython", metavar="VERSION|FILE,…",
                       help="tarball for a source-built minor: a version (3.12.3), X.Y=VERSION, "
                            "or a local file (default: python.org's newest patch release)")
    group.add_argument("--cpython-mirror", metavar="URL|DIR",
                       help="fetch CPython tarballs from here first")
    group.add_argument("--release-grade", action="store_true",
                       help="build CPython with PGO and LTO (slow; default is a quick build)")
    group.add_argument("--namespace", help="registry namespace (default snakepacker)")
    group.add_argument("--registry", help="registry of the long names (default ghcr.io)")
    group.add_argument("--root-image", metavar="IMAGE",
                       help="build base from this image instead of the distro root")
    group.add_argument("--ca-cert", action="append", metavar="FILE",
                       help="extra CA certificates for build stages that reach PyPI "
                            "(repeatable; SNAKEPACKER_CA_CERTS=FILE:FILE); never kept in images")
    group.add_argument("--index-url", metavar="URL",
                       help="package index for build stages (SNAKEPACKER_INDEX_URL)")


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.replace(",", " ").split() if part.strip()]


def _parse_minors(value: str | None) -> tuple[str, ...]:
    chosen = _split(value)
    if not chosen:
        return MINORS
    return tuple(sorted({check_minor(m) for m in chosen}, key=minor_key))


def _parse_pairs(value: str | None, option: str, kind: type[Route]) -> dict[str, Route]:
    pairs: dict[str, Route] = {}
    for item in _split(value):
        minor, sep, name = item.partition("=")
        if not sep:
            raise UsageError(f"{option} takes MINOR=ROUTE, got {item!r}")
        try:
            pairs[check_minor(minor)] = kind(name)
        except ValueError:
            choices = ", ".join(r.value for r in kind)
            raise UsageError(f"unknown route {name!r} for {minor} (choose: {choices})") from None
    return pairs


def _parse_releases(value: str | None) -> tuple[dict[str, Release], dict[str, Path]]:
    """Which tarball a source-built minor uses: ``3.12.3``, ``3.12=3.12.3``, or the path
    of a local tarball (recognised by its sha256)."""
    chosen: dict[str, Release] = {}
    files: dict[str, Path] = {}
    for item in _split(value):
        minor, sep, version = item.partition("=")
        spec = version if sep else item
        if "/" in spec or spec.endswith((".tar.xz", ".tgz", ".tar.gz")):
            release = release_of_file(Path(spec))
            files[release.minor] = Path(spec)
        else:
            release = find_release(spec)
        if sep and release.minor != check_minor(minor):
            raise UsageError(f"--cpython {item}: {release.version} is not a {minor} release")
        chosen[release.minor] = release
    return chosen, files

"""Which wheels run on an image: CPython X.Y on Linux, with the distro's C library.

A lock lists every file of every version it pins, for every platform: a package with
wheels for macOS, Windows, musl and five machines has a hundred hashes of which the
image can use two or three. The tags a wheel's name carries say where it runs; the
target's tags (by packaging, the reference implementation) are those of CPython X.Y,
its free-threaded ABI where it is one, the stable ABI, and the manylinux levels the
distro's glibc meets, for the image's machine.

Used twice: to keep only the hashes of files the install can take, and to tell which
CPython minors a lock's packages have wheels for (an sdist only, or no file list at
all, tells nothing: such a package does not decide).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

# The oldest manylinux level: glibc 2.5 (manylinux1).
_OLDEST_GLIBC_MINOR = 5
# The legacy names of three levels, by glibc minor; the older two for Intel only.
_LEGACY = {17: ("manylinux2014", None), 12: ("manylinux2010", ("x86_64", "i686")),
           5: ("manylinux1", ("x86_64", "i686"))}


def _platforms(glibc: tuple[int, int], machine: str) -> list[str]:
    """The manylinux platform tags glibc GLIBC on MACHINE runs, newest first."""
    major, newest = glibc
    platforms = []
    for minor in range(newest, _OLDEST_GLIBC_MINOR - 1, -1):
        platforms.append(f"manylinux_{major}_{minor}_{machine}")
        legacy, machines = _LEGACY.get(minor, (None, None))
        if legacy and (machines is None or machine in machines):
            platforms.append(f"{legacy}_{machine}")
    return platforms


@cache
def target_tags(minor: str, glibc: tuple[int, int], machine: str) -> frozenset[Tag]:
    """Every tag a wheel may carry to install on CPython MINOR ("3.12", "3.13t")."""
    version = tuple(int(part) for part in minor.rstrip("t").split("."))
    platforms = _platforms(glibc, machine)
    abis = [f"cp{version[0]}{version[1]}t"] if minor.endswith("t") else None
    tags = set(cpython_tags(version, abis=abis, platforms=platforms))
    tags |= set(compatible_tags(version, f"cp{version[0]}{version[1]}", platforms))
    return frozenset(tags)


def is_wheel(name: str) -> bool:
    return name.endswith(".whl")


def runs_on(name: str, tags: frozenset[Tag]) -> bool:
    """Whether the wheel file NAME installs where TAGS apply (False for a bad name)."""
    try:
        _, _, _, wheel_tags = parse_wheel_filename(name)
    except InvalidWheelFilename:
        return False
    return bool(wheel_tags & tags)


def usable(names: Iterable[str], tags: frozenset[Tag]) -> set[str]:
    """Of a package's files NAMES, those the install may take: its sdists, and its
    wheels for TAGS."""
    return {n for n in names if not is_wheel(n) or runs_on(n, tags)}


def blocking(packages: Iterable[tuple[str, str, Iterable[str]]],
             tags: frozenset[Tag]) -> list[str]:
    """Of PACKAGES ((name, version, file names)), "name version" of those that publish
    wheels but none for TAGS: the install would build them from source. A package
    with no wheel at all (an sdist only, or no file list) decides nothing."""
    found = []
    for name, version, names in packages:
        wheel_names = [n for n in names if is_wheel(n)]
        if wheel_names and not any(runs_on(n, tags) for n in wheel_names):
            found.append(f"{name} {version}")
    return found


def newest_with_wheels(packages: Iterable[tuple[str, str, Iterable[str]]],
                       minors: Iterable[str], glibc: tuple[int, int],
                       machine: str) -> tuple[str | None, dict[str, list[str]]]:
    """The newest of MINORS (oldest first) for which every package of PACKAGES has a
    wheel or none at all, and, for each newer minor, the packages that have none."""
    packages = [(name, version, tuple(names)) for name, version, names in packages]
    missing: dict[str, list[str]] = {}
    for minor in reversed(list(minors)):
        blocked = blocking(packages, target_tags(minor, glibc, machine))
        if not blocked:
            return minor, missing
        missing[minor] = blocked
    return None, missing

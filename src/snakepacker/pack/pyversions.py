"""Which CPython minors a ``requires-python`` string allows, read by ``packaging``.

A minor X.Y is allowed when some final release X.Y.Z satisfies the whole specifier.
Within X.Y the specifier's clauses can only change their answer at the patch numbers
they name, so it is enough to ask about those, their neighbours, 0 and one patch
beyond any of them: if no such release satisfies it, none does.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from snakepacker.errors import UsageError

_BEYOND = 10**6  # a patch number past every real one


def parse(spec: str) -> SpecifierSet:
    """SPEC as a specifier set; UsageError when it is not one."""
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier:
        raise UsageError(f"cannot read requires-python {spec!r}") from None


def _candidates(specifier: SpecifierSet, major: int, minor: int) -> set[int]:
    patches = {0, _BEYOND}
    for clause in specifier:
        try:
            release = Version(clause.version.removesuffix(".*")).release
        except InvalidVersion:  # === names an arbitrary string
            continue
        if release[:2] == (major, minor) and len(release) > 2:
            patches |= {max(release[2] - 1, 0), release[2], release[2] + 1}
    return patches


def allows(spec: str | None, minor: str) -> bool:
    """True when some release of MINOR (``"3.12"``, ``"3.13t"``) satisfies SPEC."""
    if not spec or not spec.strip():
        return True
    specifier = parse(spec)
    major, number = (int(part) for part in minor.rstrip("t").split("."))
    return any(Version(f"{major}.{number}.{patch}") in specifier
               for patch in _candidates(specifier, major, number))


def allowed(spec: str | None, minors: Iterable[str]) -> list[str]:
    return [minor for minor in minors if allows(spec, minor)]

"""Which CPython minors a ``requires-python`` string allows.

A minor X.Y is allowed when some patch release X.Y.Z satisfies every clause. Only the
release segment of a version counts (pre-release and local parts are dropped), which is
all a Python requirement needs; the package ``packaging`` is not a dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from snakepacker.errors import UsageError

_CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([0-9][0-9a-zA-Z.*+!-]*)\s*$")
_PATCHES = range(0, 100)


def _release(text: str) -> tuple[int, ...]:
    match = re.match(r"^(?:\d+!)?(\d+(?:\.\d+)*)", text)
    if not match:
        raise ValueError(text)
    return tuple(int(part) for part in match.group(1).split("."))


def _pad(version: tuple[int, ...], length: int) -> tuple[int, ...]:
    return version + (0,) * (length - len(version))


def _compare(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = _pad(a, n), _pad(b, n)
    return (a > b) - (a < b)


def _matches(version: tuple[int, ...], op: str, target: str) -> bool:
    if target.endswith(".*"):
        if op not in ("==", "!="):
            raise ValueError(target)
        prefix = _release(target[:-2])
        same = _pad(version, len(prefix))[: len(prefix)] == prefix
        return same if op == "==" else not same
    wanted = _release(target)
    cmp = _compare(version, wanted)
    if op in ("==", "==="):
        return cmp == 0
    if op == "!=":
        return cmp != 0
    if op == "<":
        return cmp < 0
    if op == "<=":
        return cmp <= 0
    if op == ">":
        return cmp > 0
    if op == ">=":
        return cmp >= 0
    # ~=X.Y.Z means >= X.Y.Z and == X.Y.*
    if len(wanted) < 2:
        raise ValueError(target)
    return cmp >= 0 and version[: len(wanted) - 1] == wanted[:-1]


def parse(spec: str) -> list[tuple[str, str]]:
    """The clauses of SPEC as (operator, version); UsageError when it is not one."""
    clauses: list[tuple[str, str]] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        match = _CLAUSE.match(part)
        if not match:
            raise UsageError(f"cannot read requires-python {spec!r} (clause {part.strip()!r})")
        op, target = match.groups()
        try:
            _matches((3, 0, 0), op, target)
        except ValueError:
            raise UsageError(f"cannot read requires-python {spec!r} (clause {part.strip()!r})") \
                from None
        clauses.append((op, target))
    return clauses


def allows(spec: str | None, minor: str) -> bool:
    """True when some patch release of MINOR (``"3.12"``) satisfies SPEC."""
    if not spec or not spec.strip():
        return True
    clauses = parse(spec)
    base = _release(minor)
    return any(
        all(_matches((*base, patch), op, target) for op, target in clauses)
        for patch in _PATCHES
    )


def allowed(spec: str | None, minors: Iterable[str]) -> list[str]:
    return [minor for minor in minors if allows(spec, minor)]

"""What the provenance labels say that follows from the family data alone.

The build record (``io.snakepacker.build``) and the names of the build arguments that
carry the values changing from build to build. Pure: the times and commits themselves
are read by ``snakepacker.provenance``, which the orchestration calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from snakepacker.family.cpython import PythonSpec, Route

CREATED_ARG = "SNAKEPACKER_CREATED"
REVISION_ARG = "SNAKEPACKER_REVISION"
PARENT_ARG = "SNAKEPACKER_PARENT"
BUILD_LABEL = "io.snakepacker.build"


def build_record(distro: str, pythons: Sequence[PythonSpec], grade: str) -> str:
    """The ``io.snakepacker.build`` label: compact JSON, keys sorted. GRADE says how the
    source-built CPythons were compiled: quick, release (PGO + LTO) or release+bolt."""
    record: dict[str, object] = {"distro": distro, "grade": grade}
    cpythons = []
    for py in pythons:
        entry = {"minor": py.minor, "route": str(py.route)}
        if py.route is Route.SOURCE and py.release is not None:
            entry.update(version=py.release.version, tarball=py.release.file,
                         sha256=py.release.sha256)
        cpythons.append(entry)
    if cpythons:
        record["cpython"] = cpythons
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def quote_label(value: str) -> str:
    """A LABEL value in double quotes: quotes, backslashes and $ escaped, one line."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + escaped.replace("\n", " ") + '"'


def recorded_grade(record: str | None) -> str:
    """The grade an image's build record states; "unknown" where it has no readable one."""
    try:
        grade = json.loads(record or "").get("grade")
    except (ValueError, AttributeError):
        return "unknown"
    return grade if isinstance(grade, str) and grade else "unknown"

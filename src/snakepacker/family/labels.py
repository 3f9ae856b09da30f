"""The labels every family image and packed image carries, written in one place.

The OCI labels (title, description, version, source, base name and digest, revision,
created) and snakepacker's own: the build record (``io.snakepacker.build``: distro,
grade, CPython tarballs) and the parent's image id. Values that change from build to
build (created, revision, the parent's id) are build arguments the LABEL refers to;
every other value is quoted here (snakepacker.quoting) for the LABEL step the
templates' ``label_step`` macro writes. Pure: the times and commits themselves are
read where images are built (snakepacker.vcs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from snakepacker import quoting
from snakepacker.family.cpython import PythonSpec, Route

CREATED_ARG = "SNAKEPACKER_CREATED"
REVISION_ARG = "SNAKEPACKER_REVISION"
PARENT_ARG = "SNAKEPACKER_PARENT"
BUILD_LABEL = "io.snakepacker.build"
# The sha256 of the Dockerfile the image was built from, as "sha256:HEX": set by the
# engine's build call (a label given to the build, so the Dockerfile need not name its
# own digest), read back into the image's provenance.
DOCKERFILE_LABEL = "io.snakepacker.dockerfile"


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


class ArgRef(str):
    """A label value that is a build argument's, written ``${NAME}``, never escaped."""


def oci_labels(own: Sequence[tuple[str, str | None]], base_name: str | ArgRef,
               record: str) -> dict[str, str]:
    """The LABEL step's keys and quoted values: OWN first (pairs whose value is None are
    left out), then the base image, the parent, the build RECORD, revision and time."""
    pairs: list[tuple[str, str]] = [(key, value) for key, value in own if value is not None]
    parent = ArgRef(quoting.arg_reference(PARENT_ARG))
    pairs += [
        ("org.opencontainers.image.base.name", base_name),
        ("org.opencontainers.image.base.digest", parent),
        ("io.snakepacker.parent", parent),
        (BUILD_LABEL, record),
        ("org.opencontainers.image.revision", ArgRef(quoting.arg_reference(REVISION_ARG))),
        ("org.opencontainers.image.created", ArgRef(quoting.arg_reference(CREATED_ARG))),
    ]
    return {key: f'"{value}"' if isinstance(value, ArgRef) else quoting.label_value(value, key)
            for key, value in pairs}


def recorded_grade(record: str | None) -> str:
    """The grade an image's build record states; "unknown" where it has no readable one."""
    try:
        grade = json.loads(record or "").get("grade")
    except (ValueError, AttributeError):
        return "unknown"
    return grade if isinstance(grade, str) and grade else "unknown"

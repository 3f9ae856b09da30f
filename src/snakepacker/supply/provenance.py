"""SLSA provenance (v1) of an image, from what the image itself records.

A signed push attests, beside each image's SBOM, how the image was made, as SLSA's
provenance v1 predicate. Everything in it is read from the image, as its SBOM is
(sbom.read_image), never taken from what snakepacker meant to build: the labels every
family and packed image carries (family/labels.py: the build record with the distro,
the grade and each CPython's route and tarball; the source and its revision; the base
image and its id), the records a source-built CPython leaves in /usr/share/snakepacker,
dpkg's database and the Python distributions' metadata, and the Dockerfile's digest,
which the engine's build call labels every image with. What the image does not record
is left out rather than guessed: an invocation id, and when the build started and
finished (the `created` label is the source's time, not the build's; a label with the
build's own time would make every build of the same inputs a different image). Pure:
cosign wraps the predicate in an in-toto statement about the pushed digest and signs
it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from packaging.utils import canonicalize_name

from snakepacker import __version__
from snakepacker.family.labels import BUILD_LABEL, DOCKERFILE_LABEL
from snakepacker.supply.inventory import Inventory
from snakepacker.supply.sbom import Subject, cpython_purl, deb_purl, pypi_purl

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# What kind of build made the image; each fixes what the parameters below mean (the
# README's supply-chain section describes both).
FAMILY_BUILD = "urn:snakepacker:build-type:family-image:v1"
PACK_BUILD = "urn:snakepacker:build-type:pack:v1"
_SHA256 = re.compile(r"^sha256:([0-9a-f]{64})$")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
L_SOURCE = "org.opencontainers.image.source"
L_REVISION = "org.opencontainers.image.revision"
L_BASE, L_BASE_DIGEST = "org.opencontainers.image.base.name", "org.opencontainers.image.base.digest"
L_VENV, L_PYTHON = "io.snakepacker.venv", "io.snakepacker.python"


def build_record(subject: Subject) -> dict[str, Any]:
    """The image's ``io.snakepacker.build`` label, read; {} where it has no readable one."""
    try:
        record = json.loads(subject.labels.get(BUILD_LABEL) or "{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def external_parameters(subject: Subject, inv: Inventory) -> dict[str, Any]:
    """What the build was asked for: the image, platform, distro, grade, each CPython's
    route; for a packed app also the project, its Python and venv."""
    record = build_record(subject)
    params: dict[str, Any] = {
        "image": subject.labels.get("org.opencontainers.image.title") or subject.ref,
        "platform": subject.platform,
        "distro": record.get("distro", ""),
        "grade": record.get("grade", ""),
        "cpython": [{k: str(v) for k, v in entry.items() if k in ("minor", "route", "version")}
                    for entry in record.get("cpython") or () if isinstance(entry, dict)],
    }
    if subject.labels.get(L_VENV):
        params["python"] = subject.labels.get(L_PYTHON, "")
        params["venv"] = subject.labels[L_VENV]
        if inv.project is not None:
            params["project"] = {"name": inv.project[0], "version": inv.project[1]}
    return {k: v for k, v in params.items() if v}


def _source(subject: Subject) -> list[dict[str, Any]]:
    source = subject.labels.get(L_SOURCE, "")
    revision = subject.labels.get(L_REVISION, "")
    if not source and not revision:
        return []
    entry: dict[str, Any] = {"name": "source", **({"uri": source} if source else {})}
    if _COMMIT.match(revision):
        entry["digest"] = {"gitCommit": revision}
    elif revision and revision != "unknown":
        entry["annotations"] = {"revision": revision}  # a version: no checkout was there
    return [entry] if "uri" in entry or "digest" in entry else []


def _base(subject: Subject) -> list[dict[str, Any]]:
    match = _SHA256.match(subject.labels.get(L_BASE_DIGEST, ""))
    if not match:
        return []
    return [{"name": subject.labels.get(L_BASE) or "base", "digest": {"sha256": match[1]},
             "annotations": {"digestOf": "the base image's config (its image id)"}}]


def _dockerfile(subject: Subject) -> list[dict[str, Any]]:
    match = _SHA256.match(subject.labels.get(DOCKERFILE_LABEL, ""))
    if not match:
        return []
    return [{"name": "Dockerfile", "digest": {"sha256": match[1]},
             "annotations": {"digestOf": "the rendered Dockerfile the image was built from"}}]


def _tarballs(subject: Subject, inv: Inventory) -> list[dict[str, Any]]:
    """Each source-built CPython's tarball: from the record the build left in the image,
    or where that is not in it, from the build label."""
    found: dict[str, dict[str, Any]] = {}
    for interpreter in inv.interpreters:
        if interpreter.route == "source" and interpreter.sha256:
            found.setdefault(interpreter.sha256, {
                "uri": cpython_purl(interpreter), "name": interpreter.tarball,
                "digest": {"sha256": interpreter.sha256},
                **({"annotations": {"origin": interpreter.origin}} if interpreter.origin
                   else {}),
            })
    for entry in build_record(subject).get("cpython") or ():
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) and sha not in found:
            found[sha] = {"uri": f"pkg:generic/cpython@{entry.get('version', '')}"
                                 f"?checksum=sha256:{sha}",
                          "name": str(entry.get("tarball", "")), "digest": {"sha256": sha}}
    return list(found.values())


def resolved_dependencies(subject: Subject, inv: Inventory) -> list[dict[str, Any]]:
    """What went into the image: the source revision, the Dockerfile, the base image,
    the CPython tarballs, every dpkg package and Python distribution it holds (package URLs; the
    packed project itself is the build's output, not its input)."""
    project = inv.project
    dists = [d for d in inv.dists if project is None
             or (d.normalized, d.version) != (canonicalize_name(project[0]), project[1])]
    return [
        *_source(subject), *_dockerfile(subject), *_base(subject), *_tarballs(subject, inv),
        *({"uri": deb_purl(p, inv)} for p in inv.packages),
        *({"uri": pypi_purl(d)} for d in dists),
    ]


def provenance(subject: Subject, inv: Inventory,
               builder_version: str = __version__) -> dict[str, Any]:
    """The SLSA provenance v1 predicate of the image SUBJECT and INV describe."""
    build_type = PACK_BUILD if subject.labels.get(L_VENV) else FAMILY_BUILD
    return {
        "buildDefinition": {
            "buildType": build_type,
            "externalParameters": external_parameters(subject, inv),
            "resolvedDependencies": resolved_dependencies(subject, inv),
        },
        "runDetails": {
            "builder": {"id": f"pkg:generic/snakepacker@{builder_version}",
                        "version": {"snakepacker": builder_version}},
        },
    }


def provenance_json(subject: Subject, inv: Inventory) -> str:
    """The predicate as the push attests it: JSON, keys sorted, the same for one image."""
    return json.dumps(provenance(subject, inv), sort_keys=True, indent=1) + "\n"

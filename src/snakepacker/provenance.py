"""Provenance labels: where an image comes from, what it was built of, and when.

Every family and packed image carries the OCI labels (source, revision, version,
created, base.name, base.digest) and two of snakepacker's own: ``io.snakepacker.build``
(one JSON object: distro, route, CPython tarball and sha256, grade) and
``io.snakepacker.parent`` (the parent's image id). Values that change from build to
build (created, revision, the parent's id) reach the Dockerfile as build arguments
declared just before its last LABEL, so no cached step depends on them.

``created`` honours SOURCE_DATE_EPOCH; without it, it is the commit time of what the
image is made from (snakepacker's family data and templates, or the packed project),
else 0; ``revision`` is that commit. Two builds of the same inputs get the same labels,
so a parent's labels change only when it is rebuilt for a reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from snakepacker import __version__
from snakepacker.family.labels import CREATED_ARG, PARENT_ARG, REVISION_ARG

_HERE = Path(__file__).resolve().parent
# What family images are made from (git pathspecs, relative to this package). Their
# labels name the last commit that touched these, not HEAD: a child's cache is keyed
# by its parent's image id, labels included, so a label that changed with every
# commit would rebuild the whole family (CPython included) for a README edit.
FAMILY_INPUTS = ("family", "data", "templates", "tools", ":(exclude)templates/pack.j2")


def _git(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


def source_date_epoch(repo: Path | None = None, paths: Sequence[str] = (),
                      env: Mapping[str, str] | None = None) -> int:
    """SOURCE_DATE_EPOCH when set; else the last commit time of PATHS in REPO (a git
    checkout); else 0."""
    env = os.environ if env is None else env
    given = env.get("SOURCE_DATE_EPOCH", "").strip()
    if given.isdigit():
        return int(given)
    if repo is not None and repo.is_dir():
        found = _git(repo, "log", "-1", "--format=%ct", "--", *paths)
        if found and found.isdigit():
            return int(found)
    return 0


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def revision(repo: Path | None, paths: Sequence[str] = ()) -> str:
    """The last commit of REPO that touched PATHS (all paths: HEAD), or "" outside a
    git checkout."""
    if repo is None or not repo.is_dir():
        return ""
    return _git(repo, "log", "-1", "--format=%H", "--", *paths) or ""


def snakepacker_source() -> str:
    """snakepacker's own source URL, as its package metadata names it ("" when none)."""
    try:
        urls = metadata.metadata("snakepacker").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return ""
    for entry in urls:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("source", "repository", "homepage"):
            return url.strip()
    return ""


def family_args(parent_id: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The build arguments of a family image's last LABEL."""
    epoch = source_date_epoch(_HERE, FAMILY_INPUTS, env)
    return {CREATED_ARG: rfc3339(epoch),
            REVISION_ARG: revision(_HERE, FAMILY_INPUTS) or __version__,
            PARENT_ARG: parent_id}


def project_args(root: Path | None, parent_id: str,
                 env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The build arguments of a packed image's LABEL: times and commit of the project."""
    epoch = source_date_epoch(root, (".",), env)
    return {CREATED_ARG: rfc3339(epoch), REVISION_ARG: revision(root, (".",)) or "unknown",
            PARENT_ARG: parent_id}

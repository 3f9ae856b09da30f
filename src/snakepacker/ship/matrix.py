"""The family's build spread over a CI matrix, and the lists made from its digests.

One machine cannot build four distros by eight minors by three platforms in reasonable
time, so the published build runs as one job per (distro, platform) on a native runner
where the CI service has one (QEMU elsewhere). Each job pushes its platform's images
and writes one small record per image: the tag, the platform, the repository and the
digest it pushed (``images build --push-by-digest DIR``). A last job gathers the
records and makes one multi-platform list per tag and name (``images merge DIR``);
only then does any published tag move. Each list names the platforms the matrix plans
for its tag's distro (or those --platform names), never just the records at hand: a
job that failed or was left out leaves its platform without records, and then no list
moves at all, rather than one that silently lacks a platform.

``jobs`` is pure data; the pushing and the lists are `images push`'s own
(snakepacker.shipping), split between the jobs and the merge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from snakepacker.engine import Engine
from snakepacker.errors import UsageError
from snakepacker.family.distros import DISTROS, get_distro
from snakepacker.family.images import distro_of_tag
from snakepacker.platforms import PLATFORMS, Platform, get_platform
from snakepacker.refs import repository
from snakepacker.ship.shipping import (
    Publish,
    Registry,
    Shipment,
    Shipped,
    push_platforms,
    smoke_test,
    write_all_lists,
)

# Where each platform builds: a native runner, or an amd64 one under QEMU.
RUNNERS: dict[str, tuple[str, bool]] = {
    "linux/amd64": ("ubuntu-24.04", False),
    "linux/arm64": ("ubuntu-24.04-arm", False),
    "linux/arm/v7": ("ubuntu-24.04", True),
}
# Ubuntu's foreign architectures live in its ports archive, which not every builder
# reaches: a distro that cannot be had for a platform is left out of the matrix here.
_UNSUPPORTED: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Job:
    distro: str
    platform: str
    runner: str
    emulated: bool

    @property
    def name(self) -> str:
        return f"{self.distro}-{get_platform(self.platform).suffix}"


def jobs(distros: Iterable[str] = DISTROS, platforms: Iterable[str] = PLATFORMS) -> list[Job]:
    """One job per (distro, platform), in the family's order."""
    out = []
    for distro in distros:
        get_distro(distro)
        for name in platforms:
            platform = get_platform(name)
            if (distro, platform.name) in _UNSUPPORTED:
                continue
            runner, emulated = RUNNERS[platform.name]
            out.append(Job(distro, platform.name, runner, emulated))
    return out


def matrix_json(selected: Sequence[Job]) -> str:
    """The jobs as GitHub Actions reads a matrix's `include` list: one line of JSON."""
    return json.dumps([{**asdict(job), "name": job.name} for job in selected],
                      separators=(",", ":"))


# -- the records a build job leaves, and the merge -------------------------------------


@dataclass(frozen=True)
class Pushed:
    """One platform's image of one tag, pushed by digest."""

    tag: str  # the family's tag: 3.12, 3.12-bookworm, 3.12.3
    platform: str  # linux/arm64
    repository: str  # where it was pushed: ghcr.io/snakepacker/python
    digest: str  # sha256:...
    names: tuple[str, ...]  # the names the tag's list gets
    immutable: bool = False  # a patch tag: never moved once it exists
    python: bool = True  # a target image

    @property
    def ref(self) -> str:
        return f"{self.repository}@{self.digest}"


def _record_file(folder: Path, pushed: Pushed) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{pushed.tag}@{pushed.platform}")
    return folder / f"{stem}.json"


def write_record(folder: Path, pushed: Pushed) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = _record_file(folder, pushed)
    path.write_text(json.dumps(asdict(pushed), indent=1) + "\n")
    return path


def read_records(folder: Path) -> list[Pushed]:
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such directory of pushed digests")
    records = []
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
            record = Pushed(data["tag"], data["platform"], data["repository"], data["digest"],
                            tuple(data["names"]), bool(data.get("immutable", False)),
                            bool(data.get("python", True)))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a pushed-digest record ({exc})") from None
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", record.digest):
            raise UsageError(f"{path}: {record.digest!r} is not a digest")
        get_platform(record.platform)
        records.append(record)
    if not records:
        raise UsageError(f"{folder}: holds no pushed-digest records")
    return records


def group(records: Iterable[Pushed],
          platforms: Sequence[Platform] | None = None) -> dict[str, list[Pushed]]:
    """Records by tag; with PLATFORMS, a tag missing one of them is an error (its list
    would silently lack a platform)."""
    by_tag: dict[str, list[Pushed]] = {}
    for record in records:
        by_tag.setdefault(record.tag, []).append(record)
    for tag, items in by_tag.items():
        seen = [r.platform for r in items]
        if len(seen) != len(set(seen)):
            raise UsageError(f"{tag}: more than one record for one platform ({', '.join(seen)})")
        if len({r.names for r in items}) != 1 or len({r.repository for r in items}) != 1:
            raise UsageError(f"{tag}: its records disagree on the names or the repository")
    if platforms is not None:
        _refuse_missing(by_tag, {tag: tuple(platforms) for tag in by_tag}, "")
    return by_tag


def planned_platforms(tag: str) -> tuple[Platform, ...]:
    """The platforms the CI matrix builds TAG's distro for, as `images matrix` plans it
    with no --platform: the platforms TAG's list must name."""
    return tuple(get_platform(job.platform) for job in jobs([distro_of_tag(tag)]))


def _refuse_missing(by_tag: dict[str, list[Pushed]],
                    expected: dict[str, tuple[Platform, ...]], hint: str) -> None:
    """UsageError, one line, naming each tag whose records lack an expected platform."""
    gaps = []
    for tag, items in sorted(by_tag.items()):
        seen = {r.platform for r in items}
        missing = [p.name for p in expected[tag] if p.name not in seen]
        if missing:
            gaps.append(f"{tag}: no image was pushed for {', '.join(missing)}")
    if gaps:
        shown = gaps[:5] + ([f"and {len(gaps) - 5} more tags"] if len(gaps) > 5 else [])
        raise UsageError("; ".join(shown) + hint)


def merge_shipments(records: Iterable[Pushed], platforms: Sequence[Platform] | None = None,
                    say: Callable[[str], None] = lambda _m: None,
                    ) -> list[tuple[Shipment, dict[Platform, str]]]:
    """Each tag's shipment and its platforms' digests, checked: a tag's list names exactly
    PLATFORMS, or without them the platforms the matrix plans for its distro, and every
    one of them must have a record; a list never silently lacks a platform."""
    by_tag = group(records)
    if platforms is not None:
        expected = {tag: tuple(platforms) for tag in by_tag}
        hint = ""
    else:
        expected = {tag: planned_platforms(tag) for tag in by_tag}
        hint = " (the plan of `images matrix`; --platform names the platforms to list)"
    _refuse_missing(by_tag, expected, hint)
    order = list(PLATFORMS)
    out = []
    for tag, items in sorted(by_tag.items()):
        wanted = {p.name for p in expected[tag]}
        for record in items:
            if record.platform not in wanted:
                say(f"{tag}: leaving out the image for {record.platform} (not asked for)")
        listed = sorted((r for r in items if r.platform in wanted),
                        key=lambda r: order.index(r.platform))
        first = listed[0]
        shipment = Shipment(tag, {get_platform(r.platform): r.ref for r in listed},
                            first.names, first.python, first.immutable)
        out.append((shipment, {get_platform(r.platform): r.digest for r in listed}))
    return out


def merge(records: Iterable[Pushed], registry: Registry,
          platforms: Sequence[Platform] | None = None,
          say: Callable[[str], None] = lambda _m: None, key: Path | None = None,
          ) -> list[Shipped]:
    """One list per tag, under each of its names, as `images push` writes them (an
    immutable patch tag already naming other images is kept). Every record and every
    name is checked first, so bad input moves no list; each list is signed with KEY
    when one is given."""
    return write_all_lists(registry, merge_shipments(records, platforms, say), say, key)


def push_by_digest(engine: Engine, registry: Registry, shipments: Sequence[Shipment],
                   folder: Path, progress: Callable[[str], None],
                   publish: Publish | None = None) -> list[Pushed]:
    """A CI job's share: smoke-test and push every platform's image (signed, with its
    SBOM and provenance attested, when PUBLISH has a key), and leave one record per image
    in FOLDER for `images merge`. No list is written here: the merge job writes (and
    signs) them once every job has pushed."""
    smoke_test(engine, shipments, progress)
    pushed = push_platforms(engine, registry, shipments, progress, publish)
    records = []
    for shipment in shipments:
        for platform in shipment.images:
            record = Pushed(shipment.tag, platform.name, registry_repository(shipment),
                            pushed[shipment.tag, platform], shipment.names,
                            shipment.immutable, shipment.python)
            write_record(folder, record)
            records.append(record)
    return records


def registry_repository(shipment: Shipment) -> str:
    return repository(shipment.names[0])

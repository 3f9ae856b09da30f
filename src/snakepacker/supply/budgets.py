"""Budgets: a packed image held to a maximum size, compressed size and number of
system packages, before it is tagged.

A CI job wants a pack that grew past what the project allows to fail, and to say why
in a line it can show: each measure over its budget, the budget, the value, and what
weighs most in it. Over any budget the pack fails with BudgetError (exit 6), and the
image gets none of its tags, as after a failed build. Within them, one line per
budget follows the size report.

What is measured, only for the budgets given:

- size: the image as the engine stores it, uncompressed (the size report's total, what
  `docker images` shows). The parts named are the report's buckets, the biggest
  first, and the venv's biggest Python distributions, by the sizes of their files in
  the image (copied out of a container that never starts: nothing of the image runs);
- compressed size: the image's layers as a push sends them (see ``layers``), with the
  same buckets, each layer put in one by its place over the family's images or by the
  instruction that made it;
- system packages: the packages in the image's dpkg database (its status.d fragments
  when distroless) that the X.Y image it stands on does not have: those find-libdeps
  and --apt named, with what they depend on. The largest by dpkg's Installed-Size.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from snakepacker.engine import Engine
from snakepacker.errors import BudgetError
from snakepacker.family.images import Family
from snakepacker.pack.options import Budgets, Size
from snakepacker.pack.packing import Packed
from snakepacker.pack.project import SourceKind
from snakepacker.pack.report import SYSTEM_LIBRARIES, VENV, bucket_of
from snakepacker.supply.imagefs import Snapshot, parts_of
from snakepacker.supply.inventory import DPKG_STATUS, DPKG_STATUS_D, installed_packages
from snakepacker.supply.layers import Layer, compressed_layers

_SHOWN = 3  # parts named per measure
_RECORD = re.compile(r"^(?P<site>.+/site-packages)/(?P<dist>[^/]+)\.dist-info/RECORD$")


@dataclass(frozen=True)
class Measure:
    """One budget and what the image has of it."""

    option: str  # the option that sets the budget: max-size, ...
    what: str  # what is measured, in words
    value: int
    budget: int
    show: Callable[[int], str]  # a value in the budget's unit
    parts: Callable[[], list[str]]  # what weighs most, biggest first, read when over
    note: str = ""  # how it was measured, said when over

    @property
    def over(self) -> bool:
        return self.value > self.budget

    def within_line(self) -> str:
        return f"  {f'{self.option} {self.show(self.budget)}':<28}{self.show(self.value):>11}"

    def over_text(self) -> str:
        parts = ", ".join(self.parts())
        said = "; ".join(p for p in (self.note, f"biggest: {parts}" if parts else "") if p)
        return (f"{self.what} {self.show(self.value)} > {self.option} "
                f"{self.show(self.budget)}" + (f" ({said})" if said else ""))


def check_budgets(engine: Engine, packed: Packed) -> tuple[str, ...]:
    """The within-budget lines of PACKED's budgets; BudgetError, one line, when any is
    exceeded. Nothing is measured for a budget that was not given."""
    budgets = packed.plan.options.budgets
    if not budgets:
        return ()
    measures = measure(engine, packed, budgets)
    over = [m for m in measures if m.over]
    if over:
        raise BudgetError(over_budget_line(packed, over))
    return tuple(m.within_line() for m in measures)


def over_budget_line(packed: Packed, over: Iterable[Measure]) -> str:
    name = packed.tags[0] if packed.tags else packed.image_id
    return (f"{name} is over budget: {'; '.join(m.over_text() for m in over)}; "
            f"the image ({packed.image_id.removeprefix('sha256:')[:12]}) is left untagged")


def measure(engine: Engine, packed: Packed, budgets: Budgets) -> list[Measure]:
    found = []
    if budgets.size is not None:
        found.append(_size(engine, packed, budgets.size))
    if budgets.compressed_size is not None:
        found.append(_compressed(engine, packed, budgets.compressed_size))
    if budgets.system_packages is not None:
        found.append(_system_packages(engine, packed, budgets.system_packages))
    return found


# -- size ----------------------------------------------------------------------------------


def _size(engine: Engine, packed: Packed, budget: Size) -> Measure:
    def parts() -> list[str]:
        buckets = _biggest(packed.report.parts(), budget.show)
        venv_named = any(part.startswith(f"{VENV} ") for part in buckets)
        if buckets and not venv_named:
            return buckets
        dists = _biggest(distribution_sizes(engine, packed.image_id, _venv(packed)),
                         budget.show)
        if not buckets:  # distroless: the venv's distributions are all there is to tell
            return dists
        return [f"{part} [{', '.join(dists)}]" if part.startswith(f"{VENV} ") and dists
                else part for part in buckets]

    return Measure("max-size", "size", packed.report.total, budget.bytes, budget.show, parts)


def distribution_sizes(engine: Engine, image: str, venv: str) -> dict[str, int]:
    """The bytes of each Python distribution's files in IMAGE's venv, by the top-level
    names its RECORD lists (a package folder counts whole, bytecode included)."""
    with parts_of(engine, image) as read:
        snapshot = read([f"{venv}/lib"], lambda path: bool(_RECORD.match(path)))
    return _by_distribution(snapshot)


def _by_distribution(snapshot: Snapshot) -> dict[str, int]:
    owners: dict[tuple[str, str], str] = {}  # (site-packages, top-level name) -> dist
    for path, data in snapshot.files.items():
        match = _RECORD.match(path)
        if match is None:
            continue
        site, dist = match["site"], match["dist"].split("-")[0]
        owners[(site, f"{match['dist']}.dist-info")] = dist
        for row in csv.reader(data.decode("utf-8", "replace").splitlines()):
            top = row[0].split("/")[0] if row and row[0] else ""
            if top and top not in ("..", "."):
                owners.setdefault((site, top), dist)
    sizes: dict[str, int] = {}
    for entry in snapshot.entries.values():
        site, _, rest = entry.path.partition("/site-packages/")
        owner = owners.get((f"{site}/site-packages", rest.split("/")[0])) if rest else None
        if owner is not None:
            sizes[owner] = sizes.get(owner, 0) + entry.size
    return sizes


# -- compressed size -------------------------------------------------------------------------


def _compressed(engine: Engine, packed: Packed, budget: Size) -> Measure:
    layers = list({layer.diff_id: layer for layer in compressed_layers(
        engine, packed.image_id)}.values())  # a layer twice is sent once

    def parts() -> list[str]:
        return _biggest(layer_buckets(engine, packed, layers), budget.show)

    return Measure("max-compressed-size", "compressed size",
                   sum(layer.compressed for layer in layers), budget.bytes, budget.show,
                   parts, note="gzip of each layer")


def layer_buckets(engine: Engine, packed: Packed, layers: list[Layer]) -> dict[str, int]:
    """LAYERS' compressed bytes in the size report's buckets: the family's layers by
    the image they come from (base, the interpreter, X.Y-pillow's libraries), pack's
    own by the instruction that made them."""
    family = _family(packed)
    plan = packed.plan
    below = [("base", family.ref("base")), ("interpreter", family.ref(plan.python.minor)),
             (SYSTEM_LIBRARIES, plan.final_ref)]
    ids = [layer.diff_id for layer in layers]
    buckets: dict[str, int] = {}
    start = 0
    for name, ref in below:
        end = _shared(ids, _diff_ids(engine, ref))
        buckets[name] = buckets.get(name, 0) + sum(
            layer.compressed for layer in layers[start:end])
        start = max(start, end)
    code_dir = plan.options.workdir if plan.project.kind is SourceKind.REQUIREMENTS else None
    for layer in layers[start:]:
        name = bucket_of(layer.created_by, _venv(packed), code_dir)
        buckets[name] = buckets.get(name, 0) + layer.compressed
    return buckets


def _diff_ids(engine: Engine, ref: str) -> list[str]:
    return list((engine.inspect(ref).get("RootFS") or {}).get("Layers") or [])


def _shared(ids: list[str], below: list[str]) -> int:
    """How many of IDS, from the first, are BELOW's layers (0 when not all of them)."""
    return len(below) if below and ids[: len(below)] == below else 0


# -- system packages -------------------------------------------------------------------------


def _system_packages(engine: Engine, packed: Packed, budget: int) -> Measure:
    parent = packed.plan.final_ref
    mine, theirs = _dpkg(engine, packed.image_id), _dpkg(engine, parent)
    added = {key: size for key, size in mine.items() if key not in theirs}

    def parts() -> list[str]:
        return _biggest({name if _one_arch(added, name) else f"{name}:{arch}": size
                         for (name, arch), size in added.items()}, Size(1).show)

    return Measure("max-system-packages", "system packages", len(added), budget, str,
                   parts, note=f"added to {parent}")


def _dpkg(engine: Engine, image: str) -> dict[tuple[str, str], int]:
    """IMAGE's installed packages: (name, architecture) -> their installed bytes."""
    with parts_of(engine, image) as read:
        snapshot = read(["/" + DPKG_STATUS, "/" + DPKG_STATUS_D.rstrip("/")],
                        lambda p: p == DPKG_STATUS or p.startswith(DPKG_STATUS_D))
    return {(p.name, p.architecture): p.installed_size
            for p in installed_packages(snapshot.files)}


def _one_arch(packages: Mapping[tuple[str, str], int], name: str) -> bool:
    return sum(1 for n, _ in packages if n == name) == 1


# -- shared ------------------------------------------------------------------------------------


def _biggest(sizes: Mapping[str, int], show: Callable[[int], str]) -> list[str]:
    """The biggest of SIZES, each named with its weight."""
    ranked = sorted(((n, c) for n, c in sizes.items() if c > 0), key=lambda nc: (-nc[1], nc[0]))
    return [f"{name} {show(count)}" for name, count in ranked[:_SHOWN]]


def _venv(packed: Packed) -> str:
    return packed.plan.options.venv_path


def _family(packed: Packed) -> Family:
    if packed.family is None:
        raise AssertionError("a packed image knows the family it was packed on")
    return packed.family


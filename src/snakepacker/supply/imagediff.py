"""`images diff`: what differs between the files of two images.

Two builds from the same inputs should hold the same files; this says where they do
not. Both images are exported (at once, on two threads: the engine streams while
Python hashes) and compared path by path: kind, permission bits, owner, size and
content digest, link target, device numbers. mtimes are left aside: they say when a
layer was made, not what it holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from snakepacker.engine import Engine
from snakepacker.supply.imagefs import Entry, snapshot


@dataclass(frozen=True)
class Change:
    path: str
    what: tuple[str, ...]  # "content", "mode 0644 -> 0755", ...


@dataclass(frozen=True)
class Diff:
    added: tuple[Entry, ...]
    removed: tuple[Entry, ...]
    changed: tuple[Change, ...]

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> Iterator[str]:
        """One line per difference, in path order: + added, - removed, ~ changed."""
        rows = [(e.path, f"+ /{e.path}  ({describe(e)})") for e in self.added]
        rows += [(e.path, f"- /{e.path}  ({describe(e)})") for e in self.removed]
        rows += [(c.path, f"~ /{c.path}  {'; '.join(c.what)}") for c in self.changed]
        for _, line in sorted(rows):
            yield line

    def summary(self) -> str:
        if self.equal:
            return "no difference"
        return (f"{len(self.added)} added, {len(self.removed)} removed, "
                f"{len(self.changed)} changed")


def describe(entry: Entry) -> str:
    text = f"{entry.kind} {entry.mode_text} {entry.uid}:{entry.gid}"
    if entry.kind == "file":
        text += f" {entry.size} bytes"
    if entry.target:
        text += f" -> {entry.target}"
    return text


def compare_entries(old: Entry, new: Entry) -> tuple[str, ...]:
    """What differs between two entries of the same path; () when nothing does."""
    what: list[str] = []
    if old.kind != new.kind:
        return (f"kind {old.kind} -> {new.kind}",)
    if old.kind == "file" and (old.size != new.size or old.sha256 != new.sha256):
        what.append(f"content ({old.size} -> {new.size} bytes, sha256 {old.sha256[:12]} -> "
                    f"{new.sha256[:12]})" if old.size != new.size else
                    f"content (sha256 {old.sha256[:12]} -> {new.sha256[:12]})")
    if old.mode_text != new.mode_text:
        what.append(f"mode {old.mode_text} -> {new.mode_text}")
    if (old.uid, old.gid) != (new.uid, new.gid):
        what.append(f"owner {old.uid}:{old.gid} -> {new.uid}:{new.gid}")
    if old.target != new.target:
        what.append(f"target {old.target} -> {new.target}")
    if old.device != new.device:
        what.append(f"device {old.device} -> {new.device}")
    return tuple(what)


def diff_entries(old: Mapping[str, Entry], new: Mapping[str, Entry]) -> Diff:
    added = tuple(new[p] for p in sorted(new.keys() - old.keys()))
    removed = tuple(old[p] for p in sorted(old.keys() - new.keys()))
    changed = []
    for path in sorted(old.keys() & new.keys()):
        what = compare_entries(old[path], new[path])
        if what:
            changed.append(Change(path, what))
    return Diff(added, removed, tuple(changed))


def diff_images(engine: Engine, first: str, second: str) -> Diff:
    """The differences between the files of images FIRST and SECOND."""
    for ref in (first, second):
        engine.inspect(ref)  # a missing image fails before any export starts
    with ThreadPoolExecutor(max_workers=2) as pool:
        old, new = pool.map(lambda ref: snapshot(engine, ref, hash_files=True), (first, second))
    return diff_entries(old.entries, new.entries)

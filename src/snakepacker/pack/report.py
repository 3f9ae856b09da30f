"""The size report printed after a pack.

How the numbers are found: ``docker image inspect`` gives the size of the family's
``base`` image, of X.Y and of the final stage's parent (X.Y, or X.Y-pillow). Each image
is counted by what it adds to the one below it: X.Y minus base is the interpreter;
X.Y-pillow minus X.Y is Pillow's runtime packages, which are system libraries like
those pack installs itself. ``docker history`` of
the packed image lists its layers newest first; the ones above the parent's are pack's
own, and each is put in a bucket by the instruction that made it: the apt-install step
is the system libraries, the COPY of the dependencies' venv and that of the project's
layer (its files in the venv, a requirements-only project's code, the links to its
console scripts and snakepacker's lists, a few KB) are the venv, anything else (the
user) is "other".

The floor is what the app cannot do without: base + interpreter + system libraries +
venv, the venv counted without pip, setuptools and wheel (measured with ``du`` in the
image when --keep-pip kept them). Total ÷ floor is pack's overhead.

Some distributions are heavy for a reason their lighter twin avoids: opencv-python
links the GUI stack (X11, Mesa, and through Mesa LLVM), which find-libdeps then has to
install; opencv-python-headless is the same library without it. When the project
names one of them (in its dependencies, its lock or the requirement packed), the report
ends with a line that says so.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from snakepacker.cachedir import recall, record_path, remember
from snakepacker.engine import Engine, ImageFacts
from snakepacker.pack.dockerfile import LAYER

# The buckets of pack's own layers, named as the report names them.
SYSTEM_LIBRARIES, VENV, OTHER = "system libraries", "venv", "other"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class SizeReport:
    base: int
    interpreter: int
    system_libraries: int
    venv: int
    other: int
    total: int
    build_tools: int = 0  # pip/setuptools/wheel bytes inside the venv (--keep-pip)
    notes: tuple[str, ...] = ()  # advice on heavy distributions (see HEAVIER_TWINS)

    @property
    def floor(self) -> int:
        return self.base + self.interpreter + self.system_libraries + self.venv \
            - self.build_tools

    @property
    def ratio(self) -> float:
        return self.total / self.floor if self.floor else float("nan")

    def parts(self) -> dict[str, int]:
        """Each bucket's bytes, by name (empty for --distroless: one layer, not told apart)."""
        if not self.floor:
            return {}
        return {"base": self.base, "interpreter": self.interpreter,
                SYSTEM_LIBRARIES: self.system_libraries, VENV: self.venv, OTHER: self.other}

    def lines(self) -> list[str]:
        def mb(n: int) -> str:
            return f"{n / 1e6:8.1f} MB"

        if not self.floor:
            # --distroless: one layer from scratch; its parts are not told apart.
            return [f"  {'total (distroless)':<28}{mb(self.total)}",
                    *(f"  note: {n}" for n in self.notes)]
        rows = [
            ("base", self.base),
            ("interpreter", self.interpreter),
            ("system libraries", self.system_libraries),
            ("venv", self.venv),
        ]
        if self.other:
            rows.append(("other (links, user, lists)", self.other))
        rows.append(("total", self.total))
        out = [f"  {name:<28}{mb(size)}" for name, size in rows]
        note = " (venv without pip/setuptools/wheel)" if self.build_tools else ""
        out.append(f"  {'floor' + note:<28}{mb(self.floor)}")
        out.append(f"  {'total / floor':<28}{self.ratio:8.3f}")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


# A distribution that pulls in system libraries a server seldom needs -> the one that
# does the same work without them, and what the difference is.
HEAVIER_TWINS = {
    "opencv-python": ("opencv-python-headless", "X11, Mesa and LLVM"),
    "opencv-contrib-python": ("opencv-contrib-python-headless", "X11, Mesa and LLVM"),
}


def notes_for(names: Iterable[str]) -> tuple[str, ...]:
    """One line per heavy distribution among NAMES (any spelling)."""
    found = sorted({canonicalize_name(n) for n in names} & HEAVIER_TWINS.keys())
    return tuple(
        f"{name} brings the GUI stack ({HEAVIER_TWINS[name][1]}) into the system "
        f"libraries; {HEAVIER_TWINS[name][0]} is the same library without it"
        for name in found)


def size_report(
    engine: Engine, image: str, *, base_ref: str, parent_ref: str, venv: str,
    code_dir: str | None = None, keep_pip: bool = False, python_ref: str | None = None,
    notes: tuple[str, ...] = (), known: Mapping[str, ImageFacts] | None = None,
) -> SizeReport:
    """PYTHON_REF is the X.Y image when the parent (X.Y-pillow) stands on it. KNOWN
    holds what the engine already said about the images below (pack asked before its
    build): they are not asked about again.

    An image id names its content, so the report of an image on the same images below
    never changes: it is remembered in the cache directory, and a pack that changed
    nothing (the engine's cache gave back the same image) asks the engine nothing."""
    below = [base_ref, parent_ref, *([python_ref] if python_ref else [])]
    facts = {ref: known[ref] for ref in below if known and ref in known}
    if missing := [ref for ref in below if ref not in facts]:
        facts.update(engine.describe(missing))
    memo = _memo(engine, image, [facts.get(ref) for ref in below],
                 [venv, code_dir or "", str(keep_pip)])
    if memo is not None and (numbers := _recall(memo)) is not None:
        return SizeReport(*numbers, notes=notes)
    report = _measure(engine, image, {ref: f.size for ref, f in facts.items()},
                      base_ref=base_ref, parent_ref=parent_ref, venv=venv,
                      code_dir=code_dir, keep_pip=keep_pip, python_ref=python_ref,
                      notes=notes)
    if memo is not None:
        _remember(memo, report)
    return report


def _measure(
    engine: Engine, image: str, sizes: dict[str, int], *, base_ref: str, parent_ref: str,
    venv: str, code_dir: str | None, keep_pip: bool, python_ref: str | None,
    notes: tuple[str, ...],
) -> SizeReport:
    """The report from the engine's answers; SIZES holds those of the images below."""
    sizes = {**sizes, **{ref: f.size for ref, f in engine.describe([image]).items()}}
    base = sizes.get(base_ref, 0)
    parent = sizes.get(parent_ref, 0)
    python = (sizes.get(python_ref) or parent) \
        if python_ref and python_ref != parent_ref else parent
    total = sizes.get(image, 0)
    layers = engine.history(image)
    ours = layers[: len(layers) - len(engine.history(parent_ref))]
    buckets = dict.fromkeys((SYSTEM_LIBRARIES, VENV, OTHER), 0)
    for size, created in ours:
        buckets[bucket_of(created, venv, code_dir)] += size
    libs, venv_bytes, other = buckets[SYSTEM_LIBRARIES], buckets[VENV], buckets[OTHER]
    tools = _build_tools_bytes(engine, image, venv) if keep_pip else 0
    libs += parent - python  # what X.Y-pillow adds to X.Y: Pillow's libraries
    return SizeReport(base, python - base, libs, venv_bytes, other, total, tools, notes)


# -- the remembered reports -------------------------------------------------------


def _memo(engine: Engine, image: str, below: list[ImageFacts | None],
          choices: list[str]) -> Path | None:
    """Where the report of IMAGE on the images BELOW (with CHOICES) is remembered; None
    when an id is not a content digest (an image below is missing, or the engine names
    images otherwise). The engine is part of the key: another engine may count the same
    layers in other ways."""
    ids = [image, *(facts.id if facts else "" for facts in below)]
    if not all(_DIGEST.fullmatch(i) for i in ids):
        return None
    return record_path("size-reports", [engine.name, *ids, *choices])


def _recall(memo: Path) -> list[int] | None:
    try:
        numbers = json.loads(recall(memo) or "null")
    except ValueError:
        return None
    fields = len(dataclasses.fields(SizeReport)) - 1  # all but the notes
    ok = isinstance(numbers, list) and len(numbers) == fields
    return numbers if ok and all(type(n) is int for n in numbers) else None


def _remember(memo: Path, report: SizeReport) -> None:
    remember(memo, json.dumps([getattr(report, f.name) for f in dataclasses.fields(report)
                               if f.name != "notes"]))


def bucket_of(created: str, venv: str, code_dir: str | None = None) -> str:
    """The bucket of one of pack's own layers, by the instruction that made it."""
    if "apt-install" in created:
        return SYSTEM_LIBRARIES
    if created.lstrip().startswith("COPY") and (
        f" {venv} " in f" {created} " or f" {LAYER}/ " in f" {created} "
        or (code_dir and f" {code_dir} " in f" {created} ")
    ):
        return VENV
    return OTHER


def _build_tools_bytes(engine: Engine, image: str, venv: str) -> int:
    script = (
        f"cd {venv}/lib/python*/site-packages && "
        "du -scb pip pip-* setuptools setuptools-* wheel wheel-* _distutils_hack "
        "pkg_resources 2>/dev/null | tail -n1 | cut -f1"
    )
    proc = engine.run(["--rm", "--entrypoint", "sh", "--user", "0", image, "-c", script],
                      check=False)
    try:
        return int(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0

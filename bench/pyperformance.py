"""pyperformance benchmarks inside each build grade of a source-built CPython and
inside the distro's own CPython of the same minor, on this machine, in one run.

    .venv/bin/python bench/pyperformance.py [--build] [--namespace snakepacker-bench]
        [--distro noble] [--cpython 3.12.3] [--rounds 2] [--rigorous]
        [--benchmarks nbody,float,...] [--grades quick,release,release+bolt,distro]
        [--also NAME=IMAGE ...]

The images compared (each X.Y image of its own namespace, NS-GRADE/python:X.Y-DISTRO):

- quick: the source build with `--quick` (no PGO, no LTO);
- release: the default source build (PGO + LTO, frame pointers, the distro's stack
  protector; by clang where the distro's data names one: noble);
- release+bolt: the release build with `--bolt` (llvm-bolt after PGO, always by gcc),
  where the distro has it (`--grades` without it leaves it out);
- distro: the distro's own CPython of the same minor (route distro; Ubuntu builds its
  python3.12 with PGO and LTO). Pick a --cpython of the version the distro ships
  (noble: 3.12.3) so that the source builds and the distro's compile the same code
  (the release grade with the compiler the distro's data names: noble's clang 18).

`--also NAME=IMAGE` adds an image as it is, e.g. an earlier build kept under another tag
(its X.Y must be the same; it has a python3).

`--build` first builds the images that are missing (no cache) and records the X.Y
image's build seconds (the CPython build stage and the image; `base` is alike for all)
in the cache directory, which the table reads; the distro's root is bootstrapped into
NS if it is not there.

pyperf and pyperformance (pure Python wheels, pinned below) are downloaded once, on
the host, with the host's pip; the benchmark scripts are run from pyperformance's
data files directly with pyperf's options, so nothing is installed into the images and
nothing inside them reaches a network: the unpacked wheels are mounted read-only and
put on PYTHONPATH. pyperformance's own runner is not used (it makes a venv per
benchmark from the network). Every benchmark runs in every image before the next
benchmark starts, in an order that turns from round to round, so the load of a shared
engine falls on all alike; the load average is printed at the start and the end.

The table gives, per image: its grade, build seconds, size, and the geometric mean of
the per-benchmark speed relative to the distro's CPython (above 1: faster); a second
table gives each benchmark's mean time. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from snakepacker.engine import Engine, find_engine
from snakepacker.family.cpython import Route, find_release
from snakepacker.family.distros import get_distro
from snakepacker.family.images import Family
from snakepacker.family.options import FamilyOptions
from snakepacker.images.bootstrap import bootstrap, root_ref
from snakepacker.images.build import build_images

WHEELS = ("pyperf==2.11.0", "pyperformance==1.14.0")
BENCHMARKS_DIR = "pyperformance/data-files/benchmarks"
# Benchmark name -> (its directory in pyperformance's data files, extra options):
# numeric, object-heavy, search, text, serialization, stdlib and generator workloads.
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "nbody": ("bm_nbody", ()),
    "float": ("bm_float", ()),
    "spectral_norm": ("bm_spectral_norm", ()),
    "fannkuch": ("bm_fannkuch", ()),
    "richards": ("bm_richards", ()),
    "deltablue": ("bm_deltablue", ()),
    "chaos": ("bm_chaos", ()),
    "raytrace": ("bm_raytrace", ()),
    "go": ("bm_go", ()),
    "hexiom": ("bm_hexiom", ()),
    "nqueens": ("bm_nqueens", ()),
    "regex_v8": ("bm_regex_v8", ()),
    "json_dumps": ("bm_json_dumps", ()),
    "json_loads": ("bm_json_loads", ()),
    "deepcopy": ("bm_deepcopy", ()),
    "pickle_pure_python": ("bm_pickle", ("--pure-python", "pickle")),
    "logging": ("bm_logging", ()),
    "generators": ("bm_generators", ()),
    "coroutines": ("bm_coroutines", ()),
}
CACHE = Path.home() / ".cache" / "snakepacker" / "bench-pyperformance"
REFERENCE = "distro"


@dataclass(frozen=True)
class Grade:
    name: str
    namespace_suffix: str
    quick: bool = False
    bolt: bool = False
    route: Route = Route.SOURCE


GRADES = (
    Grade("quick", "quick", quick=True),
    Grade("release", "release"),
    Grade("release+bolt", "bolt", bolt=True),
    Grade(REFERENCE, "distro", route=Route.DISTRO),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def family_of(grade: Grade, namespace: str, distro: str, version: str) -> Family:
    minor = version.rsplit(".", 1)[0]
    releases = {minor: find_release(version)} if grade.route is Route.SOURCE else {}
    return Family(FamilyOptions(
        distro=get_distro(distro), minors=(minor,), routes={minor: grade.route},
        releases=releases, namespace=f"{namespace}-{grade.namespace_suffix}",
        quick=grade.quick, bolt=grade.bolt,
        root_image=root_ref(get_distro(distro), namespace)))


def build_missing(engine: Engine, families: Mapping[str, Family], namespace: str,
                  seconds_file: Path) -> None:
    """Build each grade's X.Y image that is not there, no cache; record its seconds."""
    for name, family in families.items():
        minor = family.options.minors[0]
        if engine.image_exists(family.ref(minor)):
            continue
        root = family.options.root_image or ""
        if not engine.image_exists(root):
            bootstrap(family.distro, engine, namespace, progress=log)
        log(f"building {family.ref(minor)} ({name})")
        built = build_images(engine, family, [minor], progress=log, no_cache=True)
        # Read again just before writing: another run of this bench may build beside it.
        recorded = read_seconds(seconds_file)
        recorded[name] = next(b.seconds for b in built if b.image.name == minor)
        seconds_file.parent.mkdir(parents=True, exist_ok=True)
        seconds_file.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def read_seconds(path: Path) -> dict[str, float]:
    return json.loads(path.read_text()) if path.is_file() else {}


def fetch_tools(cache: Path) -> Path:
    """pyperf and pyperformance's benchmarks unpacked in CACHE/site (downloaded once)."""
    site = cache / "site"
    if (site / BENCHMARKS_DIR).is_dir() and (site / "pyperf").is_dir():
        return site
    wheels = cache / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "-d", str(wheels), *WHEELS], check=True)
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist()
                     if n.startswith(("pyperf/", f"{BENCHMARKS_DIR}/"))]
            archive.extractall(site, names)
    return site


def run_one(engine: Engine, ref: str, site: Path, out: Path, bench: str,
            rigorous: bool) -> list[float]:
    """One pyperf run of BENCH in REF: its values in seconds (warm-ups left out)."""
    directory, extra = BENCHMARKS[bench]
    name = f"{bench}.json"
    engine.run(["--rm", "--read-only", "--tmpfs", "/tmp", "--network", "none",
                "-v", f"{site}:/bench:ro", "-v", f"{out}:/out", "-e", "PYTHONPATH=/bench",
                "--entrypoint", "python3", ref,
                f"/bench/{BENCHMARKS_DIR}/{directory}/run_benchmark.py",
                "--rigorous" if rigorous else "--fast", "--quiet", "-o", f"/out/{name}",
                *extra])
    data = json.loads((out / name).read_text())
    (out / name).unlink()
    return [value for b in data["benchmarks"] for run in b["runs"]
            for value in run.get("values", ())]


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def speeds(times: Mapping[str, Mapping[str, float]], reference: str) -> dict[str, float]:
    """Per image: the geometric mean over benchmarks of reference time / its time."""
    return {image: geometric_mean([times[reference][b] / t for b, t in per.items()])
            for image, per in times.items()}


def tables(times: Mapping[str, Mapping[str, float]], refs: Mapping[str, str],
           sizes: Mapping[str, float], seconds: Mapping[str, float]) -> str:
    relative = speeds(times, REFERENCE)
    lines = ["| image | grade | build s | size MB | speed vs distro (geo. mean) |",
             "|---|---|---|---|---|"]
    for grade, ref in refs.items():
        built = f"{seconds[grade]:.0f}" if grade in seconds else "-"
        lines.append(f"| {ref} | {grade} | {built} | {sizes[grade]:.1f} "
                     f"| {relative[grade]:.3f} |")
    lines += ["", "| benchmark (mean ms) | " + " | ".join(refs) + " |",
              "|---|" + "---|" * len(refs)]
    for bench in next(iter(times.values())):
        lines.append(f"| {bench} | " + " | ".join(
            f"{times[grade][bench] * 1e3:.4g}" for grade in refs) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="snakepacker-bench",
                        help="root under NS, images under NS-GRADE (default %(default)s)")
    parser.add_argument("--distro", default="noble")
    parser.add_argument("--cpython", default="3.12.3",
                        help="the tarball's version: the distro's own (default %(default)s)")
    parser.add_argument("--build", action="store_true", help="build the missing images first")
    parser.add_argument("--grades", default=",".join(g.name for g in GRADES),
                        help=f"the images to compare, {REFERENCE} among them "
                             "(default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rigorous", action="store_true",
                        help="pyperf --rigorous instead of --fast (several times longer)")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS),
                        help="comma-separated (default: all %(default)s)")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=IMAGE",
                        help="one more image to compare, as it is (repeatable)")
    args = parser.parse_args()
    chosen = [b for b in args.benchmarks.split(",") if b]
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(unknown)}")
    wanted = args.grades.split(",")
    grades = [g for g in GRADES if g.name in wanted]
    if REFERENCE not in wanted or len(grades) != len(set(wanted)):
        parser.error(f"--grades: some of {', '.join(g.name for g in GRADES)}, {REFERENCE} "
                     "among them")
    families = {g.name: family_of(g, args.namespace, args.distro, args.cpython) for g in grades}
    engine = find_engine()
    seconds_file = CACHE / f"build-seconds-{args.namespace}-{args.distro}-{args.cpython}.json"
    if args.build:
        build_missing(engine, families, args.namespace, seconds_file)
    refs = {name: f.ref(f.options.minors[0]) for name, f in families.items()}
    for extra in args.also:
        name, sep, ref = extra.partition("=")
        if not sep or not name or not ref or name in refs:
            parser.error(f"--also {extra}: NAME=IMAGE, NAME none of {', '.join(refs)}")
        refs[name] = ref
    missing = [ref for ref in refs.values() if not engine.image_exists(ref)]
    if missing:
        log(f"not built: {', '.join(missing)} (run with --build)")
        return 1
    site = fetch_tools(CACHE)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    values: dict[str, dict[str, list[float]]] = {g: {b: [] for b in chosen} for g in refs}
    order = list(refs)
    with tempfile.TemporaryDirectory(prefix="snakepacker-pyperf-") as tmp:
        out = Path(tmp)
        out.chmod(0o777)
        for round_no in range(args.rounds):
            for i, bench in enumerate(chosen):
                turn = (round_no + i) % len(order)
                for grade in order[turn:] + order[:turn]:
                    log(f"round {round_no + 1}/{args.rounds}: {bench} in {grade}")
                    values[grade][bench] += run_one(engine, refs[grade], site, out, bench,
                                                    args.rigorous)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    times = {g: {b: sum(v) / len(v) for b, v in per.items()} for g, per in values.items()}
    sizes = {g: (engine.image_size(ref) or 0) / 1e6 for g, ref in refs.items()}
    print(tables(times, refs, sizes, read_seconds(seconds_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time `snakepacker sbom` and `images diff` on the family's `all` image (issue 10).

Run after building `all` (e.g. `scripts/test`, or `snakepacker images build all`):

    .venv/bin/python bench/supply_chain.py [--image snakepacker/python:all] [--runs 3]

Prints one table: the time of `docker export` alone piped to nothing (the floor
`images diff` stands on: it reads both images' whole file systems; `sbom` copies out
only the places its records live, so it can beat it), `sbom` in each format,
and `images diff` of the image with a second image holding the same files (a tag of
a copy made by `FROM all` with one extra file), each the best of --runs, against the
goals (sbom < 2 s, diff < 10 s). Wall-clock times of the command line as a user runs
it, on whatever else the machine is doing; nothing asserts on them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snakepacker.engine import find_engine

SCRATCH = "sptest-bench-supply:extra"


def best_of(runs: int, argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True)
        times.append(time.monotonic() - started)
        if proc.returncode not in ok:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): "
                     f"{proc.stderr.decode()[-500:]}")
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="snakepacker/python:all")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = find_engine()
    if not engine.image_exists(args.image):
        sys.exit(f"{args.image} is not built here")
    size = (engine.image_size(args.image) or 0) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Dockerfile").write_text(f"FROM {args.image}\nRUN touch /bench-extra\n")
        subprocess.run([engine.client, "build", "-q", "-t", SCRATCH, tmp], env=engine.env,
                       check=True, capture_output=True)
    cli = [sys.executable, "-m", "snakepacker"]
    try:
        export = best_of(args.runs, ["sh", "-c", f'c=$({engine.client} create {args.image} '
                                     f'true) && {engine.client} export "$c" > /dev/null; '
                                     f'{engine.client} rm "$c" > /dev/null'])
        rows = [
            (f"docker export > /dev/null ({size:.0f} MB; diff's floor)", export, ""),
            ("sbom (CycloneDX)", best_of(args.runs, [*cli, "sbom", args.image]), "< 2 s"),
            ("sbom --format spdx", best_of(args.runs, [*cli, "sbom", args.image, "--format",
                                                       "spdx"]), "< 2 s"),
            ("images diff (all vs all + 1 file)",
             best_of(args.runs, [*cli, "images", "diff", args.image, SCRATCH], ok=(1,)),
             "< 10 s"),
        ]
    finally:
        engine.remove([SCRATCH])
    width = max(len(r[0]) for r in rows)
    print(f"{'what'.ljust(width)}  {'best of ' + str(args.runs):>10}  goal")
    for what, seconds, goal in rows:
        print(f"{what.ljust(width)}  {seconds:9.2f}s  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

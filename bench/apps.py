"""Each application image's size next to a naive single-stage build and the floor.

    .venv/bin/python bench/apps.py [--only NAME ...] [--skip-naive]

Build the apps first (scripts/apps). For each app it prints: the image's size; the floor
from pack's size report (base + interpreter + system libraries + venv without build
tools); a naive build of the same requirement in one stage on the family's base (distro
python3 + pip + build-essential + pip install, see bench/pack.py); and the two ratios.
Sizes are the engine's, 1 MB = 10^6 bytes. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from pack import Case, naive  # bench/pack.py, beside this file

from snakepacker.engine import find_engine
from snakepacker.family.images import Family
from snakepacker.options import family_from
from snakepacker.pack.options import DEFAULT_VENV
from snakepacker.pack.report import size_report

MB = 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="these apps only")
    parser.add_argument("--skip-naive", action="store_true", help="no naive builds")
    args = parser.parse_args()
    engine = find_engine()
    family = Family(family_from({"minors": ["3.10,3.12"]}))

    print(f"{'app':<12}{'image MB':>10}{'floor MB':>10}{'/floor':>8}"
          f"{'naive MB':>10}{'/naive':>8}")
    for recipe in family.apps:
        if args.only and recipe.name not in args.only:
            continue
        ref = family.ref(recipe.name)
        total = engine.image_size(ref)
        if total is None:
            print(f"{recipe.name:<12}{'not built':>10}")
            continue
        report = size_report(engine, ref, base_ref=family.ref("base"),
                             parent_ref=family.ref(recipe.target), venv=DEFAULT_VENV,
                             keep_pip=recipe.keep_build_tools)
        naive_mb = float("nan")
        if not args.skip_naive:
            with tempfile.TemporaryDirectory() as tmp:
                # naive() quotes its requirement once: join several as 'a' 'b'.
                case = Case(recipe.name, "' '".join((recipe.requirement, *recipe.pins)), "")
                naive_mb = naive(engine, case, Path(tmp), f"snakepacker-bench-naive:{recipe.name}")
        print(f"{recipe.name:<12}{total / MB:10.1f}{report.floor / MB:10.1f}"
              f"{total / report.floor:8.3f}{naive_mb:10.1f}{total / MB / naive_mb:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sizes of the image family on this engine, against the goals of issue 2.

Run after building (e.g. `scripts/demo` or `scripts/test`):

    .venv/bin/python bench/family_sizes.py [--namespace snakepacker] [--distro jammy]

Prints one table: each image's size, what it adds over the image it stands on, and
the goal where the issue sets one. Sizes are the engine's (uncompressed, 1 MB = 10^6 B).
"""

from __future__ import annotations

import argparse
import sys

from snakepacker.engine import find_engine
from snakepacker.family.cpython import MINORS
from snakepacker.family.distros import DEFAULT_DISTRO, get_distro
from snakepacker.images.bootstrap import root_ref

MB = 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="snakepacker")
    parser.add_argument("--distro", default=DEFAULT_DISTRO)
    args = parser.parse_args()
    distro = get_distro(args.distro)
    suffix = "" if distro.default else f"-{distro.name}"
    engine = find_engine()

    def size(ref: str) -> float | None:
        value = engine.image_size(ref)
        return value / MB if value is not None else None

    def ref(tag: str) -> str:
        return f"{args.namespace}/python:{tag}{suffix}"

    root = size(root_ref(distro, args.namespace)) or size(distro.official_image)
    rows: list[tuple[str, float | None, str, float | None, str]] = [
        ("distro root", root, "", None, "")
    ]
    base = size(ref("base"))
    rows.append(("base", base, "root", root, "<= 85 MB"))
    for minor in MINORS:  # the X.Y images built here
        target = size(ref(minor))
        if target is None:
            continue
        rows.append((minor, target, "base", base, "+ <= 40 MB"))
        rows.append((f"{minor}-pillow", size(ref(f"{minor}-pillow")), minor, target, "+ <= 10 MB"))
    rows.append(("all", size(ref("all")), "base", base, ""))
    rows.append(("all-pillow", size(ref("all-pillow")), "all", size(ref("all")), ""))

    print(f"{distro.name}:")
    print(f"{'image':<14}{'size MB':>9}  {'over':<6}{'adds MB':>9}  goal")
    for name, value, over, under, goal in rows:
        shown = f"{value:9.1f}" if value is not None else f"{'-':>9}"
        added = f"{value - under:9.1f}" if value is not None and under is not None else f"{'':>9}"
        print(f"{name:<14}{shown}  {over:<6}{added}  {goal}")
    print("\nFor reference (measured by hand, not here): python:3.12-slim is about 119 MB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

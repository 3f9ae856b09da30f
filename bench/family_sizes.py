"""Sizes of the image family on this engine, against the goals of issues 2 and 30.

Run after building (e.g. `scripts/demo` or `scripts/test`):

    .venv/bin/python bench/family_sizes.py [--namespace snakepacker] [--distro jammy]
        [--against NAMESPACE] [--slim]

Prints one table: each image's size, what it adds over the image it stands on, and
the goal where an issue sets one. `--against` adds the sizes of the same images under
another namespace (another build of the family, e.g. an older checkout's) and the
difference; `--slim` adds the official slim recipe's 3.12 (bench/uvrecipe.py: built
here on bookworm, or found in the engine's cache). Sizes are the engine's
(uncompressed, 1 MB = 10^6 B).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from snakepacker.engine import find_engine
from snakepacker.family.cpython import MINORS
from snakepacker.family.distros import DEFAULT_DISTRO, get_distro
from snakepacker.images.bootstrap import root_ref

MB = 1e6
# (name, size MB, over, size MB of what it stands on, goal)
Row = tuple[str, float | None, str, float | None, str]


def family_rows(size: Callable[[str], float | None], namespace: str, distro_name: str,
                ) -> list[Row]:
    """The family's images under NAMESPACE, as rows of the table."""
    distro = get_distro(distro_name)
    suffix = "" if distro.default else f"-{distro.name}"

    def ref(tag: str) -> str:
        return f"{namespace}/python:{tag}{suffix}"

    root = size(root_ref(distro, namespace)) or size(distro.official_image)
    rows: list[Row] = [("distro root", root, "", None, "")]
    base = size(ref("base"))
    rows.append(("base", base, "root", root, "<= 85 MB"))
    for minor in MINORS:  # the X.Y images built here
        target = size(ref(minor))
        if target is None:
            continue
        goal = "+ <= 40 MB" + (", <= 120 MB" if minor == "3.12" else "")
        rows.append((minor, target, "base", base, goal))
        rows.append((f"{minor}-pillow", size(ref(f"{minor}-pillow")), minor, target, "+ <= 10 MB"))
    rows.append(("all", size(ref("all")), "base", base, ""))
    rows.append(("all-pillow", size(ref("all-pillow")), "all", size(ref("all")), ""))
    return rows


def shown(value: float | None) -> str:
    return f"{value:9.1f}" if value is not None else f"{'-':>9}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="snakepacker")
    parser.add_argument("--distro", default=DEFAULT_DISTRO)
    parser.add_argument("--against", metavar="NAMESPACE",
                        help="also the sizes of the images under this namespace")
    parser.add_argument("--slim", action="store_true",
                        help="also the official slim recipe's 3.12 (built if missing)")
    args = parser.parse_args()
    engine = find_engine()

    def size(ref: str) -> float | None:
        value = engine.image_size(ref)
        return value / MB if value is not None else None

    rows = family_rows(size, args.namespace, args.distro)
    against = ({row[0]: row[1] for row in family_rows(size, args.against, args.distro)}
               if args.against else None)
    if args.slim:
        from uvrecipe import build_slim  # bench/uvrecipe.py, beside this file

        slim = size(build_slim("3.12", engine=engine))
        rows.append(("slim 3.12", slim, "", None, "official recipe, bookworm, no .pyc"))

    print(f"{args.distro} ({args.namespace}"
          + (f", against {args.against}" if args.against else "") + "):")
    header = f"{'image':<14}{'size MB':>9}  {'over':<6}{'adds MB':>9}"
    if against is not None:
        header += f"{'against':>10}{'diff':>8}"
    print(header + "  goal")
    for name, value, over, under, goal in rows:
        added = f"{value - under:9.1f}" if value is not None and under is not None else f"{'':>9}"
        line = f"{name:<14}{shown(value)}  {over:<6}{added}"
        if against is not None:
            other = against.get(name)
            diff = f"{value - other:+8.1f}" if value is not None and other is not None \
                else f"{'':>8}"
            line += f" {shown(other)}{diff}"
        print(f"{line}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

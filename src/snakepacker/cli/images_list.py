"""`snakepacker images list`: one row per family image, with its size once built."""

from __future__ import annotations

import argparse
import json

from snakepacker import options as opts
from snakepacker.cli.common import engine_of, family_of
from snakepacker.errors import EngineError
from snakepacker.family.images import Family


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser(
        "list", help="one row per image: tag, kind, parent, Python, names, size once built",
        epilog="Packed apps run on a target image (X.Y or X.Y-pillow) with its shell and apt; "
               "`pack --distroless` keeps only the files the app needs from it, FROM scratch: "
               "no shell, apt, dpkg or coreutils, for production images that scanners read "
               "and nobody execs into (README: Distroless images).")
    parser.add_argument("--json", action="store_true", help="print JSON")
    opts.add_options(parser, opts.LIST)
    parser.set_defaults(run=run)


def _sizes(family: Family, values: opts.Values) -> dict[str, int]:
    """Sizes of the family's built images, or nothing when no engine answers."""
    try:
        engine = engine_of(values)
    except EngineError:
        return {}
    sizes: dict[str, int] = {}
    for image in family:
        size = engine.image_size(family.ref(image.name))
        if size is not None:
            sizes[image.name] = size
    return sizes


def run(args: argparse.Namespace) -> int:
    family, values = family_of(args, opts.LIST)
    sizes = _sizes(family, values)
    rows = []
    for image in family:
        root = f"{family.distro.official_image} (root)"
        parent = family.tag(image.parent) if image.parent else root
        rows.append({
            "tag": family.tag(image.name),
            "kind": str(image.kind),
            "from": parent,
            "python": image.python.minor if image.python else None,
            "names": list(family.registry_names(image.name)),
            "size": sizes.get(image.name),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    headers = ("TAG", "KIND", "FROM", "PYTHON", "SIZE", "NAMES")
    table = [
        (r["tag"], r["kind"], r["from"], r["python"] or "-",
         f"{r['size'] / 1e6:.1f} MB" if r["size"] else "-", "  ".join(r["names"]))
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [headers, *table]) for i in range(len(headers))]
    for row in [headers, *table]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0

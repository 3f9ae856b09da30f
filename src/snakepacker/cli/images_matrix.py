"""`snakepacker images matrix`: the CI jobs that build the family, one per (distro,
platform)."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.family.distros import DISTROS


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser(
        "matrix", help="the CI jobs that build the family: one per (distro, platform)")
    parser.add_argument("--json", action="store_true",
                        help="one line of JSON, as a CI matrix's include list")
    opts.add_options(parser, opts.MATRIX)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.platforms import PLATFORMS, parse_platforms
    from snakepacker.ship.matrix import jobs, matrix_json

    values = opts.read(opts.MATRIX, args)
    # Not the engine's own platform by default: the matrix is the whole published set.
    platforms = [p.name for p in parse_platforms(",".join(values["platform"]))] \
        if values["platform"] else list(PLATFORMS)
    selected = jobs(values["distros"] or DISTROS, platforms)
    if args.json:
        print(matrix_json(selected))
        return 0
    for job in selected:
        mode = "emulated" if job.emulated else "native"
        print(f"{job.name:<16} {job.distro:<9} {job.platform:<13} {job.runner} ({mode})")
    return 0

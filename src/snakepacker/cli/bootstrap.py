"""`snakepacker bootstrap DISTRO`: a distro's root image from its package archive."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import engine_of, say
from snakepacker.family.distros import DISTROS, get_distro


def configure(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bootstrap",
        help="make a distro's root image from its package archive (for machines that "
             "cannot pull)",
    )
    parser.add_argument("distro", help=f"one of: {', '.join(DISTROS)}")
    opts.add_options(parser, opts.BOOTSTRAP)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.images.bootstrap import bootstrap

    values = opts.read(opts.BOOTSTRAP, args)
    distro = get_distro(args.distro)
    platforms = opts.platforms_of(values)
    engine = engine_of(values)
    for platform in platforms:
        print(bootstrap(distro, engine, values["namespace"], progress=say, platform=platform))
    return 0

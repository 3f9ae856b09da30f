"""`snakepacker images dockerfile TAG`: the Dockerfile that builds one family image."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import family_of


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser("dockerfile", help="print the Dockerfile that builds TAG")
    parser.add_argument("tag")
    opts.add_options(parser, opts.DOCKERFILE)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.images.render import render_image

    family, _ = family_of(args, opts.DOCKERFILE)
    print(render_image(family, family.get(args.tag)).dockerfile, end="")
    return 0

"""`snakepacker images diff IMAGE1 IMAGE2`: the file differences of two images."""

from __future__ import annotations

import argparse
import os
import sys

from snakepacker import options as opts
from snakepacker.cli.common import engine_of, say


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser(
        "diff", help="the file differences between two images (exit 0 when equal, 1 when not)",
        description="Compare the files of two images: paths added, removed or changed (kind, "
                    "mode, owner, content, link target); mtimes aside. Nothing of either "
                    "image runs: both are exported.")
    parser.add_argument("first", metavar="IMAGE1")
    parser.add_argument("second", metavar="IMAGE2")
    opts.add_options(parser, opts.DIFF)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.supply.imagediff import diff_images

    values = opts.read(opts.DIFF, args)
    diff = diff_images(engine_of(values), args.first, args.second)
    try:
        for line in diff.lines():
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:  # `images diff A B | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    say(f"{args.first} vs {args.second}: {diff.summary()}")
    return 0 if diff.equal else 1

"""`snakepacker images push`: build what is missing, smoke-test, push every platform's
image and write one multi-platform list per name and tag."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import add_tags, engine_of, families_of, publish_of, say


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser(
        "push", help="build what is missing, smoke-test, push every platform's image and "
                     "write one multi-platform list per name and tag",
    )
    add_tags(parser, "push")
    opts.add_options(parser, opts.PUSH)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.ship.shipping import EngineRegistry, push_family, summary

    families, names, values = families_of(args, opts.PUSH)
    engine = engine_of(values)
    shipped = push_family(engine, EngineRegistry(engine), families, names,
                          hub=values["hub"] or None, progress=say, verbose=args.verbose,
                          publish=publish_of(engine, values))
    for line in summary(shipped):
        print(line)
    return 0

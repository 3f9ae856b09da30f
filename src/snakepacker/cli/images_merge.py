"""`snakepacker images merge DIR`: the multi-platform lists, from the digests the CI jobs
pushed; signed with --sign."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import engine_of, say, signing_key


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser(
        "merge", help="make the multi-platform lists from the digests the CI jobs pushed")
    parser.add_argument("digests", metavar="DIR",
                        help="the records `images build --push-by-digest DIR` wrote")
    opts.add_options(parser, opts.MERGE)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker.platforms import parse_platforms
    from snakepacker.ship.matrix import merge_shipments, read_records
    from snakepacker.ship.shipping import EngineRegistry, summary, write_all_lists

    values = opts.read(opts.MERGE, args)
    records = read_records(Path(args.digests))  # bad records fail before the engine
    wanted = parse_platforms(",".join(values["platform"])) if values["platform"] else None
    # Without --platform each list names the platforms the matrix plans for its distro;
    # a record missing for one of them fails here, before the engine and any list.
    shipments = merge_shipments(records, wanted, say)
    key = signing_key(values)
    if key is None:
        say("no --sign KEY: the lists go up unsigned")
    engine = engine_of(values)
    shipped = write_all_lists(EngineRegistry(engine), shipments, say, key)
    for line in summary(shipped):
        print(line)
    return 0

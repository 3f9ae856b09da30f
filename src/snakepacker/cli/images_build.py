"""`snakepacker images build`: TAG and what it stands on, in order, with the engine's
cache; with --push-by-digest, a CI job's share of a push."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import add_tags, engine_of, families_of, publish_of, say


def configure(images: argparse._SubParsersAction) -> None:
    parser = images.add_parser(
        "build", help="build TAG and every image it stands on, in order, with the engine's cache"
    )
    add_tags(parser, "build")
    opts.add_options(parser, opts.BUILD)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker.images.build import build_images
    from snakepacker.ship.matrix import push_by_digest
    from snakepacker.ship.shipping import EngineRegistry, family_shipments

    families, names, values = families_of(args, opts.BUILD)
    engine = engine_of(values)
    publish = publish_of(engine, values) if values["push-by-digest"] else None
    built_by = {}
    for platform, family in families.items():
        if len(families) > 1:
            say(f"building for {platform.name}")
        built = build_images(engine, family, names, progress=say, verbose=args.verbose,
                             no_cache=not values["cache"])
        built_by[platform] = built
        width = max(len(family.tag(b.image.name)) for b in built)
        for b in built:
            tag = family.tag(b.image.name).ljust(width)
            print(f"{tag}  {platform.name:12}  {b.size / 1e6:7.1f} MB  "
                  f"{'  '.join(b.names + b.patch_names)}")
    if values["push-by-digest"]:
        shipments = family_shipments(families, built_by, names, values["hub"] or None, say)
        records = push_by_digest(engine, EngineRegistry(engine), shipments,
                                 Path(values["push-by-digest"]), say, publish)
        say(f"pushed {len(records)} image(s) by digest; records in "
            f"{values['push-by-digest']}")
    return 0

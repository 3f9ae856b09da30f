"""What the commands share: saying progress, finding the engine and the family, and
what goes up beside a pushed image."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from snakepacker import options as opts
from snakepacker.engine import Engine, find_engine
from snakepacker.errors import UsageError
from snakepacker.family.images import Family
from snakepacker.platforms import Platform

if TYPE_CHECKING:  # each command imports what it runs: pack's loop pays for no other
    from snakepacker.ship.shipping import Publish


def say(message: str) -> None:
    """Progress, on stderr: stdout is the command's result."""
    print(message, file=sys.stderr, flush=True)


def engine_of(values: opts.Values) -> Engine:
    return find_engine(values["engine"])


def family_of(args: argparse.Namespace, command: str) -> tuple[Family, opts.Values]:
    values = opts.read(command, args)
    return Family(opts.family_options(values)), values


def families_of(args: argparse.Namespace, command: str,
                ) -> tuple[dict[Platform, Family], list[str], opts.Values]:
    """One family per platform asked for, and the image names the command is about;
    bad tags and platforms that cannot run here fail before the engine is touched."""
    values = opts.read(command, args)
    options = opts.family_options(values)
    platforms = opts.platforms_of(values)
    families = {p: Family(options, platform=p) for p in platforms}
    family = families[platforms[0]]
    verb = command.split()[-1]
    if args.all == bool(args.tags):
        raise UsageError(f"name the tags to {verb}, or --all (not both)")
    names = [image.name for image in family] if args.all else \
        [family.get(tag).name for tag in args.tags]
    return families, names, values


def publish_of(engine: Engine, values: opts.Values) -> Publish:
    """What goes up beside each pushed image: its SBOM, and signatures with --sign."""
    from pathlib import Path

    from snakepacker.ship import signing
    from snakepacker.ship.shipping import Publish
    from snakepacker.supply.sbom import MEDIA_TYPES, Format, sbom_for

    key = Path(values["sign"]) if values["sign"] else None
    if key is not None:
        signing.cosign()  # absent: one line before anything is built or pushed
        if not key.is_file():
            raise UsageError(f"--sign {key}: no such key file")

    def sbom_of(image: str) -> tuple[bytes, str]:
        return sbom_for(engine, image, Format.CYCLONEDX).encode(), \
            MEDIA_TYPES[Format.CYCLONEDX]

    return Publish(sbom_of=sbom_of, sign_key=key)


def add_tags(parser: argparse.ArgumentParser, verb: str) -> None:
    """TAG… | --all, and -v, for the commands that build."""
    parser.add_argument("tags", nargs="*", metavar="TAG",
                        help=f"tags to {verb} (see `snakepacker images list`)")
    parser.add_argument("--all", action="store_true", help=f"{verb} the whole family")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every build line")

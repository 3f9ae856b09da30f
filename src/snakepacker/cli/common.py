"""What the commands share: saying progress, finding the engine and the family, and
what goes up with a pushed image (signatures and attestations)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
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


def signing_key(values: opts.Values) -> Path | None:
    """--sign KEY, checked (cosign there, the file too) before anything is built or
    pushed; None without one."""
    from snakepacker.ship import signing

    if not values["sign"]:
        return None
    key = Path(values["sign"])
    signing.cosign()  # absent: one line before anything is built or pushed
    if not key.is_file():
        raise UsageError(f"--sign {key}: no such key file")
    return key


def publish_of(engine: Engine, values: opts.Values) -> Publish | None:
    """With --sign KEY: each pushed image signed, and its SBOM (in --sbom-format) and
    SLSA provenance attested, both read from the image. Without a key, nothing but the
    images goes up, and the command says so."""
    from snakepacker.ship.shipping import signed_publish
    from snakepacker.supply.sbom import check_format

    fmt = check_format(values["sbom-format"])  # a bad one fails before any build
    key = signing_key(values)
    if key is None:
        say("no --sign KEY: the images go up unsigned, with no SBOM or provenance "
            "attestation")
        return None
    return signed_publish(engine, key, fmt)


def add_tags(parser: argparse.ArgumentParser, verb: str) -> None:
    """TAG… | --all, and -v, for the commands that build."""
    parser.add_argument("tags", nargs="*", metavar="TAG",
                        help=f"tags to {verb} (see `snakepacker images list`)")
    parser.add_argument("--all", action="store_true", help=f"{verb} the whole family")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every build line")

"""`snakepacker verify REF`: the cosign signatures and attestations of a pushed image."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.errors import UsageError


def configure(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "verify", help="check the signatures and attestations of a pushed image or list",
        description="Check, with cosign, everything a signed push leaves: the signature "
                    "of the list REF names (when it is a multi-platform list), then for "
                    "every image in it its signature, its SBOM attestation and its SLSA "
                    "provenance attestation, each signed by --key. The first one missing "
                    "or signed by another key fails the command.")
    parser.add_argument("ref", metavar="REF")
    opts.add_options(parser, opts.VERIFY)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker.ship import signing
    from snakepacker.ship.verifying import Cosign, verify

    values = opts.read(opts.VERIFY, args)
    if not values["key"]:
        raise UsageError("name the public key: --key FILE (or SNAKEPACKER_KEY)")
    key = Path(values["key"])
    signing.cosign()  # absent: one line, before any registry is asked
    if not key.is_file():
        raise UsageError(f"--key {key}: no such key file")
    for line in verify(Cosign(), args.ref, key):
        print(line)
    return 0

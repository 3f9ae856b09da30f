"""`snakepacker verify REF`: the cosign signatures of a pushed image and of its SBOM."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.errors import EngineError, UsageError


def configure(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "verify", help="check the cosign signatures of a pushed image and of its SBOM",
        description="Check, with cosign, the signature of every platform's image that REF "
                    "names (REF may be a multi-platform list) and of each image's SBOM.")
    parser.add_argument("ref", metavar="REF")
    opts.add_options(parser, opts.VERIFY)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker.engine import skopeo
    from snakepacker.refs import repository
    from snakepacker.ship import attach, signing

    values = opts.read(opts.VERIFY, args)
    if not values["key"]:
        raise UsageError("name the public key: --key FILE (or SNAKEPACKER_KEY)")
    key = Path(values["key"])
    signing.cosign()  # absent: one line, before any registry is asked
    home = repository(args.ref)
    for digest in skopeo.image_digests(args.ref):
        signing.verify(f"{home}@{digest}", key)
        sbom = attach.sbom_ref(home, digest)
        sbom_digest = skopeo.remote_digest(sbom)
        if sbom_digest is None:
            raise EngineError(f"{home}@{digest} has no SBOM to verify ({sbom})")
        signing.verify(f"{home}@{sbom_digest}", key)
        print(f"{home}@{digest}: image and SBOM signed by {key}")
    return 0

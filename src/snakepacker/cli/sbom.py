"""`snakepacker sbom IMAGE`: the SBOM of an image, read from its own files, or the one
stored beside it in a registry."""

from __future__ import annotations

import argparse
import sys

from snakepacker import options as opts
from snakepacker.cli.common import engine_of
from snakepacker.errors import UsageError


def configure(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sbom", help="print the SBOM of an image (CycloneDX or SPDX JSON)",
        description="Print the software bill of materials of IMAGE, read from its own files "
                    "(dpkg database, Python distributions' metadata, the record of a "
                    "source-built CPython); nothing of the image runs. An IMAGE that is "
                    "not on the engine but in a registry is read from there: the SBOM "
                    "stored beside it when it was pushed (REPO:sha256-<digest>.sbom), "
                    "for this machine's platform.")
    parser.add_argument("image", metavar="IMAGE")
    opts.add_options(parser, opts.SBOM)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.platforms import native_platform
    from snakepacker.refs import registry_host
    from snakepacker.ship import attach
    from snakepacker.supply.sbom import MEDIA_TYPES, check_format, sbom_for

    values = opts.read(opts.SBOM, args)
    fmt = check_format(values["format"])
    engine = engine_of(values)
    if engine.image_exists(args.image) or not registry_host(args.image):
        print(sbom_for(engine, args.image, fmt), end="")
        return 0
    # Not here but in a registry: the document stored beside the image when it was pushed.
    stored = attach.fetch_for(args.image, native_platform())
    if stored.media_type != MEDIA_TYPES[fmt]:
        raise UsageError(f"the registry holds the SBOM of {args.image} as "
                         f"{stored.media_type}, not {MEDIA_TYPES[fmt]}")
    sys.stdout.write(stored.document.decode())
    return 0

"""`snakepacker sbom IMAGE`: the SBOM of an image, read from its own files, or the one
attested about it in a registry."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import engine_of
from snakepacker.errors import EngineError


def configure(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sbom", help="print the SBOM of an image (CycloneDX or SPDX JSON)",
        description="Print the software bill of materials of IMAGE, read from its own files "
                    "(dpkg database, Python distributions' metadata, the record of a "
                    "source-built CPython); nothing of the image runs. An IMAGE that is "
                    "not on the engine but in a registry is read from there: the SBOM "
                    "attested about it when it was pushed with --sign (cosign's in-toto "
                    "attestation), for this machine's platform; with --key only one that "
                    "key signed.")
    parser.add_argument("image", metavar="IMAGE")
    opts.add_options(parser, opts.SBOM)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from snakepacker.engine import skopeo
    from snakepacker.platforms import native_platform
    from snakepacker.refs import registry_host, repository
    from snakepacker.ship import signing
    from snakepacker.supply.sbom import check_format, sbom_for

    values = opts.read(opts.SBOM, args)
    fmt = check_format(values["format"])
    engine = engine_of(values)
    if engine.image_exists(args.image) or not registry_host(args.image):
        print(sbom_for(engine, args.image, fmt), end="")
        return 0
    # Not here but in a registry: the document attested about the image when pushed.
    signing.cosign()  # absent: one line, before any registry is asked
    ref = f"{repository(args.image)}@{skopeo.platform_digest(args.image, native_platform())}"
    kind = signing.SBOM_TYPES[fmt]
    if values["key"]:
        found = signing.verified_predicates(ref, kind, Path(values["key"]))
    else:
        found = signing.stored_predicates(ref, kind)
    if not found:
        raise EngineError(f"the registry holds no {fmt} SBOM attestation for {ref}")
    if len(found) > 1 and not values["key"]:
        raise EngineError(f"the registry holds {len(found)} {fmt} SBOM attestations for "
                          f"{ref}: pass --key to read the one that key signed")
    print(json.dumps(found[-1], indent=2))
    return 0

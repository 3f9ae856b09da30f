"""The `snakepacker` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from snakepacker import __version__
from snakepacker.errors import EngineError, SnakepackerError, UsageError
from snakepacker.family.distros import DISTROS, get_distro
from snakepacker.family.images import Family
from snakepacker.options import DEFAULT_NAMESPACE, FamilyOptions, add_family_arguments
from snakepacker.pack import command as pack_command


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snakepacker",
        description="Pack Python applications into compact container images, "
                    "and build the family of images they stand on.",
    )
    parser.add_argument("--version", action="version", version=f"snakepacker {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    images = commands.add_parser("images", help="list, render and build the image family")
    images_cmds = images.add_subparsers(dest="images_command", metavar="ACTION", required=True)

    listing = images_cmds.add_parser("list", help="one row per image: tag, kind, parent, "
                                                  "Python, names, size once built")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_family_arguments(listing)

    dockerfile = images_cmds.add_parser("dockerfile", help="print the Dockerfile that builds TAG")
    dockerfile.add_argument("tag")
    add_family_arguments(dockerfile)

    build = images_cmds.add_parser(
        "build", help="build TAG and every image it stands on, in order, with the engine's cache"
    )
    build.add_argument("tags", nargs="*", metavar="TAG",
                       help="tags to build (see `snakepacker images list`)")
    build.add_argument("--all", action="store_true", help="build the whole family")
    build.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    add_family_arguments(build)

    boot = commands.add_parser(
        "bootstrap",
        help="make a distro's root image from its package archive (for machines that "
             "cannot pull)",
    )
    boot.add_argument("distro", help=f"one of: {', '.join(DISTROS)}")
    boot.add_argument("--namespace", help="namespace of the local root image (default snakepacker)")

    pack_command.add_parser(commands)
    return parser


def _sizes(family: Family) -> dict[str, int]:
    """Sizes of the family's built images, or nothing when no engine answers."""
    from snakepacker.engine import Engine

    try:
        engine = Engine.find()
    except EngineError:
        return {}
    sizes: dict[str, int] = {}
    for image in family:
        size = engine.image_size(family.ref(image.name))
        if size is not None:
            sizes[image.name] = size
    return sizes


def cmd_images_list(args: argparse.Namespace) -> int:
    family = Family(FamilyOptions.from_args(args))
    sizes = _sizes(family)
    rows = []
    for image in family:
        root = f"{family.distro.official_image} (root)"
        parent = family.tag(image.parent) if image.parent else root
        rows.append({
            "tag": family.tag(image.name),
            "kind": str(image.kind),
            "from": parent,
            "python": image.python.minor if image.python else None,
            "names": list(family.registry_names(image.name)),
            "size": sizes.get(image.name),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    headers = ("TAG", "KIND", "FROM", "PYTHON", "SIZE", "NAMES")
    table = [
        (r["tag"], r["kind"], r["from"], r["python"] or "-",
         f"{r['size'] / 1e6:.1f} MB" if r["size"] else "-", "  ".join(r["names"]))
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [headers, *table]) for i in range(len(headers))]
    for row in [headers, *table]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_images_dockerfile(args: argparse.Namespace) -> int:
    from snakepacker.render import render

    family = Family(FamilyOptions.from_args(args))
    print(render(family, family.get(args.tag)).dockerfile, end="")
    return 0


def cmd_images_build(args: argparse.Namespace) -> int:
    from snakepacker.build import build_images
    from snakepacker.engine import Engine

    family = Family(FamilyOptions.from_args(args))
    if args.all == bool(args.tags):
        raise UsageError("name the tags to build, or --all (not both)")
    names = [image.name for image in family] if args.all else args.tags
    for name in names:
        family.get(name)  # unknown tags fail before the engine is touched
    engine = Engine.find()
    built = build_images(engine, family, names, progress=_say, verbose=args.verbose)
    width = max(len(family.tag(b.image.name)) for b in built)
    for b in built:
        tag = family.tag(b.image.name).ljust(width)
        print(f"{tag}  {b.size / 1e6:7.1f} MB  {'  '.join(b.names)}")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from snakepacker.bootstrap import bootstrap
    from snakepacker.engine import Engine

    distro = get_distro(args.distro)
    engine = Engine.find()
    ref = bootstrap(distro, engine, args.namespace or DEFAULT_NAMESPACE, progress=_say)
    print(ref)
    return 0


COMMANDS = {
    ("images", "list"): cmd_images_list,
    ("images", "dockerfile"): cmd_images_dockerfile,
    ("images", "build"): cmd_images_build,
    ("bootstrap", None): cmd_bootstrap,
    ("pack", None): pack_command.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[(args.command, getattr(args, f"{args.command}_command", None))]
    try:
        return handler(args)
    except SnakepackerError as exc:
        first, *rest = str(exc).splitlines() or [""]
        print(f"snakepacker: error: {first}", file=sys.stderr)
        for line in rest:
            print(line, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("snakepacker: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `snakepacker` command line: parsers made from the options table, and one
handler per command.

Every failure the user can act on is one line on stderr and an exit code (2 usage,
3 engine, 4 build, 5 download). SIGTERM and SIGHUP become exceptions like Ctrl-C, so
every `with` on the way out runs: build secrets and temporary directories are removed
and the engine's build is stopped whatever ends the command.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from snakepacker import __version__
from snakepacker import options as opts
from snakepacker.engine import Engine, find_engine
from snakepacker.errors import EngineError, SnakepackerError, UsageError
from snakepacker.family.distros import DISTROS, get_distro
from snakepacker.family.images import Family
from snakepacker.pack.project import Kind, inspect_source
from snakepacker.platforms import Platform

if TYPE_CHECKING:  # each command imports what it runs: pack's loop pays for no other
    from snakepacker.shipping import Publish

PACK_DESCRIPTION = """\
Pack a Python project or a requirement into a compact image that runs read-only.

A virtualenv is built in the family's `all` image (compiler, headers, uv, pip), its
dependencies in a layer before the project's code; find-libdeps lists the system
packages its compiled files need; the final image is the family's X.Y image with those
packages, the venv at the same path, its bytecode compiled, the console scripts in
/usr/bin, a non-root user and OCI labels. The image is tagged only when the build
succeeds; a size report follows.

Each option can also be set in the environment and in the project's pyproject.toml
under [tool.snakepacker] (the names in brackets); the command line wins over the
environment, which wins over pyproject.toml."""

PACK_EPILOG = """\
examples:
  snakepacker pack examples/demo-app -t demo-app
  snakepacker pack 'black==24.*' -t black
  snakepacker pack . --python 3.12 --apt ffmpeg --dockerfile > Dockerfile

When --minors names no minors, pack uses the X.Y images present on the engine
(--dockerfile without an engine: every known minor). The project's files are copied
without VCS data, caches, the root's build/, dist/ and virtualenvs, and files that
look like credentials (.env, .ssh/, *.pem, ...); its .dockerignore applies too."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; option help wrapped without breaking names at hyphens."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """argparse, with bad usage as one line and exit code 2, and our help layout."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"snakepacker: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="snakepacker",
        description="Pack Python applications into compact container images, "
                    "and build the family of images they stand on.",
    )
    parser.add_argument("--version", action="version", version=f"snakepacker {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=Parser)

    images = commands.add_parser("images", help="list, render and build the image family")
    images_cmds = images.add_subparsers(dest="images_command", metavar="ACTION", required=True,
                                        parser_class=Parser)

    listing = images_cmds.add_parser(
        "list", help="one row per image: tag, kind, parent, Python, names, size once built",
        epilog="Packed apps run on a target image (X.Y or X.Y-pillow) with its shell and apt; "
               "`pack --distroless` keeps only the files the app needs from it, FROM scratch: "
               "no shell, apt, dpkg or coreutils, for production images that scanners read "
               "and nobody execs into (README: Distroless images).")
    listing.add_argument("--json", action="store_true", help="print JSON")
    opts.add_options(listing, opts.LIST)

    dockerfile = images_cmds.add_parser("dockerfile", help="print the Dockerfile that builds TAG")
    dockerfile.add_argument("tag")
    opts.add_options(dockerfile, opts.DOCKERFILE)

    build = images_cmds.add_parser(
        "build", help="build TAG and every image it stands on, in order, with the engine's cache"
    )
    build.add_argument("tags", nargs="*", metavar="TAG",
                       help="tags to build (see `snakepacker images list`)")
    build.add_argument("--all", action="store_true", help="build the whole family")
    build.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    opts.add_options(build, opts.BUILD)

    matrix = images_cmds.add_parser(
        "matrix", help="the CI jobs that build the family: one per (distro, platform)")
    matrix.add_argument("--json", action="store_true",
                        help="one line of JSON, as a CI matrix's include list")
    opts.add_options(matrix, opts.MATRIX)

    merge = images_cmds.add_parser(
        "merge", help="make the multi-platform lists from the digests the CI jobs pushed")
    merge.add_argument("digests", metavar="DIR",
                       help="the records `images build --push-by-digest DIR` wrote")
    opts.add_options(merge, opts.MERGE)

    diff = images_cmds.add_parser(
        "diff", help="the file differences between two images (exit 0 when equal, 1 when not)",
        description="Compare the files of two images: paths added, removed or changed (kind, "
                    "mode, owner, content, link target); mtimes aside. Nothing of either "
                    "image runs: both are exported.")
    diff.add_argument("first", metavar="IMAGE1")
    diff.add_argument("second", metavar="IMAGE2")
    opts.add_options(diff, opts.DIFF)

    sbom = commands.add_parser(
        "sbom", help="print the SBOM of an image (CycloneDX or SPDX JSON)",
        description="Print the software bill of materials of IMAGE, read from its own files "
                    "(dpkg database, Python distributions' metadata, the record of a "
                    "source-built CPython); nothing of the image runs. An IMAGE that is "
                    "not on the engine but in a registry is read from there: the SBOM "
                    "stored beside it when it was pushed (REPO:sha256-<digest>.sbom), "
                    "for this machine's platform.")
    sbom.add_argument("image", metavar="IMAGE")
    opts.add_options(sbom, opts.SBOM)

    verify = commands.add_parser(
        "verify", help="check the cosign signatures of a pushed image and of its SBOM",
        description="Check, with cosign, the signature of every platform's image that REF "
                    "names (REF may be a multi-platform list) and of each image's SBOM.")
    verify.add_argument("ref", metavar="REF")
    opts.add_options(verify, opts.VERIFY)

    push = images_cmds.add_parser(
        "push", help="build what is missing, smoke-test, push every platform's image and "
                     "write one multi-platform list per name and tag",
    )
    push.add_argument("tags", nargs="*", metavar="TAG",
                      help="tags to push (see `snakepacker images list`)")
    push.add_argument("--all", action="store_true", help="push the whole family")
    push.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    opts.add_options(push, opts.PUSH)

    boot = commands.add_parser(
        "bootstrap",
        help="make a distro's root image from its package archive (for machines that "
             "cannot pull)",
    )
    boot.add_argument("distro", help=f"one of: {', '.join(DISTROS)}")
    opts.add_options(boot, opts.BOOTSTRAP)

    pack = commands.add_parser(
        "pack", help="pack a project or a requirement into a compact image",
        description=PACK_DESCRIPTION, epilog=PACK_EPILOG,
    )
    pack.add_argument("source", metavar="SOURCE",
                      help="a project directory (pyproject.toml, setup.py/setup.cfg or "
                           "requirements.txt) or a requirement string such as 'black==24.*'")
    pack.add_argument("--dockerfile", action="store_true",
                      help="print the Dockerfile instead of building")
    pack.add_argument("--include-secret", action="append", metavar="PATH", default=[],
                      help="copy this file that looks like a credential (relative to the "
                           "project; repeatable)")
    pack.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    opts.add_options(pack, opts.PACK)
    return parser


def _engine(values: opts.Values) -> Engine:
    return find_engine(values["engine"])


def _family(args: argparse.Namespace, command: str) -> tuple[Family, opts.Values]:
    values = opts.read(command, args)
    return Family(opts.family_options(values)), values


# -- images ------------------------------------------------------------------------------


def _sizes(family: Family, values: opts.Values) -> dict[str, int]:
    """Sizes of the family's built images, or nothing when no engine answers."""
    try:
        engine = _engine(values)
    except EngineError:
        return {}
    sizes: dict[str, int] = {}
    for image in family:
        size = engine.image_size(family.ref(image.name))
        if size is not None:
            sizes[image.name] = size
    return sizes


def cmd_images_list(args: argparse.Namespace) -> int:
    family, values = _family(args, opts.LIST)
    sizes = _sizes(family, values)
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

    family, _ = _family(args, opts.DOCKERFILE)
    print(render(family, family.get(args.tag)).dockerfile, end="")
    return 0


def _families(args: argparse.Namespace, command: str,
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


def _publish(engine: Engine, values: opts.Values) -> Publish:
    """What goes up beside each pushed image: its SBOM, and signatures with --sign."""
    from pathlib import Path

    from snakepacker.sbom import MEDIA_TYPES, Format, sbom_for
    from snakepacker.shipping import Publish

    key = Path(values["sign"]) if values["sign"] else None
    if key is not None:
        from snakepacker import signing

        signing.cosign()  # absent: one line before anything is built or pushed
        if not key.is_file():
            raise UsageError(f"--sign {key}: no such key file")

    def sbom_of(image: str) -> tuple[bytes, str]:
        return sbom_for(engine, image, Format.CYCLONEDX).encode(), \
            MEDIA_TYPES[Format.CYCLONEDX]

    return Publish(sbom_of=sbom_of, sign_key=key)


def cmd_images_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker.build import build_images
    from snakepacker.matrix import push_by_digest
    from snakepacker.shipping import EngineRegistry, family_shipments

    families, names, values = _families(args, opts.BUILD)
    engine = _engine(values)
    publish = _publish(engine, values) if values["push-by-digest"] else None
    built_by = {}
    for platform, family in families.items():
        if len(families) > 1:
            _say(f"building for {platform.name}")
        built = build_images(engine, family, names, progress=_say, verbose=args.verbose,
                             no_cache=not values["cache"])
        built_by[platform] = built
        width = max(len(family.tag(b.image.name)) for b in built)
        for b in built:
            tag = family.tag(b.image.name).ljust(width)
            print(f"{tag}  {platform.name:12}  {b.size / 1e6:7.1f} MB  "
                  f"{'  '.join(b.names + b.patch_names)}")
    if values["push-by-digest"]:
        shipments = family_shipments(families, built_by, names, values["hub"] or None, _say)
        records = push_by_digest(engine, EngineRegistry(engine), shipments,
                                 Path(values["push-by-digest"]), _say, publish)
        _say(f"pushed {len(records)} image(s) by digest; records in "
             f"{values['push-by-digest']}")
    return 0


def cmd_images_push(args: argparse.Namespace) -> int:
    from snakepacker.shipping import EngineRegistry, push_family, summary

    families, names, values = _families(args, opts.PUSH)
    engine = _engine(values)
    shipped = push_family(engine, EngineRegistry(engine), families, names,
                          hub=values["hub"] or None, progress=_say, verbose=args.verbose,
                          publish=_publish(engine, values))
    for line in summary(shipped):
        print(line)
    return 0


def cmd_images_matrix(args: argparse.Namespace) -> int:
    from snakepacker.matrix import jobs, matrix_json
    from snakepacker.platforms import PLATFORMS, parse_platforms

    values = opts.read(opts.MATRIX, args)
    # Not the engine's own platform by default: the matrix is the whole published set.
    platforms = [p.name for p in parse_platforms(",".join(values["platform"]))] \
        if values["platform"] else list(PLATFORMS)
    selected = jobs(values["distros"] or DISTROS, platforms)
    if args.json:
        print(matrix_json(selected))
        return 0
    for job in selected:
        mode = "emulated" if job.emulated else "native"
        print(f"{job.name:<16} {job.distro:<9} {job.platform:<13} {job.runner} ({mode})")
    return 0


def cmd_images_merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker.matrix import merge, read_records
    from snakepacker.platforms import parse_platforms
    from snakepacker.shipping import EngineRegistry, summary

    values = opts.read(opts.MERGE, args)
    records = read_records(Path(args.digests))  # bad records fail before the engine
    wanted = parse_platforms(",".join(values["platform"])) if values["platform"] else None
    engine = _engine(values)
    shipped = merge(records, EngineRegistry(engine), platforms=wanted, say=_say)
    for line in summary(shipped):
        print(line)
    return 0


def cmd_images_diff(args: argparse.Namespace) -> int:
    from snakepacker.imagediff import diff_images

    values = opts.read(opts.DIFF, args)
    diff = diff_images(_engine(values), args.first, args.second)
    try:
        for line in diff.lines():
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:  # `images diff A B | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    _say(f"{args.first} vs {args.second}: {diff.summary()}")
    return 0 if diff.equal else 1


# -- sbom ------------------------------------------------------------------------------------


def cmd_sbom(args: argparse.Namespace) -> int:
    from snakepacker import attach, registry
    from snakepacker.platforms import native_platform
    from snakepacker.sbom import MEDIA_TYPES, check_format, sbom_for

    values = opts.read(opts.SBOM, args)
    fmt = check_format(values["format"])
    engine = _engine(values)
    if engine.image_exists(args.image) or not registry.registry_host(args.image):
        print(sbom_for(engine, args.image, fmt), end="")
        return 0
    # Not here but in a registry: the document stored beside the image when it was pushed.
    stored = attach.fetch_for(args.image, native_platform())
    if stored.media_type != MEDIA_TYPES[fmt]:
        raise UsageError(f"the registry holds the SBOM of {args.image} as "
                         f"{stored.media_type}, not {MEDIA_TYPES[fmt]}")
    sys.stdout.write(stored.document.decode())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snakepacker import attach, registry, signing

    values = opts.read(opts.VERIFY, args)
    if not values["key"]:
        raise UsageError("name the public key: --key FILE (or SNAKEPACKER_KEY)")
    key = Path(values["key"])
    signing.cosign()  # absent: one line, before any registry is asked
    repository = registry.repository(args.ref)
    entries = registry.image_digests(args.ref)
    for digest in entries:
        signing.verify(f"{repository}@{digest}", key)
        sbom = attach.sbom_ref(repository, digest)
        sbom_digest = registry.remote_digest(sbom)
        if sbom_digest is None:
            raise EngineError(f"{repository}@{digest} has no SBOM to verify ({sbom})")
        signing.verify(f"{repository}@{sbom_digest}", key)
        print(f"{repository}@{digest}: image and SBOM signed by {key}")
    return 0


# -- bootstrap -----------------------------------------------------------------------------


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from snakepacker.bootstrap import bootstrap

    values = opts.read(opts.BOOTSTRAP, args)
    distro = get_distro(args.distro)
    platforms = opts.platforms_of(values)
    engine = _engine(values)
    for platform in platforms:
        print(bootstrap(distro, engine, values["namespace"], progress=_say, platform=platform))
    return 0


# -- pack ----------------------------------------------------------------------------------


def cmd_pack(args: argparse.Namespace) -> int:
    from snakepacker import packing
    from snakepacker.pack.dockerfile import render

    project = inspect_source(args.source)
    values = opts.read(opts.PACK, args, pyproject=project.tool, project_dir=project.root)
    if values["extras"] or values["requirements"]:
        if project.kind is Kind.REQUIREMENT:
            raise UsageError("--extras and --requirements are for projects; put extras in "
                             "the requirement: 'name[extra]'")
        project = inspect_source(args.source, values["extras"], values["requirements"])
    options = opts.pack_options(values, project)
    family = Family(options.family)
    if args.dockerfile:
        plan = packing.plan_for(options, family, packing.supported_minors(options, family, None),
                                decide_entrypoint=True)
        print(render(plan), end="")
        return 0
    platforms = opts.platforms_of(values)
    if values["push"]:
        from snakepacker.shipping import pack_shipments

        pack_shipments(options.tags, {})  # every -t names a registry, before any build
    engine = _engine(values)
    images: dict[Platform, str] = {}
    for platform in platforms:
        if len(platforms) > 1:
            _say(f"packing for {platform.name}")
        packed = packing.pack(options, engine, say=_say, verbose=args.verbose,
                              include_secrets=tuple(args.include_secret), platform=platform)
        images[platform] = packed.image_id
        plan = packed.plan
        tags = plan.options.tags  # the default tag may come from the installed metadata
        _say(f"built {', '.join(tags)} for {platform.name} ({packed.image_id[:19]}) "
             f"in {packed.seconds:.0f}s")
        entry = " ".join(plan.entrypoint or ()) or "-"
        print(f"{tags[0]} ({platform.name}): Python {plan.python.minor}, entrypoint {entry}"
              f"{' ' + ' '.join(plan.cmd) if plan.cmd else ''}")
        for line in packed.report.lines():
            print(line)
    if values["push"]:
        from snakepacker.shipping import EngineRegistry, pack_shipments, ship, summary

        shipped = ship(engine, EngineRegistry(engine), pack_shipments(tags, images), _say,
                       _publish(engine, values))
        for line in summary(shipped):
            print(line)
    return 0


COMMANDS = {
    ("images", "list"): cmd_images_list,
    ("images", "dockerfile"): cmd_images_dockerfile,
    ("images", "build"): cmd_images_build,
    ("images", "matrix"): cmd_images_matrix,
    ("images", "merge"): cmd_images_merge,
    ("images", "diff"): cmd_images_diff,
    ("sbom", None): cmd_sbom,
    ("verify", None): cmd_verify,
    ("images", "push"): cmd_images_push,
    ("bootstrap", None): cmd_bootstrap,
    ("pack", None): cmd_pack,
}


class Terminated(BaseException):
    """SIGTERM or SIGHUP: unwinds like KeyboardInterrupt, so every cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    # Further signals are ignored while the cleanup runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[(args.command, getattr(args, f"{args.command}_command", None))]
    # The first tempfile call picks the temporary directory by creating and removing a
    # probe file in it; a signal raised between the two would leave that file behind
    # (seen: an empty 8-character file in TMPDIR). Pick it before the handlers go in.
    tempfile.gettempdir()
    previous = {sig: signal.signal(sig, _raise_terminated)
                for sig in (signal.SIGTERM, signal.SIGHUP)}
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
    except Terminated as exc:
        print(f"snakepacker: stopped by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


if __name__ == "__main__":
    sys.exit(main())

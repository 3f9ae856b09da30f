"""`snakepacker pack SOURCE`: a project or a requirement, packed into a compact image."""

from __future__ import annotations

import argparse

from snakepacker import options as opts
from snakepacker.cli.common import engine_of, publish_of, say
from snakepacker.errors import UsageError
from snakepacker.family.images import Family
from snakepacker.pack.options import check_extras
from snakepacker.pack.project import SourceKind, inspect_source
from snakepacker.platforms import Platform

DESCRIPTION = """\
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

EPILOG = """\
examples:
  snakepacker pack examples/demo-app -t demo-app
  snakepacker pack 'black==24.*' -t black
  snakepacker pack . --python 3.12 --apt ffmpeg --dockerfile > Dockerfile

When --minors names no minors, pack uses the X.Y images present on the engine
(--dockerfile without an engine: every known minor). The project's files are copied
without VCS data, caches, the root's build/, dist/ and virtualenvs, and files that
look like credentials (.env, .ssh/, *.pem, ...); its .dockerignore applies too."""


def configure(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "pack", help="pack a project or a requirement into a compact image",
        description=DESCRIPTION, epilog=EPILOG,
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a project directory (pyproject.toml, setup.py/setup.cfg or "
                             "requirements.txt) or a requirement string such as 'black==24.*'")
    parser.add_argument("--dockerfile", action="store_true",
                        help="print the Dockerfile instead of building")
    parser.add_argument("--include-secret", action="append", metavar="PATH", default=[],
                        help="copy this file that looks like a credential (relative to the "
                             "project; repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    opts.add_options(parser, opts.PACK)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from snakepacker.pack import packing
    from snakepacker.pack.dockerfile import render_pack

    project = inspect_source(args.source)
    values = opts.read(opts.PACK, args, pyproject=project.tool, project_dir=project.root)
    check_extras(values["extras"])
    if values["extras"] or values["requirements"]:
        if project.kind is SourceKind.REQUIREMENT:
            raise UsageError("--extras and --requirements are for projects; put extras in "
                             "the requirement: 'name[extra]'")
        project = inspect_source(args.source, values["extras"], values["requirements"])
    options = opts.pack_options(values, project)
    family = Family(options.family)
    if args.dockerfile:
        plan = packing.plan_for(options, family, packing.supported_minors(options, family, None),
                                say=say,
                                decide_entrypoint=True)
        print(render_pack(plan), end="")
        return 0
    platforms = opts.platforms_of(values)
    if values["push"]:
        from snakepacker.ship.shipping import pack_shipments

        pack_shipments(options.tags, {})  # every -t names a registry, before any build
    engine = engine_of(values)
    publish = publish_of(engine, values) if values["push"] else None  # key checked first
    images: dict[Platform, str] = {}
    for platform in platforms:
        if len(platforms) > 1:
            say(f"packing for {platform.name}")
        packed = packing.pack(options, engine, say=say, verbose=args.verbose,
                              include_secrets=tuple(args.include_secret), platform=platform)
        images[platform] = packed.image_id
        plan = packed.plan
        tags = plan.options.tags  # the default tag may come from the installed metadata
        say(f"built {', '.join(tags)} for {platform.name} ({packed.image_id[:19]}) "
            f"in {packed.seconds:.0f}s")
        entry = " ".join(plan.entrypoint or ()) or "-"
        print(f"{tags[0]} ({platform.name}): Python {plan.python.minor}, entrypoint {entry}"
              f"{' ' + ' '.join(plan.cmd) if plan.cmd else ''}")
        for line in packed.report.lines():
            print(line)
    if values["push"]:
        from snakepacker.ship.shipping import EngineRegistry, pack_shipments, ship, summary

        shipped = ship(engine, EngineRegistry(engine), pack_shipments(tags, images), say,
                       publish)
        for line in summary(shipped):
            print(line)
    return 0

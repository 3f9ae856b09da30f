"""`snakepacker pack SOURCE`: a project or a requirement, packed into a compact image."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from snakepacker import options as opts
from snakepacker.cli.common import engine_of, publish_of, say
from snakepacker.engine import Engine
from snakepacker.errors import BudgetError, UsageError
from snakepacker.family.images import Family
from snakepacker.pack.options import PackOptions, check_extras
from snakepacker.pack.project import SourceKind, inspect_source
from snakepacker.platforms import Platform

if TYPE_CHECKING:  # pack's doing is imported when it runs
    from snakepacker.pack.packing import Check

DESCRIPTION = """\
Pack a Python project or a requirement into a compact image that runs read-only.

A virtualenv is built in the family's `all` image (compiler, headers, uv, pip), its
dependencies in a layer before the project's code; find-libdeps lists the system
packages its compiled files need; the final image is the family's X.Y image with those
packages, the venv at the same path, its bytecode compiled, the console scripts in
/usr/bin, a non-root user and OCI labels. The image is tagged only when the build
succeeds and the image is within its budgets (--max-size, --max-compressed-size,
--max-system-packages; over one, exit 6); a size report follows.

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


def budget_check(engine: Engine, options: PackOptions) -> Check | None:
    """The budgets' check of each packed image, before it is tagged (none: no budget)."""
    if not options.budgets:
        return None
    from snakepacker.supply.budgets import check_budgets

    return lambda packed: check_budgets(engine, packed)


def over_budget(engine: Engine, exc: BudgetError, tagged: list[str]) -> BudgetError:
    """A platform's image over budget leaves none of this pack's tags behind: those
    given to the platforms packed before it go too."""
    if not tagged:
        return exc
    engine.remove(tagged)
    return BudgetError(f"{exc}; this pack's tags of the platforms before are removed "
                       f"({', '.join(tagged)})")


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
    tagged: list[str] = []  # by this pack, on the platforms packed so far
    for platform in platforms:
        if len(platforms) > 1:
            say(f"packing for {platform.name}")
        try:
            packed = packing.pack(options, engine, say=say, verbose=args.verbose,
                                  include_secrets=tuple(args.include_secret),
                                  platform=platform, check=budget_check(engine, options))
        except BudgetError as exc:
            raise over_budget(engine, exc, tagged) from None
        images[platform] = packed.image_id
        tagged.extend(packed.tags)
        plan = packed.plan
        tags = plan.options.tags  # the default tag may come from the installed metadata
        say(f"built {', '.join(tags)} for {platform.name} ({packed.image_id[:19]}) "
            f"in {packed.seconds:.0f}s")
        entry = " ".join(plan.entrypoint or ()) or "-"
        print(f"{tags[0]} ({platform.name}): Python {plan.python.minor}, entrypoint {entry}"
              f"{' ' + ' '.join(plan.cmd) if plan.cmd else ''}")
        for line in (*packed.report.lines(), *packed.checks):
            print(line)
    if values["push"]:
        from snakepacker.ship.shipping import EngineRegistry, pack_shipments, ship, summary

        shipped = ship(engine, EngineRegistry(engine), pack_shipments(tags, images), say,
                       publish)
        for line in summary(shipped):
            print(line)
    return 0

"""The `pack` subcommand: arguments, planning, the build, tags and the size report."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

from snakepacker.errors import UsageError
from snakepacker.family.cpython import MINORS, PythonSpec, check_minor, minor_key
from snakepacker.family.images import Family
from snakepacker.options import add_family_arguments
from snakepacker.pack import pyversions
from snakepacker.pack.dockerfile import INFO, Plan, render, render_build_stage
from snakepacker.pack.options import DEFAULT_USER, DEFAULT_VENV, DEFAULT_WORKDIR, merge
from snakepacker.pack.project import Kind, Project, inspect_source

DESCRIPTION = """\
Pack a Python project or a requirement into a compact image that runs read-only.

A virtualenv is built in the family's `all` image (compiler, headers, uv, pip), its
dependencies in a layer before the project's code; find-libdeps lists the system
packages its compiled files need; the final image is the family's X.Y image with those
packages, the venv at the same path, its bytecode compiled, the console scripts in
/usr/bin, a non-root user and OCI labels. The image is tagged only when the build
succeeds; a size report follows.

Every option can also be set in the project's pyproject.toml under [tool.snakepacker]
(dashed names, e.g. keep-pip = true, apt = ["ffmpeg"]); the command line wins."""

EPILOG = """\
examples:
  snakepacker pack examples/demo-app -t demo-app
  snakepacker pack 'black==24.*' -t black
  snakepacker pack . --python 3.12 --apt ffmpeg --dockerfile > Dockerfile

When neither --minors nor SNAKEPACKER_MINORS names the family's minors, pack uses the
X.Y images present on the engine (--dockerfile without an engine: every known minor)."""


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "pack", help="pack a project or a requirement into a compact image",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a project directory (pyproject.toml, setup.py/setup.cfg or "
                             "requirements.txt) or a requirement string such as 'black==24.*'")
    parser.add_argument("-t", "--tag", action="append", metavar="TAG",
                        help="name the image (repeatable; default NAME:latest)")
    parser.add_argument("--python", metavar="X.Y",
                        help="the CPython minor (default: the newest the project's "
                             "requires-python allows)")
    parser.add_argument("--installer", choices=("uv", "pip"), default=None,
                        help="what installs into the venv (default uv)")
    parser.add_argument("--pillow", action=argparse.BooleanOptionalAction, default=None,
                        help="build on all-pillow and run on X.Y-pillow")
    parser.add_argument("--venv-path", metavar="PATH",
                        help=f"where the venv lives in both stages (default {DEFAULT_VENV})")
    parser.add_argument("--keep-pip", action=argparse.BooleanOptionalAction, default=None,
                        help="keep pip, setuptools and wheel in the venv")
    parser.add_argument("--apt", action="append", metavar="PKG",
                        help="an extra system package for the final image, e.g. a program "
                             "the app runs (repeatable)")
    parser.add_argument("--extras", action="append", metavar="EXTRA",
                        help="install the project with this extra (repeatable)")
    parser.add_argument("--entrypoint", metavar="CMD",
                        help="the image's ENTRYPOINT, split like a shell (default: the "
                             "project's single console script)")
    parser.add_argument("--cmd", metavar="ARGS", help="the image's CMD, split like a shell")
    parser.add_argument("--user", metavar="NAME",
                        help=f"the user the app runs as, created in the image (default "
                             f"{DEFAULT_USER}; root opts out; a uid is used as is)")
    parser.add_argument("--workdir", metavar="PATH",
                        help=f"the image's WORKDIR (default {DEFAULT_WORKDIR}); a "
                             "requirements-only project's code is copied there")
    parser.add_argument("--env", action="append", metavar="KEY=VALUE",
                        help="an environment variable of the image (repeatable)")
    parser.add_argument("--volume", action="append", metavar="PATH",
                        help="declare a volume (repeatable)")
    parser.add_argument("--port", action="append", metavar="N",
                        help="a port the app listens on, EXPOSEd (repeatable)")
    parser.add_argument("--dockerfile", action="store_true",
                        help="print the Dockerfile instead of building")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    add_family_arguments(parser)
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- planning --------------------------------------------------------------------


def choose_minor(requested: str | None, requires: str | None, supported: list[str]) -> str:
    """The minor to pack with; UsageError when none fits."""
    if requested:
        check_minor(requested)
        if requested not in supported:
            raise UsageError(
                f"Python {requested} is not in the family here (available: "
                f"{', '.join(supported) or 'none'}); build it with "
                f"`snakepacker images build {requested}`"
            )
        if not pyversions.allows(requires, requested):
            raise UsageError(f"--python {requested} does not satisfy the project's "
                             f"requires-python {requires!r}")
        return requested
    if not supported:
        raise UsageError("no Python of the family is built here: run "
                         "`snakepacker images build all 3.12` (or name --minors)")
    fits = pyversions.allowed(requires, supported)
    if not fits:
        raise UsageError(f"requires-python {requires!r} allows none of the family's "
                         f"Pythons ({', '.join(supported)})")
    return max(fits, key=minor_key)


def choose_entrypoint(
    project: Project, entrypoint: tuple[str, ...] | None, cmd: tuple[str, ...] | None,
    scripts: tuple[str, ...] | None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    if entrypoint or cmd:
        return entrypoint, cmd
    if scripts is None:
        raise UsageError(
            f"the console scripts of {project.label} are known only once it is installed: "
            "pass --entrypoint (or build without --dockerfile)"
        )
    if len(scripts) == 1:
        return (scripts[0],), None
    if not scripts:
        raise UsageError(f"{project.label} has no console script: pass --entrypoint "
                         "(e.g. --entrypoint 'python -m app')")
    if project.name and project.name in scripts:
        # Several, one named like the distribution (black and blackd): that one.
        return (project.name,), None
    raise UsageError(f"{project.label} has several console scripts ({', '.join(scripts)}): "
                     "pick one with --entrypoint")


def _refs(family: Family, minor: str, pillow: bool) -> tuple[str, str]:
    build = family.ref("all-pillow" if pillow else "all")
    final = family.ref(f"{minor}-pillow" if pillow else minor)
    return build, final


# -- the build context ---------------------------------------------------------------

_SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".tox", ".nox", ".pytest_cache",
    ".mypy_cache", ".ruff_cache", "node_modules", ".idea", ".vscode", "build", "dist",
    ".eggs",
}


def _ignore(folder: str, names: list[str]) -> set[str]:
    skipped = set()
    for name in names:
        path = Path(folder) / name
        if (name in _SKIP_DIRS and path.is_dir()) or name.endswith((".pyc", ".pyo", ".egg-info")):
            skipped.add(name)
        elif path.is_dir() and (path / "pyvenv.cfg").exists():
            skipped.add(name)  # a virtualenv under another name
    return skipped


def write_context(project: Project, dockerfile: str, folder: Path) -> None:
    """The project's files without VCS data, virtualenvs, caches and build output."""
    if project.root is not None:
        shutil.copytree(project.root, folder, ignore=_ignore, symlinks=True,
                        dirs_exist_ok=True)
    ignore = folder / ".dockerignore"
    existing = ignore.read_text() if ignore.exists() else ""
    ignore.write_text(existing.rstrip("\n") + ("\n" if existing else "")
                      + "Dockerfile\n.dockerignore\n")
    (folder / "Dockerfile").write_text(dockerfile)


# -- the command ---------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    project = inspect_source(args.source)
    options = merge(args, project)
    if options.extras:
        if project.kind is Kind.REQUIREMENT:
            raise UsageError("--extras is for projects; put extras in the requirement: "
                             "'name[extra]'")
        options = dataclasses.replace(options, project=inspect_source(args.source,
                                                                      options.extras))
        project = options.project
    family = Family(options.family)

    engine = None
    if not args.dockerfile:
        from snakepacker.engine import find_engine

        engine = find_engine()
    supported = list(options.family.minors)
    if engine is not None and not options.minors_given:
        supported = [m for m in supported if engine.image_exists(family.ref(m))]
    elif engine is None and not options.minors_given:
        supported = list(MINORS)
    minor = choose_minor(options.python, project.requires_python, supported)
    python: PythonSpec = options.family.python(minor)
    build_ref, final_ref = _refs(family, minor, options.pillow)

    scripts = project.scripts
    known = bool(options.entrypoint or options.cmd) or scripts is not None
    if args.dockerfile or known:
        entrypoint, cmd = choose_entrypoint(project, options.entrypoint, options.cmd, scripts)
    else:
        entrypoint, cmd = None, None
    plan = Plan(options, python, build_ref, final_ref, entrypoint, cmd, project.version)

    if args.dockerfile:
        print(render(plan), end="")
        return 0

    assert engine is not None
    for ref in (build_ref, final_ref):
        if not engine.image_exists(ref):
            name = ref.rsplit(":", 1)[-1]
            raise UsageError(f"{ref} is not built here: run `snakepacker images build {name}`")

    from snakepacker.build import network_secrets
    from snakepacker.pack.report import size_report

    _say(f"packing {project.label} with Python {minor} ({python.executable}), "
         f"installer {options.installer}, on {final_ref}")
    started = time.monotonic()
    with network_secrets(options.family.network) as secrets, \
            tempfile.TemporaryDirectory(prefix="snakepacker-pack-") as tmp:
        context = Path(tmp)
        if not known or project.version is None:
            # Learn the console scripts and the version from the installed distribution.
            _say("[1/2] build stage (to read the installed console scripts)")
            write_context(project, render_build_stage(plan), context)
            stage_id = engine.build(context, label=f"{project.label} (build stage)",
                                    secrets=secrets, progress=_say, verbose=args.verbose)
            probe = engine.run(["--rm", "--entrypoint", "sh", stage_id, "-c",
                                f"cat {INFO}/scripts.txt; echo ---; cat {INFO}/dists.txt"])
            found_scripts, _, dists = probe.stdout.partition("---\n")
            found = tuple(s for s in found_scripts.split() if s)
            if not known:
                entrypoint, cmd = choose_entrypoint(project, None, None, found)
            version = project.version
            if version is None and len(dists.split()) >= 2:
                version = dists.split()[1]
            plan = dataclasses.replace(plan, entrypoint=entrypoint, cmd=cmd, version=version)
            _say("[2/2] final image")
        write_context(project, render(plan), context)
        image_id = engine.build(context, label=project.label, secrets=secrets,
                                progress=_say, verbose=args.verbose)
    engine.tag(image_id, options.tags)
    seconds = time.monotonic() - started
    report = size_report(
        engine, image_id, base_ref=family.ref("base"), parent_ref=final_ref,
        venv=options.venv_path,
        code_dir=options.workdir if project.kind is Kind.REQUIREMENTS else None,
        keep_pip=options.keep_pip,
    )
    _say(f"built {', '.join(options.tags)} ({image_id[:19]}) in {seconds:.0f}s")
    print(f"{options.tags[0]}: Python {minor}, entrypoint "
          f"{' '.join(entrypoint or ()) or '-'}{' ' + ' '.join(cmd) if cmd else ''}")
    for line in report.lines():
        print(line)
    return 0


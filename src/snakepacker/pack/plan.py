"""pack's plan: every decision about the image, made before anything is built.

Which CPython minor, which family images the build and the final stage stand on,
the entry point and the version label. Pure functions over the options, the project
and the family; the doing (engine, build context, tags) is ``snakepacker.packing``.
"""

from __future__ import annotations

from dataclasses import dataclass

from snakepacker.errors import UsageError
from snakepacker.family.cpython import PythonSpec, check_minor, is_free_threaded, minor_key
from snakepacker.family.images import Family
from snakepacker.pack import locks, pyversions, wheels
from snakepacker.pack.installer import INSTALLERS, Installer
from snakepacker.pack.options import PackOptions
from snakepacker.pack.project import Project, requirement_name


@dataclass(frozen=True)
class Plan:
    """Everything the Dockerfile depends on, decided before rendering."""

    options: PackOptions
    python: PythonSpec
    build_ref: str
    final_ref: str
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    version: str | None  # the project's version, for the label, when known
    cache_scope: str = "default"  # what the cached wheels were built against
    # How the X.Y image's CPython was compiled, as its own build record says: the app
    # runs on that interpreter, so its record repeats the parent's grade.
    parent_grade: str = "unknown"
    # What the project's lock pins for this Python and platform (see pack.locks).
    locked: tuple[locks.Locked, ...] = ()

    @property
    def project(self) -> Project:
        return self.options.project

    @property
    def installer(self) -> Installer:
        return INSTALLERS[self.options.installer]

    def named_distributions(self) -> frozenset[str]:
        """The distributions the project names without building anything: the one a
        requirement packs, its declared dependencies, what its lock pins."""
        project = self.project
        texts = [project.requirement or "", *project.dependencies]
        names = {requirement_name(t) for t in texts}
        names.update(p.name for p in self.locked)
        names.update(name for name, _, _ in project.lock_files)
        return frozenset(n for n in names if n)


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
    # A free-threaded build is chosen when asked for (--python 3.13t, .python-version),
    # not by default: many extensions have no wheel for it yet.
    with_gil = [m for m in fits if not is_free_threaded(m)]
    return max(with_gil or fits, key=minor_key)


def choose_minor_for(requested: str | None, project: Project, supported: list[str],
                     family: Family) -> tuple[str, str | None]:
    """The minor to pack with and, when a lock's wheels decided it, one line saying why.

    With no minor asked for, the newest one requires-python allows may have no wheels
    for packages the lock pins (numpy 1.26 has none past CPython 3.12): the build would
    then compile them from source, slowly and often not at all. The newest allowed minor
    for which every locked package has a wheel for the target (or has no wheel at all)
    is taken instead, and the reason is said."""
    minor = choose_minor(requested, project.requires_python, supported)
    if requested or not project.lock_files:
        return minor, None
    allowed = [m for m in pyversions.allowed(project.requires_python, supported)
               if is_free_threaded(m) == is_free_threaded(minor)
               and minor_key(m) <= minor_key(minor)]
    best, missing = wheels.newest_with_wheels(project.lock_files,
                                              sorted(allowed, key=minor_key),
                                              family.distro.glibc, family.platform.machine)
    platform = f"{family.distro.name} {family.platform.name}"
    if best is None:
        return minor, (f"Python {minor}: no Python the project allows has a wheel of every "
                       f"locked package for {platform} ({', '.join(missing[minor][:3])} will "
                       "be built from source)")
    if best == minor:
        return minor, None
    newer = min((m for m in missing if minor_key(m) > minor_key(best)), key=minor_key)
    return best, (f"Python {best}: the newest the project allows for which every locked "
                  f"package has a wheel for {platform} ({', '.join(missing[newer][:3])} has "
                  f"none for {newer})")


def choose_entrypoint(
    project: Project, entrypoint: tuple[str, ...] | None, cmd: tuple[str, ...] | None,
    scripts: tuple[str, ...] | None, programs: tuple[str, ...] = (),
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The ENTRYPOINT and CMD: as given, else the project's one console script (or the
    one named like it). PROGRAMS, the other files its install put in bin/, are offered
    when there is no console script to take."""
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
        if programs:
            raise UsageError(f"{project.label} has no console script, but its install put "
                             f"programs in the venv's bin/: {', '.join(programs)}; pass one "
                             f"with --entrypoint (e.g. --entrypoint {programs[0]})")
        raise UsageError(f"{project.label} has no console script: pass --entrypoint "
                         "(e.g. --entrypoint 'python -m app')")
    if project.name and project.name in scripts:
        # Several, one named like the distribution (black and blackd): that one.
        return (project.name,), None
    raise UsageError(f"{project.label} has several console scripts ({', '.join(scripts)}): "
                     "pick one with --entrypoint")


def entrypoint_known(options: PackOptions) -> bool:
    """Whether the entry point is decided without installing the project."""
    return bool(options.entrypoint or options.cmd) or options.project.scripts is not None


def make_plan(options: PackOptions, family: Family, minor: str, *,
              decide_entrypoint: bool) -> Plan:
    """The plan for MINOR; the entry point is left open (None) unless DECIDE_ENTRYPOINT
    or it is known without installing."""
    build, final = family.stands_on(minor, options.pillow)
    entrypoint = cmd = None
    if decide_entrypoint or entrypoint_known(options):
        entrypoint, cmd = choose_entrypoint(options.project, options.entrypoint, options.cmd,
                                            options.project.scripts)
    lock = options.project.locked
    machine = family.platform.machine
    locked = () if lock is None else locks.for_target(
        lock, locks.target_environments(minor, machine),
        wheels.target_tags(minor, family.distro.glibc, machine))
    return Plan(
        options=options,
        python=options.family.python(minor),
        locked=locked,
        build_ref=family.ref(build),
        final_ref=family.ref(final),
        entrypoint=entrypoint,
        cmd=cmd,
        version=options.project.version,
        # Wheels built for one platform are no use on another.
        cache_scope=f"{family.distro.name}-{build}-{family.platform.suffix}",
    )

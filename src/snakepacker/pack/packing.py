"""pack's doing: the build context, the builds, the tags and the size report.

The decisions are made by ``snakepacker.pack.plan``; this module carries them out on
an engine. When the entry point or the version can only be read from the installed
project, the build stage is built first and probed; the full build then finds that
stage in the engine's cache. Tags are applied only after the final build succeeded
and the image passed its check (the budgets), and every tag was checked before the
first build started.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from snakepacker import vcs
from snakepacker.engine import Engine, ImageFacts, Secret
from snakepacker.engine.secrets import network_fingerprint, network_secrets
from snakepacker.errors import UsageError
from snakepacker.family import labels
from snakepacker.family.cpython import MINORS
from snakepacker.family.images import Family
from snakepacker.pack.context import describe_copy, write_pack_context
from snakepacker.pack.dockerfile import (
    INFO,
    NETWORK_ARG,
    env_build_args,
    render_build_stage,
    render_pack,
)
from snakepacker.pack.files import project_file
from snakepacker.pack.options import PackOptions, check_tags
from snakepacker.pack.plan import (
    Plan,
    choose_entrypoint,
    choose_minor_for,
    entrypoint_known,
    make_plan,
)
from snakepacker.pack.project import Project, SourceKind
from snakepacker.pack.report import SizeReport, notes_for, size_report
from snakepacker.pack.requirements import for_uv
from snakepacker.platforms import Platform
from snakepacker.refs import repository, tag_of
from snakepacker.tempdirs import temporary_directory
from snakepacker.tools.pack_layer import SCRIPT_NAME

Say = Callable[[str], None]

def requirements_for_installer(options: PackOptions, folder: Path, say: Say) -> None:
    """The project's requirements file, in the build context, in uv's spelling where
    pip's differs (see snakepacker.pack.requirements); the project's file is untouched."""
    lock = options.project.lock
    if options.installer != "uv" or not lock or lock == "uv.lock":
        return
    path = project_file(folder, lock)
    if path is None:
        return
    text, notes = for_uv(path.read_text())
    if notes:
        path.write_text(text)
        for note in notes:
            say(f"{lock}: {note} (uv's spelling)")


# -- the steps -------------------------------------------------------------------------


def supported_minors(options: PackOptions, family: Family, engine: Engine | None) -> list[str]:
    """The minors pack may choose from: those named, else those built on the engine
    (every known one when only a Dockerfile is printed)."""
    if options.minors_given:
        return list(options.family.minors)
    if engine is None:
        return list(MINORS)
    # A minor asked for (--python, .python-version) is taken without asking the engine:
    # the one query about the images a pack stands on (stage_images) says when it is
    # not built. Every pack of the edit-rebuild loop asks the engine about each image once.
    requested = options.python or options.project.python_version
    if requested in options.family.minors:
        return [requested]
    return [m for m in options.family.minors if engine.image_exists(family.ref(m))]


def plan_for(options: PackOptions, family: Family, supported: list[str], *,
             decide_entrypoint: bool, say: Say | None = None) -> Plan:
    # --python wins over the project's .python-version, which wins over requires-python
    # (and the wheels its lock pins).
    requested = options.python or options.project.python_version
    minor, why = choose_minor_for(requested, options.project, supported, family)
    if why and say is not None:
        say(why)
    return make_plan(options, family, minor, decide_entrypoint=decide_entrypoint)


def cache_scope(plan: Plan, build_id: str) -> str:
    """The installer cache this pack may use: one per build image (the very image: a
    rebuilt `all` may link wheels built from sdists against other libraries), per index
    and per dependency list.

    Build code runs with the cache mounted: an sdist's setup.py could rewrite what is
    cached, and the next pack installing the same package from that cache would run the
    rewritten code. The cache is mounted only where the dependencies install, never
    where the project's own code runs (pack.j2), so what runs with it is what the
    dependency list names: packs that share a cache run the same build code. Per
    index, so a package cached from one index is never taken for another's. The key is
    a digest: neither the index nor the list shows in the id."""
    network = network_fingerprint(plan.options.family.network)
    key = hashlib.sha256(b"\0".join([network.encode(), *dependency_identity(plan)]))
    return f"{plan.cache_scope}-{build_id.removeprefix('sha256:')[:12]}-{key.hexdigest()[:12]}"


def dependency_identity(plan: Plan) -> list[bytes]:
    """What decides the build code the dependency steps run: the installer, the
    requirement or declared dependencies, the build backend's requirements, what a
    lock pins, and the bytes of every project file those steps read."""
    project, options = plan.project, plan.options
    words = [options.installer, project.requirement or "", *options.extras,
             *project.dependencies, "\0", *project.build_requires, repr(plan.locked)]
    parts = [json.dumps(words).encode()]
    for name in dependency_files(project):
        path = project_file(project.root, name)
        parts += [name.encode(), path.read_bytes() if path else b""]
    return parts


def dependency_files(project: Project) -> tuple[str, ...]:
    """The project files the build stage copies in for the dependency steps."""
    if project.root is None or not project.lock:
        return ()
    return ("pyproject.toml", "uv.lock") if project.lock == "uv.lock" else (project.lock,)


def _pack_build_args(plan: Plan, parent_id: str) -> dict[str, str]:
    return {NETWORK_ARG: network_fingerprint(plan.options.family.network),
            **env_build_args(plan),
            **label_args(plan.project.root, parent_id)}


def label_args(root: Path | None, parent_id: str,
               env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The build arguments of a packed image's LABEL: the time and commit of the
    project's own checkout (read without running anything it brings; see vcs)."""
    commit = vcs.head_commit(root)
    return {labels.CREATED_ARG: vcs.rfc3339(vcs.source_date_epoch(commit, env)),
            labels.REVISION_ARG: commit.sha if commit else "unknown",
            labels.PARENT_ARG: parent_id}


def _probe(engine: Engine, plan: Plan, context: Path, secrets: list[Secret], say: Say,
           verbose: bool, parent_id: str, platform: str | None = None) -> Plan:
    """Build the build stage alone and read the console scripts and the version."""
    project = plan.project
    stage_id = engine.build(context, label=f"{project.label} (build stage)", secrets=secrets,
                            build_args=_pack_build_args(plan, parent_id), progress=say,
                            verbose=verbose, no_cache=not plan.options.cache,
                            platform=platform)
    where = ["--platform", platform] if platform else []
    try:
        probe = engine.run(["--rm", *where, "--entrypoint", "sh", stage_id, "-c",
                            f"cat {INFO}/scripts.txt; echo ---; cat {INFO}/dists.txt; "
                            f"echo ---; cat {INFO}/programs.txt"])
    finally:
        # The stage stays in the build cache; its exported image is not kept around.
        engine.remove([stage_id])
    found_scripts, _, rest = probe.stdout.partition("---\n")
    dists, _, found_programs = rest.partition("---\n")
    # Names the project chose: only plain file names can be an entry point (pack-layer
    # links no other into /usr/bin either).
    found = tuple(s for s in found_scripts.split("\n") if SCRIPT_NAME.match(s))
    programs = tuple(s for s in found_programs.split("\n") if SCRIPT_NAME.match(s))
    entrypoint, cmd = plan.entrypoint, plan.cmd
    if not entrypoint_known(plan.options):
        entrypoint, cmd = choose_entrypoint(project, None, None, found, programs)
    version = plan.version
    if version is None and len(dists.split()) >= 2:
        version = dists.split()[1]
    return dataclasses.replace(plan, entrypoint=entrypoint, cmd=cmd, version=version,
                               options=_named(plan.options, dists))


def _named(options: PackOptions, dists: str) -> PackOptions:
    """OPTIONS with the project's name as its installed metadata says, when it was not
    known statically (setup.py): the labels, and the default tag, use it rather than
    the directory's name."""
    project = options.project
    words = dists.split()
    if project.name or project.kind is SourceKind.REQUIREMENT or len(words) < 2:
        return options
    project = dataclasses.replace(project, name=canonicalize_name(words[0]))
    tags = options.tags if options.tags_given else check_tags(
        (f"{project.image_name}:latest",))
    return dataclasses.replace(options, project=project, tags=tags)


@dataclass(frozen=True)
class Packed:
    image_id: str
    plan: Plan
    seconds: float
    report: SizeReport
    family: Family | None = None  # the family (and platform) it was packed on
    tags: tuple[str, ...] = ()  # the tags this pack gave it on the engine
    checks: tuple[str, ...] = ()  # what the check before tagging said (the budgets)


# Looks at a built image before it is tagged: raising stops the pack with nothing
# tagged; the lines it returns are the pack's to print.
Check = Callable[[Packed], Sequence[str]]


def platform_tags(tags: tuple[str, ...], family: Family) -> tuple[str, ...]:
    """The local tags of a pack for FAMILY's platform: the -t tags on the native one,
    each with the platform's suffix (demo:1-arm64) on a foreign one."""
    if not family.foreign:
        return tags
    return tuple(f"{repository(t)}:{tag_of(t)}-{family.platform.suffix}" for t in tags)


@dataclass(frozen=True)
class Stages:
    """What the engine said about the images a pack stands on, before its build."""

    build_id: str | None  # PLAN's build image (None: not built)
    final_id: str | None  # the image it runs on
    grade: str  # the grade the final image's build record states (quick, release, ...)
    facts: Mapping[str, ImageFacts]  # every image asked about, base and X.Y among them


def stage_images(engine: Engine, plan: Plan, family: Family) -> Stages:
    """The images PLAN builds in and runs on, and base and X.Y, whose sizes the report
    sets apart: one engine query, as pack's loop asks about each image once. The grade
    is the one the final image's build record states, not this run's options: they did
    not build it."""
    refs = [plan.build_ref, plan.final_ref, family.ref("base"), family.ref(plan.python.minor)]
    found = engine.describe(refs)
    build, final = found.get(plan.build_ref), found.get(plan.final_ref)
    grade = labels.recorded_grade(final.labels.get(labels.BUILD_LABEL) if final else None)
    return Stages(build and build.id, final and final.id, grade, found)


def pack(options: PackOptions, engine: Engine, *, say: Say, verbose: bool = False,
         include_secrets: tuple[str, ...] = (), platform: Platform | None = None,
         check: Check | None = None) -> Packed:
    """Build OPTIONS' image for PLATFORM, measure it, let CHECK look at it (the budgets),
    then tag it."""
    family = Family(options.family, platform=platform)
    foreign = family.platform.name if family.foreign else None
    project = options.project
    plan = plan_for(options, family, supported_minors(options, family, engine), say=say,
                    decide_entrypoint=False)
    stages = stage_images(engine, plan, family)
    build_id, final_id = stages.build_id, stages.final_id
    ids = {plan.build_ref: build_id, plan.final_ref: final_id}
    for ref, found in ids.items():
        if found is None:
            name = ref.rsplit(":", 1)[-1]
            where = ""
            if family.foreign:
                name = name.removesuffix(f"-{family.platform.suffix}")
                where = f" --platform {family.platform.name}"
            raise UsageError(f"{ref} is not built here: run `snakepacker images build "
                             f"{name}{where}`")
    plan = dataclasses.replace(plan, cache_scope=cache_scope(plan, build_id or ""),
                               parent_grade=stages.grade)
    parent_id = final_id or "unknown"
    say(f"packing {project.label} with Python {plan.python.minor} "
        f"({plan.python.executable}), installer {options.installer}, on {plan.final_ref}")
    started = time.monotonic()
    with network_secrets(options.family.network) as secrets, \
            temporary_directory(prefix="snakepacker-pack-") as tmp:
        context = Path(tmp)
        unnamed = project.name is None and project.kind.installs
        if not entrypoint_known(options) or plan.version is None or unnamed:
            say("[1/2] build stage (to read the installed console scripts and version)")
            copied = write_pack_context(project.root, render_build_stage(plan), context,
                                        include_secrets)
            requirements_for_installer(options, context, say)
            say(describe_copy(copied, say))
            plan = _probe(engine, plan, context, secrets, say, verbose, parent_id, foreign)
            say("[2/2] final image")
            (context / "Dockerfile").write_text(render_pack(plan))
        else:
            copied = write_pack_context(project.root, render_pack(plan), context,
                                        include_secrets)
            requirements_for_installer(options, context, say)
            say(describe_copy(copied, say))
        image_id = engine.build(context, label=project.label, secrets=secrets,
                                build_args=_pack_build_args(plan, parent_id), progress=say,
                                verbose=verbose, no_cache=not options.cache, platform=foreign)
    options = plan.options  # the project's name may have been learned from its metadata
    seconds = time.monotonic() - started
    notes = notes_for(plan.named_distributions())
    report = SizeReport(0, 0, 0, 0, 0, engine.image_size(image_id) or 0, notes=notes) \
        if options.distroless else size_report(
        engine, image_id, base_ref=family.ref("base"), parent_ref=plan.final_ref,
        python_ref=family.ref(plan.python.minor), venv=options.venv_path,
        code_dir=options.workdir if project.kind is SourceKind.REQUIREMENTS else None,
        keep_pip=options.keep_pip, notes=notes, known=stages.facts,
    )
    packed = Packed(image_id, plan, seconds, report, family,
                    platform_tags(options.tags, family))
    # Like a failed build, an image that fails the check is never tagged: each tag keeps
    # the image it named before.
    checks = tuple(check(packed)) if check is not None else ()
    engine.tag(image_id, packed.tags)
    return dataclasses.replace(packed, checks=checks)

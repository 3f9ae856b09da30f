"""Render pack's two-stage Dockerfile from a plan.

The text depends on the plan alone. Values of the image's environment arrive byte for
byte: ``$`` and quotes are escaped for the Dockerfile's ENV, and a value the Dockerfile
cannot spell (one with a line break) is passed as a build argument instead.
"""

from __future__ import annotations

import base64
import functools
import zlib
from dataclasses import dataclass
from importlib import resources

from snakepacker import __version__, quoting
from snakepacker.family import labels as provenance
from snakepacker.family.cpython import Route
from snakepacker.pack import locks
from snakepacker.pack.options import DISTROLESS_LEFT_OUT
from snakepacker.pack.plan import Plan
from snakepacker.pack.project import SourceKind
from snakepacker.templating import render_template

SRC = "/usr/src/app"  # where the project's code is copied in the build stage
INFO = "/usr/share/snakepacker/pack"  # the lists the build stage hands to the final one
# Where the project stage gathers what installing the project added: the final image's
# last layer, copied to / as it is.
LAYER = "/tmp/snakepacker-layer"
# pack-layer (tools/pack_layer.py), written into the build stage: it gathers that layer.
LAYER_TOOL = "/opt/snakepacker/pack-layer.py"
# The project's build backend, in a venv of its own in the build stage, and where the
# project stage puts the wheel it builds with it.
BACKEND = "/opt/snakepacker/backend"
WHEELS = "/tmp/snakepacker-wheel"
APP_UID = 10001
# SOURCE_DATE_EPOCH of the build and project stages: 2000-01-01T00:00:00Z, a fixed
# date, so that what stamps one (gcc's __DATE__ and __TIME__, a wheel's zip entries)
# stamps the same in every build; after 1980, the first date a zip file can hold, in
# every time zone.
BUILD_DATE_EPOCH = 946684800
INIT = ("dumb-init", "--")  # every packed app runs under the X.Y image's small init
BUILD_TOOLS = ("pip", "setuptools", "wheel")  # what --keep-pip keeps

# Run in the build stage by the venv's Python: write the console scripts, the other
# programs their install put in bin/ (uwsgi's own binary, say), and the name and
# version of the distributions that were asked for (by name, or installed from the
# project's directory) into INFO. Double quotes only: it sits in single ones.
_PROBE = (
    "import importlib.metadata as m, json, re, sys; "
    "out, names = sys.argv[1], set(sys.argv[2:]); "
    "norm = lambda n: re.sub(r\"[-_.]+\", \"-\", n or \"\").lower(); "
    "url = lambda d: json.loads(d.read_text(\"direct_url.json\") or \"{}\").get(\"url\"); "
    f"top = [d for d in m.distributions() if norm(d.metadata[\"Name\"]) in names "
    f"or url(d) == \"file://{SRC}\" or (url(d) or \"\").startswith(\"file://{WHEELS}/\")]; "
    "scripts = sorted(e.name + \"\\n\" for d in top for e in d.entry_points "
    "if e.group == \"console_scripts\"); "
    "open(out + \"/scripts.txt\", \"w\").write(\"\".join(scripts)); "
    "open(out + \"/programs.txt\", \"w\").write(\"\".join(sorted(set("
    "p.name + \"\\n\" for d in top for p in d.files or [] if p.parent.name == \"bin\") "
    "- set(scripts)))); "
    "open(out + \"/dists.txt\", \"w\").write(\"\".join("
    "d.metadata[\"Name\"] + \" \" + d.version + \"\\n\" for d in top))"
)


# Run in the metadata stage by the installer's Python (it has `build` and `packaging`):
# the project's Requires-Dist from its backend's metadata hook, those of extras not
# asked for left out, into requirements.txt; its name and version into name-version.
# Double quotes only: it sits in single ones.
_METADATA = (
    "import sys, build.util; from packaging.requirements import Requirement; "
    "src, out, extras = sys.argv[1], sys.argv[2], sys.argv[3:]; "
    "md = build.util.project_wheel_metadata(src); "
    "by_extra = lambda r: r.marker is not None and \"extra\" in str(r.marker); "
    "keep = lambda r: not by_extra(r) or any(r.marker.evaluate({\"extra\": e}) "
    "for e in extras); "
    "bare = lambda r: str(r).split(\";\")[0].strip() if by_extra(r) else str(r); "
    "reqs = [Requirement(t) for t in md.get_all(\"Requires-Dist\") or []]; "
    "open(out + \"/requirements.txt\", \"w\").write("
    "\"\".join(bare(r) + \"\\n\" for r in reqs if keep(r))); "
    "open(out + \"/name-version\", \"w\").write("
    "md[\"Name\"] + \" \" + md[\"Version\"] + \"\\n\")"
)
METADATA_LIST = "/tmp/lock/requirements.txt"

# Run in the build and project stages by the build's Python (any CPython 3.8+) where the
# X.Y image leaves libpython.so out: from find-libdeps' JSON answer (argv[1]), the
# packages into argv[2], as find-libdeps lists them, and into argv[3] the names of the
# libraries in argv[4:] (libpython's files in the build image) that an ELF file of the
# venv was found to need, through whichever link or path. Double quotes only.
_LIBPYTHON_PROBE = (
    "import json, os, sys; "
    "found = json.load(open(sys.argv[1])); "
    "ours = set(map(os.path.realpath, sys.argv[4:])); "
    "open(sys.argv[2], \"w\").write(\"\".join(p + \"\\n\" for p in sorted(found[\"packages\"]))); "
    "open(sys.argv[3], \"w\").write(\"\".join(sorted(os.path.basename(p) + \"\\n\" "
    "for p in found[\"libraries\"] if os.path.realpath(p) in ours)))"
)


def needs_metadata_stage(plan: Plan) -> bool:
    """A project directory whose dependencies are not known statically (setup.py, or
    dynamic ones) and that has no lock: its metadata hook lists them."""
    project = plan.project
    return project.kind.installs and not project.complete \
        and not project.lock


def _program(plan: Plan) -> str | None:
    """The program the container starts, checked to exist when the image is built."""
    words = plan.entrypoint or plan.cmd or ()
    return words[0] if words else None


def _install(plan: Plan, args: list[str]) -> str:
    return plan.installer.install_command(plan.options.venv_path, args)


# A keyed digest of the index URL and CA bundle: a changed index re-resolves.
NETWORK_ARG = "SNAKEPACKER_NETWORK"
# Build arguments that carry --env values a Dockerfile line cannot hold.
ENV_ARG_PREFIX = "SNAKEPACKER_ENV_"


def _needs_arg(value: str) -> bool:
    return "\n" in value or "\r" in value


def env_build_args(plan: Plan) -> dict[str, str]:
    """The build arguments the Dockerfile expects: --env values with line breaks."""
    return {ENV_ARG_PREFIX + key: value for key, value in plan.options.env
            if _needs_arg(value)}


def _env_words(plan: Plan) -> list[tuple[str, str]]:
    return [(key, quoting.arg_reference(ENV_ARG_PREFIX + key) if _needs_arg(value)
             else quoting.env_value(value, f"--env {key}"))
            for key, value in plan.options.env]


def _compiler(plan: Plan) -> str:
    """compileall by the venv's Python, with .pyc keyed by the source's hash: an install
    time in the header would make every build's files differ."""
    return (f"{plan.options.venv_path}/bin/python -m compileall -q -j0 "
            "--invalidation-mode unchecked-hash")


# The installer's record of which cache entry a distribution came from holds the time
# it was built: dropped, from the files and from RECORD, so the same inputs give the
# same files.
_STRIP_STAMPS = (
    "for stamp in {venv}/lib/python*/site-packages/*.dist-info/uv_cache.json; do "
    "[ -e \"$stamp\" ] || continue; "
    "rm -f \"$stamp\"; sed -i '/uv_cache\\.json,/d' \"${{stamp%/*}}/RECORD\"; "
    "done"
)


def _layer_tool(plan: Plan) -> str:
    """How the build's own Python runs pack-layer (tools/pack_layer.py)."""
    return f"{plan.python.executable} -I -S {LAYER_TOOL}"


@dataclass(frozen=True)
class WheelBuild:
    """The project's wheel built with a backend installed in the build stage."""

    backend: tuple[str, ...]  # the build stage's lines that install the backend
    build: str  # builds the wheel into WHEELS
    install: str  # installs it into the venv, without dependencies


def _no_deps(plan: Plan) -> bool:
    """Whether the project installs without its dependencies: the layer before has
    them all."""
    return plan.options.project.complete or needs_metadata_stage(plan)


def _wheel_build(plan: Plan) -> WheelBuild | None:
    """How the project stage builds the project's wheel without an isolated
    environment, when the installer can and the install takes no dependencies."""
    installer = plan.installer
    project = plan.options.project
    if installer.wheel_build is None or not project.build_requires \
            or not project.kind.installs or not _no_deps(plan):
        return None
    requires = [quoting.shell_word(r, "[build-system] requires") for r in project.build_requires]
    backend = (
        f"{plan.python.executable} -m venv --without-pip {BACKEND}",
        installer.install_command(BACKEND, requires),
        f"{BACKEND}/bin/python -m compileall -q -j0 {BACKEND} > /dev/null || true",
    )
    return WheelBuild(
        backend,
        installer.wheel_build.format(backend=BACKEND, out=WHEELS, src=SRC),
        installer.project_command(plan.options.venv_path, ["--no-deps", f"{WHEELS}/*.whl"]),
    )


LOCKED_LIST = "/tmp/lock/locked.txt"
UNCHECKED_LIST = "/tmp/lock/unchecked.txt"


def _locked_lists(plan: Plan) -> dict[str, str]:
    """The lock's packages as requirements files, by path: those with hashes, checked
    by the install, and those the lock names by URL or commit (no hash to check)."""
    hashed = [p for p in plan.locked if p.all_hashes]
    other = [p for p in plan.locked if not p.all_hashes]
    lists = {LOCKED_LIST: locks.requirements_text(hashed)}
    if other:
        lists[UNCHECKED_LIST] = locks.requirements_text(other)
    return lists


def _locked_installs(plan: Plan) -> list[str]:
    lists = _locked_lists(plan)
    steps = [_install(plan, ["--require-hashes", "--no-deps", "--requirement", LOCKED_LIST])]
    if UNCHECKED_LIST in lists:
        steps.append(_install(plan, ["--no-deps", "--requirement", UNCHECKED_LIST]))
    return steps


def _steps(plan: Plan) -> tuple[list[str], str | None, str | None]:
    """The dependency step's shell lines, the project step, and the lock COPY."""
    opts = plan.options
    project = opts.project
    # --keep-pip keeps what it names: uv's venv has no pip of its own, so they are
    # installed (pip's venv has pip, but not always setuptools and wheel).
    deps: list[str] = [_install(plan, list(BUILD_TOOLS))] if opts.keep_pip else []
    lock_copy = None
    project_step = None
    if project.kind is SourceKind.REQUIREMENT:
        assert project.requirement is not None
        words = [project.requirement, *project.dependencies]
        deps.append(_install(plan, [quoting.shell_word(w, "a requirement") for w in words]))
        return deps, None, None
    if project.locked is not None:
        lock_copy = None
        deps += _locked_installs(plan)
    elif project.lock == "uv.lock":
        # The lock's hashes go into the list, and the install checks them.
        lock_copy = quoting.json_words(["pyproject.toml", "uv.lock", "/tmp/lock/"])
        extras = " ".join(f"--extra {quoting.shell_word(e, 'an extra')}" for e in opts.extras)
        deps.append(
            "uv export --quiet --frozen --no-dev --no-emit-project "
            + (extras + " " if extras else "")
            + "--project /tmp/lock --output-file /tmp/lock/requirements.txt"
        )
        deps.append(_install(plan, ["--requirement", "/tmp/lock/requirements.txt"]))
    elif project.lock:
        lock_copy = quoting.json_words([project.lock, "/tmp/lock/requirements.txt"],
                                       "the requirements file")
        deps.append(_install(plan, ["--requirement", "/tmp/lock/requirements.txt"]))
    elif needs_metadata_stage(plan):
        lock_copy = "--from=metadata " + quoting.json_words(
            ["/tmp/metadata/requirements.txt", METADATA_LIST])
        deps.append(f"if [ -s {METADATA_LIST} ]; then "
                    + _install(plan, ["--requirement", METADATA_LIST]) + "; fi")
    elif project.dependencies:
        deps.append(_install(plan, [quoting.shell_word(d, "a dependency")
                                    for d in project.dependencies]))
    if project.kind is not SourceKind.REQUIREMENTS:
        target = SRC + (f"[{','.join(opts.extras)}]" if opts.extras else "")
        no_deps = ["--no-deps"] if _no_deps(plan) else []
        project_step = plan.installer.project_command(
            opts.venv_path, [*no_deps, quoting.shell_word(target, "an extra")])
    return deps, project_step, lock_copy


def _labels(plan: Plan) -> dict[str, str]:
    """The packed image's LABEL step (snakepacker.family.labels)."""
    project = plan.project
    record = provenance.build_record(plan.options.family.distro.name, (plan.python,),
                                     plan.parent_grade)
    return provenance.oci_labels([
        ("org.opencontainers.image.title", project.name or project.label),
        ("org.opencontainers.image.source", project.source_url or project.label),
        ("org.opencontainers.image.description",
         f"{project.label}, packed by snakepacker on CPython {plan.python.minor}"),
        ("io.snakepacker.python", plan.python.minor),
        ("io.snakepacker.venv", plan.options.venv_path),
        ("org.opencontainers.image.version", plan.version),
    ], plan.final_ref, record)


def _header(plan: Plan) -> dict[str, object]:
    """What the first lines say: who made the file, for what, how to build it."""
    project = plan.project
    return {
        "version": __version__,
        "label": quoting.comment(project.label, "the project's name"),
        "tags": plan.options.tags,
        "context_needed": project.kind is not SourceKind.REQUIREMENT,
    }


def _build_stage(plan: Plan) -> dict[str, object]:
    """The metadata stage (when there is one) and the dependencies' venv."""
    opts = plan.options
    installer = plan.installer
    deps, project_step, lock_copy = _steps(plan)
    return {
        "build_ref": plan.build_ref,
        "py": plan.python,
        "venv": opts.venv_path,
        "installer": installer,
        "installer_env": installer.env + (() if opts.cache else installer.no_cache_env),
        "no_cache": not opts.cache,
        "source_date_epoch": quoting.env_value(str(BUILD_DATE_EPOCH), "SOURCE_DATE_EPOCH"),
        "cache_mount": installer.cache_mount(plan.cache_scope),
        "deps_step": deps,
        "lock_copy": lock_copy,
        "project_step": project_step,
        "wheel": _wheel_build(plan),
        "build_requires": quoting.comment(", ".join(plan.project.build_requires),
                                          "[build-system] requires"),
        "keep_pip": opts.keep_pip,
        "metadata_stage": needs_metadata_stage(plan),
        "metadata_script": _METADATA,
        "metadata_extras": quoting.shell_words(opts.extras, "an extra"),
        # Both installers only warn, and exit 0, for a package that is not there.
        "uninstall": installer.uninstall_command(opts.venv_path),
        "build_apt": opts.build_apt,
        "network_arg": NETWORK_ARG,
        "compile": _compiler(plan),
        "strip_stamps": _STRIP_STAMPS.format(venv=opts.venv_path),
        "ignore_missing": ",".join(opts.ignore_missing_libs),
        "layer_tool": _layer_tool(plan),
        "layer_tool_path": LAYER_TOOL,
        "layer_tool_dir": LAYER_TOOL.rpartition("/")[0],
        "layer_tool_chunks": embedded_chunks("pack_layer.py"),
        **_libpython(plan),
        "locked_source": plan.project.locked.source if plan.project.locked else None,
        "locked_files": [(path, blob_chunks(text.encode()))
                         for path, text in _locked_lists(plan).items()]
        if plan.project.locked else [],
    }


def _libpython(plan: Plan) -> dict[str, object]:
    """libpython's files, where the X.Y image leaves them out: the probe's arguments,
    and the final stage's mounts of them from the build image (source, target) and
    where it copies them when the venv links them."""
    files = [quoting.one_line(path, "libpython's path") for path in plan.python.libpython_files]
    targets = [f"/tmp/{path.rpartition('/')[2]}" for path in files]
    return {
        "libpython": bool(files),
        "libpython_probe": _LIBPYTHON_PROBE,
        "libpython_args": quoting.shell_words(files, "libpython's path"),
        "libpython_mounts": list(zip(files, targets, strict=True)),
        "libpython_copies": quoting.shell_words(targets, "libpython's path"),
        "libpython_dir": quoting.shell_word(files[0].rpartition("/")[0]) if files else "",
    }


def _project_stage(plan: Plan) -> dict[str, object]:
    """The project installed on the venv, and what that added gathered as one layer."""
    opts = plan.options
    project = opts.project
    code_dir = opts.workdir if project.kind is SourceKind.REQUIREMENTS else None
    program = _program(plan)
    return {
        "src": code_dir or SRC,
        "code_dir": code_dir,
        "info": INFO,
        "probe": _PROBE,
        "names": quoting.shell_words([project.name] if project.name else [], "a name"),
        "layer": LAYER,
        "program": quoting.shell_word(program, "the entry point") if program else None,
    }


def _final_stage(plan: Plan) -> dict[str, object]:
    """The runtime image: system packages, the user, the two layers, its settings."""
    opts = plan.options
    own_user = opts.user != "root" and not opts.user[0].isdigit()
    return {
        "final_ref": plan.final_ref,
        "apt": opts.apt,
        "healthcheck": opts.healthcheck,
        "create_user": own_user,
        "user": opts.user,
        # USER names the created user by uid: hosts (and runAsNonRoot) need a number.
        "user_id": f"{APP_UID}:{APP_UID}" if own_user else opts.user,
        "uid": APP_UID,
        "workdir": opts.workdir,
        "labels": _labels(plan),
        "env": _env_words(plan),
        "env_args": sorted(env_build_args(plan)),
        "volumes": quoting.json_words(opts.volumes, "--volume") if opts.volumes else None,
        "ports": " ".join(str(p) for p in opts.ports),
        "entrypoint": quoting.json_words([*INIT, *(plan.entrypoint or ())], "--entrypoint"),
        "cmd": quoting.json_words(plan.cmd, "--cmd") if plan.cmd else None,
    }


def render_pack(plan: Plan) -> str:
    """pack's Dockerfile for PLAN: its stages, each from its own piece of context."""
    context = {**_header(plan), **_build_stage(plan), **_project_stage(plan),
               **_final_stage(plan), "distroless": plan.options.distroless}
    text = render_template("pack.j2", context)
    if plan.options.distroless:
        text += "\n" + render_template("pack-distroless.j2", {**context, **_distroless(plan)})
    return text


# What every --distroless image gets whatever its ELF files need: the C library (the
# loader), libgcc's unwinder (glibc loads it with dlopen when a thread exits through
# pthread_exit, as CPython's daemon threads do at shutdown), CA certificates, time zone
# data, and the init the app runs under.
DISTROLESS_SEEDS = ("libc6", "libgcc-s1", "ca-certificates", "tzdata", "dumb-init")
# Files no package owns, or that the openssl program's package (not shipped) owns,
# which the app still reads: the generated CA bundle and its links, OpenSSL's directory
# and configuration (where libssl looks for that bundle), the time zone and locale the
# family sets, the loader's configuration (for ldconfig -r), the release's identity
# (for scanners), snakepacker's own records, and wait-for-port for a health check.
DISTROLESS_PATHS = ("/etc/ssl/certs", "/usr/lib/ssl", "/etc/ssl/openssl.cnf",
                    "/etc/localtime", "/etc/timezone", "/usr/lib/locale/en_US.utf8",
                    "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/os-release",
                    "/usr/lib/os-release", "/usr/share/snakepacker",
                    "/usr/local/bin/wait-for-port")


def blob_chunks(data: bytes) -> tuple[str, ...]:
    """DATA compressed and base64-encoded, in lines of 96, for a Dockerfile to carry."""
    blob = base64.b64encode(zlib.compress(data, 9)).decode("ascii")
    return tuple(blob[i:i + 96] for i in range(0, len(blob), 96))


@functools.cache
def embedded_chunks(tool: str) -> tuple[str, ...]:
    """tools/TOOL as blob_chunks: the Dockerfile carries it, so it builds with no file
    beside it."""
    return blob_chunks(resources.files("snakepacker").joinpath(f"tools/{tool}").read_bytes())


def _distroless(plan: Plan) -> dict[str, object]:
    """The collect stage's inputs: the packages and paths to start from, the modules to
    leave out."""
    py = plan.python
    opts = plan.options
    paths = [*DISTROLESS_PATHS, opts.venv_path]
    if opts.project.kind is SourceKind.REQUIREMENTS:
        paths.append(opts.workdir)
    # The distro's (or deadsnakes') interpreter is packages: their files; the libraries
    # its ELF files need come, as for everything staged, by find-libdeps.
    interpreter = [f"python{py.minor}", f"python{py.minor}-minimal",
                   f"libpython{py.minor}-minimal", f"libpython{py.minor}-stdlib"]
    if py.route is Route.SOURCE:
        # Built from source: no package owns it.
        interpreter = []
        paths += [py.prefix, f"/usr/local/bin/python{py.minor}", "/usr/local/bin/python3"]
    elif py.route is Route.DEADSNAKES:
        paths.append("/usr/local/bin/python3")
    return {
        "collector": embedded_chunks("collect_distroless.py"),
        "shallow": [*DISTROLESS_SEEDS, *interpreter],
        "apt": list(opts.apt),
        "left_out": [m for m in DISTROLESS_LEFT_OUT if m not in opts.distroless_keep],
        "paths": paths,
    }


def render_build_stage(plan: Plan) -> str:
    """Only the build stage: built first when the console scripts or the version must be
    read from the installed distribution. Its text is the full Dockerfile's up to the
    final stage, so the full build then finds every step in the cache."""
    text = render_pack(plan)
    marker = "# ============================== final stage"
    return text[: text.index(marker)].rstrip() + "\n"

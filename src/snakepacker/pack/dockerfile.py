"""Render pack's two-stage Dockerfile from a plan.

The text depends on the plan alone. Values of the image's environment arrive byte for
byte: ``$`` and quotes are escaped for the Dockerfile's ENV, and a value the Dockerfile
cannot spell (one with a line break) is passed as a build argument instead.
"""

from __future__ import annotations

import base64
import functools
import json
import shlex
import zlib
from dataclasses import dataclass
from importlib import resources

from snakepacker import __version__
from snakepacker.family import labels as provenance
from snakepacker.family.cpython import Route
from snakepacker.pack.installer import INSTALLERS
from snakepacker.pack.options import DISTROLESS_LEFT_OUT
from snakepacker.pack.plan import Plan
from snakepacker.pack.project import SourceKind
from snakepacker.templating import render_template

SRC = "/usr/src/app"  # where the project's code is copied in the build stage
INFO = "/usr/share/snakepacker/pack"  # the lists the build stage hands to the final one
# Where the project stage gathers what installing the project added: the final image's
# last layer, copied to / as it is.
LAYER = "/tmp/snakepacker-layer"
# The project's build backend, in a venv of its own in the build stage, and where the
# project stage puts the wheel it builds with it.
BACKEND = "/opt/snakepacker/backend"
WHEELS = "/tmp/snakepacker-wheel"
APP_UID = 10001
INIT = ("dumb-init", "--")  # every packed app runs under the X.Y image's small init
BUILD_TOOLS = ("pip", "setuptools", "wheel")  # what --keep-pip keeps

# Run in the build stage by the venv's Python: write the console scripts and the
# name and version of the distributions that were asked for (by name, or installed
# from the project's directory) into INFO. Double quotes only: it sits in single ones.
_PROBE = (
    "import importlib.metadata as m, json, re, sys; "
    "out, names = sys.argv[1], set(sys.argv[2:]); "
    "norm = lambda n: re.sub(r\"[-_.]+\", \"-\", n or \"\").lower(); "
    "url = lambda d: json.loads(d.read_text(\"direct_url.json\") or \"{}\").get(\"url\"); "
    f"top = [d for d in m.distributions() if norm(d.metadata[\"Name\"]) in names "
    f"or url(d) == \"file://{SRC}\" or (url(d) or \"\").startswith(\"file://{WHEELS}/\")]; "
    "open(out + \"/scripts.txt\", \"w\").write(\"\".join(sorted("
    "e.name + \"\\n\" for d in top for e in d.entry_points if e.group == \"console_scripts\"))); "
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


def needs_metadata_stage(plan: Plan) -> bool:
    """A project directory whose dependencies are not known statically (setup.py, or
    dynamic ones) and that has no lock: its metadata hook lists them."""
    project = plan.project
    return project.kind.installs and not project.complete \
        and not project.lock


def _quote_label(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


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


def _env_value(value: str) -> str:
    """VALUE as a double-quoted ENV word that the engine reads back unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def env_build_args(plan: Plan) -> dict[str, str]:
    """The build arguments the Dockerfile expects: --env values with line breaks."""
    return {ENV_ARG_PREFIX + key: value for key, value in plan.options.env
            if _needs_arg(value)}


def _env_words(plan: Plan) -> list[tuple[str, str]]:
    return [(key, "${" + ENV_ARG_PREFIX + key + "}" if _needs_arg(value) else _env_value(value))
            for key, value in plan.options.env]


def _compiler(plan: Plan) -> str:
    """compileall by the venv's Python, with .pyc keyed by the source's hash: an install
    time in the header would make every build's files differ."""
    return (f"{plan.options.venv_path}/bin/python -m compileall -q -j0 "
            "--invalidation-mode unchecked-hash")


# Run by the venv's Python with the list of the files the project added: exit 0 when
# one of them is an ELF file (then find-libdeps looks at the venv again). Double quotes
# only: it sits in single ones.
_HAS_ELF = (
    "import os, sys; "
    "paths = open(sys.argv[1]).read().splitlines(); "
    "elf = lambda p: os.path.isfile(p) and not os.path.islink(p) "
    "and open(p, \"rb\").read(4) == b\"\\x7fELF\"; "
    "sys.exit(0 if any(elf(p) for p in paths) else 1)"
)
# The installer's record of which cache entry a distribution came from holds the time
# it was built: dropped, from the files and from RECORD, so the same inputs give the
# same files.
_STRIP_STAMPS = (
    "for stamp in {venv}/lib/python*/site-packages/*.dist-info/uv_cache.json; do "
    "[ -e \"$stamp\" ] || continue; "
    "rm -f \"$stamp\"; sed -i '/uv_cache\\.json,/d' \"${{stamp%/*}}/RECORD\"; "
    "done"
)


def _listing(plan: Plan) -> str:
    """Every file of the venv with its size and time: what the project step changed is
    the difference of two such lists."""
    return f"find {plan.options.venv_path} ! -type d -printf '%p\\t%s\\t%T@\\n'"


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
    requires = [shlex.quote(r) for r in project.build_requires]
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
        pins = [shlex.quote(d) for d in project.dependencies]
        deps.append(_install(plan, [shlex.quote(project.requirement), *pins]))
        return deps, None, None
    if project.lock == "uv.lock":
        lock_copy = "pyproject.toml uv.lock /tmp/lock/"
        extras = " ".join(f"--extra {shlex.quote(e)}" for e in opts.extras)
        deps.append(
            "uv export --quiet --frozen --no-dev --no-emit-project --no-hashes "
            + (extras + " " if extras else "")
            + "--project /tmp/lock --output-file /tmp/lock/requirements.txt"
        )
        deps.append(_install(plan, ["--requirement", "/tmp/lock/requirements.txt"]))
    elif project.lock:
        lock_copy = f"{shlex.quote(project.lock)} /tmp/lock/requirements.txt"
        deps.append(_install(plan, ["--requirement", "/tmp/lock/requirements.txt"]))
    elif needs_metadata_stage(plan):
        lock_copy = f"--from=metadata /tmp/metadata/requirements.txt {METADATA_LIST}"
        deps.append(f"if [ -s {METADATA_LIST} ]; then "
                    + _install(plan, ["--requirement", METADATA_LIST]) + "; fi")
    elif project.dependencies:
        deps.append(_install(plan, [shlex.quote(d) for d in project.dependencies]))
    if project.kind is not SourceKind.REQUIREMENTS:
        target = SRC + (f"[{','.join(opts.extras)}]" if opts.extras else "")
        no_deps = ["--no-deps"] if _no_deps(plan) else []
        project_step = plan.installer.project_command(opts.venv_path,
                                                      [*no_deps, shlex.quote(target)])
    return deps, project_step, lock_copy


def render_pack(plan: Plan) -> str:
    opts = plan.options
    project = opts.project
    venv = opts.venv_path
    deps, project_step, lock_copy = _steps(plan)
    wheel = _wheel_build(plan)
    installer = plan.installer
    names = [project.name] if project.name else []
    labels = {
        "org.opencontainers.image.title": project.name or project.label,
        "org.opencontainers.image.source": project.source_url or project.label,
        "org.opencontainers.image.description":
            f"{project.label}, packed by snakepacker on CPython {plan.python.minor}",
        "io.snakepacker.python": plan.python.minor,
        "io.snakepacker.venv": venv,
    }
    if plan.version:
        labels["org.opencontainers.image.version"] = plan.version
    family = opts.family
    labels.update({
        "org.opencontainers.image.base.name": plan.final_ref,
        "org.opencontainers.image.base.digest": "${SNAKEPACKER_PARENT}",
        "io.snakepacker.parent": "${SNAKEPACKER_PARENT}",
        provenance.BUILD_LABEL: provenance.build_record(
            family.distro.name, (plan.python,), plan.parent_grade),
        "org.opencontainers.image.revision": "${SNAKEPACKER_REVISION}",
        "org.opencontainers.image.created": "${SNAKEPACKER_CREATED}",
    })
    code_dir = opts.workdir if project.kind is SourceKind.REQUIREMENTS else None
    context = {
        "version": __version__,
        "label": project.label,
        "tags": opts.tags,
        "build_ref": plan.build_ref,
        "final_ref": plan.final_ref,
        "py": plan.python,
        "venv": venv,
        "installer": installer,
        "cache_mount": installer.cache_mount(plan.cache_scope),
        "deps_step": deps,
        "lock_file": lock_copy is not None,
        "lock_copy": lock_copy,
        "project_step": project_step,
        "wheel": wheel,
        "build_requires": ", ".join(project.build_requires),
        "src": code_dir or SRC,
        "code_dir": code_dir,
        "context_needed": project.kind is not SourceKind.REQUIREMENT,
        "keep_pip": opts.keep_pip,
        "metadata_stage": needs_metadata_stage(plan),
        "metadata_script": _METADATA,
        "metadata_mount": INSTALLERS["pip"].cache_mount(plan.cache_scope),
        "metadata_extras": " ".join(shlex.quote(e) for e in opts.extras),
        # Both installers only warn, and exit 0, for a package that is not there.
        "uninstall": installer.uninstall_command(venv),
        "info": INFO,
        "probe": _PROBE,
        "names": " ".join(shlex.quote(n) for n in names),
        "apt": opts.apt,
        "build_apt": opts.build_apt,
        "healthcheck": opts.healthcheck,
        "create_user": opts.user != "root" and not opts.user[0].isdigit(),
        "user": opts.user,
        # USER names the created user by uid: hosts (and runAsNonRoot) need a number.
        "user_id": f"{APP_UID}:{APP_UID}" if opts.user != "root" and not opts.user[0].isdigit()
        else opts.user,
        "uid": APP_UID,
        "workdir": opts.workdir,
        "labels": {k: _quote_label(v) for k, v in labels.items()},
        "env": _env_words(plan),
        "env_args": sorted(env_build_args(plan)),
        "network_arg": NETWORK_ARG,
        "compile": _compiler(plan),
        "compile_list": f"{_compiler(plan)} -i -",
        "listing": _listing(plan),
        "strip_stamps": _STRIP_STAMPS.format(venv=venv),
        "has_elf": _HAS_ELF,
        "layer": LAYER,
        "ignore_missing": ",".join(opts.ignore_missing_libs),
        "volumes": json.dumps(list(opts.volumes)) if opts.volumes else None,
        "ports": " ".join(str(p) for p in opts.ports),
        "entrypoint": json.dumps([*INIT, *(plan.entrypoint or ())]),
        "program": shlex.quote(_program(plan)) if _program(plan) else None,
        "cmd": json.dumps(list(plan.cmd)) if plan.cmd else None,
    }
    text = render_template("pack.j2", {**context, "distroless": opts.distroless})
    if opts.distroless:
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


@functools.cache
def collector_chunks() -> tuple[str, ...]:
    """tools/collect_distroless.py, compressed and base64-encoded, in lines of 96."""
    source = resources.files("snakepacker").joinpath("tools/collect_distroless.py")
    blob = base64.b64encode(zlib.compress(source.read_bytes(), 9)).decode("ascii")
    return tuple(blob[i:i + 96] for i in range(0, len(blob), 96))


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
        "collector": collector_chunks(),
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

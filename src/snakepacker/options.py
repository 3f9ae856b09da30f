"""Every option of every command, declared once, read in one order.

One table says, per option: its name, type, default, the commands that take it, its
environment variable, its ``[tool.snakepacker]`` key and its help. ``read`` takes the
values in cibuildwheel's order, each source overriding the one before:

    defaults < pyproject.toml [tool.snakepacker] < SNAKEPACKER_* environment < command line

so a command never re-derives an environment name or keeps an order of its own. The
command-line parser, ``--help`` (which names each variable) and the README's option
reference are all made from the same table. What the values mean (a distro, a minor, a
tag) is checked by the layer that owns the meaning; this module only reads.
"""

from __future__ import annotations

import argparse
import difflib
import enum
import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snakepacker import redact
from snakepacker.errors import UsageError
from snakepacker.family.cpython import MINORS, Route, check_route
from snakepacker.family.distros import DEFAULT_DISTRO, DISTROS, Distro, get_distro
from snakepacker.family.options import (
    DEFAULT_NAMESPACE,
    DEFAULT_REGISTRY,
    FamilyOptions,
    NetworkOptions,
    local_tarballs,
    parse_minors,
    parse_releases,
    parse_routes,
)
from snakepacker.images.mirrors import auth_conf
from snakepacker.pack import options as pack
from snakepacker.pack.files import project_file
from snakepacker.pack.options import PackOptions
from snakepacker.pack.project import Project
from snakepacker.platforms import Platform, check_runnable, native_platform, parse_platforms

ENV_PREFIX = "SNAKEPACKER_"
TOOL_TABLE = "[tool.snakepacker]"

# The commands, by the words that name them.
LIST, DOCKERFILE, BUILD = "images list", "images dockerfile", "images build"
PUSH = "images push"
BOOTSTRAP, PACK = "bootstrap", "pack"
MATRIX, MERGE = "images matrix", "images merge"
SBOM, DIFF, VERIFY = "sbom", "images diff", "verify"
IMAGE_COMMANDS = frozenset({LIST, DOCKERFILE, BUILD, PUSH})
FAMILY_COMMANDS = IMAGE_COMMANDS | {PACK}
ENGINE_COMMANDS = frozenset({LIST, BUILD, PUSH, BOOTSTRAP, PACK, MERGE, SBOM, DIFF})
PLATFORM_COMMANDS = frozenset({BUILD, PUSH, BOOTSTRAP, PACK, MATRIX, MERGE})


class Type(enum.Enum):
    TEXT = "text"  # one word or string
    FLAG = "flag"  # on or off: --x / --no-x, 1/0, true/false
    LIST = "list"  # repeatable; also comma- (or space-) separated
    ARGV = "argv"  # a command line: split like a shell, or a TOML list
    PAIRS = "pairs"  # KEY=VALUE, repeatable; a TOML table; one per line in the environment
    SIZE = "size"  # bytes, or a number with a unit (200MB); a TOML integer is bytes
    COUNT = "count"  # a whole number; a TOML integer


@dataclass(frozen=True)
class Option:
    name: str  # dashed; also the [tool.snakepacker] key unless `key` says otherwise
    type: Type
    help: str
    commands: frozenset[str]
    default: Any = None
    metavar: str | None = None
    short: str | None = None
    flag_name: str | None = None  # the command-line spelling, when not --NAME
    env_name: str | None = None  # when not SNAKEPACKER_NAME
    key: str | None = None  # the [tool.snakepacker] key; "" when it cannot live there
    separator: str = ","  # between items of a LIST in the environment
    relative_to_project: bool = False  # paths in pyproject.toml are the project's
    # Carries trust (a CA bundle, an index, a registry, a mirror): read from the command
    # line and the environment only. A project is untrusted input, so its pyproject.toml
    # naming one is an error, never a value that reaches a build.
    trusted: bool = False

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return self.flag_name or f"--{self.name}"

    @property
    def env(self) -> str:
        return self.env_name or ENV_PREFIX + self.dest.upper()

    @property
    def toml_key(self) -> str | None:
        return None if self.key == "" or self.trusted else (self.key or self.name)


def _cmds(*names: str | frozenset[str]) -> frozenset[str]:
    out: set[str] = set()
    for name in names:
        out |= {name} if isinstance(name, str) else set(name)
    return frozenset(out)


_ROUTES = ", ".join(r.value for r in Route)

OPTIONS: tuple[Option, ...] = (
    # -- the family ------------------------------------------------------------------
    Option("distro", Type.TEXT, f"the distro the family stands on ({', '.join(DISTROS)})",
           FAMILY_COMMANDS, default=DEFAULT_DISTRO, metavar="NAME"),
    Option("minors", Type.LIST, f"narrow the family to these CPython minors, X.Yt for a "
           f"free-threaded build (default all: {', '.join(MINORS)})", FAMILY_COMMANDS,
           metavar="X.Y,..."),
    Option("route", Type.LIST, f"force how a minor is installed: {_ROUTES} (default: distro "
           "where the release ships it, else source)", FAMILY_COMMANDS, metavar="X.Y=ROUTE"),
    Option("cpython", Type.LIST, "tarball of a source-built minor: a version (3.12.3), "
           "X.Y=VERSION (X.Yt builds X.Y's unless told), or a local file (default: "
           "python.org's newest patch release)",
           FAMILY_COMMANDS, metavar="VERSION|FILE", relative_to_project=True),
    Option("cpython-mirror", Type.TEXT, "fetch CPython tarballs from this URL or directory "
           "first", FAMILY_COMMANDS, metavar="URL|DIR", trusted=True),
    Option("quick", Type.FLAG, "build CPython without PGO and LTO: minutes instead of half "
           "an hour, for development and CI (default: the release build, PGO + LTO)",
           IMAGE_COMMANDS, default=False),
    Option("bolt", Type.FLAG, "also run BOLT on the release build of CPython 3.12+ "
           f"(distros with llvm-bolt: {', '.join(d for d in DISTROS if DISTROS[d].bolt)})",
           IMAGE_COMMANDS, default=False),
    Option("namespace", Type.TEXT, "registry namespace of the images (and of bootstrapped "
           "roots)", _cmds(FAMILY_COMMANDS, BOOTSTRAP), default=DEFAULT_NAMESPACE,
           trusted=True),
    Option("registry", Type.TEXT, "registry of the long names", FAMILY_COMMANDS,
           default=DEFAULT_REGISTRY, metavar="HOST", trusted=True),
    Option("root-image", Type.TEXT, "build base from this image instead of the distro root",
           FAMILY_COMMANDS, metavar="IMAGE", trusted=True),
    Option("ca-certs", Type.LIST, "extra CA certificates for build stages that reach PyPI; "
           "never kept in images", FAMILY_COMMANDS, metavar="FILE", flag_name="--ca-cert",
           separator=os.pathsep, trusted=True),
    Option("index-url", Type.TEXT, "package index for build stages (it may hold a password: "
           "passed as a secret)", FAMILY_COMMANDS, metavar="URL", trusted=True),
    Option("distros", Type.LIST, "the distros of the CI matrix (default: every one the "
           "family knows)", frozenset({MATRIX}), metavar="NAME,...", key=""),
    Option("platform", Type.LIST, "the platforms, e.g. linux/amd64,linux/arm64 (foreign "
           "ones build under qemu; default: the engine's own, but for `images matrix` and "
           "`images merge` every platform the family ships)", PLATFORM_COMMANDS,
           metavar="OS/ARCH,...", env_name="SNAKEPACKER_PLATFORMS"),
    Option("hub", Type.TEXT, "registry of the short names (NS/python:TAG) when pushing "
           "(default: the engine's default registry)", frozenset({BUILD, PUSH, PACK}),
           metavar="HOST", trusted=True),
    Option("push-by-digest", Type.TEXT, "after building, push every platform's image by "
           "digest (signed and attested with --sign) and write one record per image into "
           "DIR, for `images merge` (a CI job's share of a push)", frozenset({BUILD}),
           metavar="DIR", key=""),
    Option("sign", Type.TEXT, "sign every pushed image and list with this cosign key, and "
           "attest each image's SBOM and SLSA provenance (without a key nothing is signed "
           "or attested)", frozenset({BUILD, PUSH, PACK, MERGE}), metavar="KEY", key=""),
    Option("sbom-format", Type.TEXT, "the format of the SBOM a signed push attests: "
           "cyclonedx or spdx", frozenset({BUILD, PUSH, PACK}), default="cyclonedx",
           metavar="NAME", key=""),
    # -- the engine --------------------------------------------------------------------
    Option("engine", Type.TEXT, "the container engine: docker, podman or auto (docker "
           "when its daemon answers, else podman)", ENGINE_COMMANDS, default="auto",
           metavar="NAME", key=""),
    Option("cache", Type.FLAG, "use the engine's build cache (--no-cache builds every step "
           "again, e.g. to check that a build is reproducible; pack's installer then takes "
           "no wheel from its cache either)", frozenset({BUILD, PACK}),
           default=True, key="", env_name="SNAKEPACKER_BUILD_CACHE"),
    # -- sbom ----------------------------------------------------------------------------
    Option("key", Type.TEXT, "the cosign public key the signatures and attestations must "
           "match (sbom: take a registry's SBOM only when this key attested it)",
           frozenset({VERIFY, SBOM}), metavar="FILE", key=""),
    Option("format", Type.TEXT, "the SBOM's format: cyclonedx (1.6) or spdx (2.3), JSON",
           frozenset({SBOM}), default="cyclonedx", metavar="NAME", key=""),
    # -- pack ----------------------------------------------------------------------------
    Option("tag", Type.LIST, "name the image (repeatable; default NAME:latest)",
           frozenset({PACK}), metavar="TAG", short="-t"),
    Option("python", Type.TEXT, "the CPython minor (default: the newest the project's "
           "requires-python allows)", frozenset({PACK}), metavar="X.Y"),
    Option("installer", Type.TEXT, f"what installs into the venv: {', '.join(pack.INSTALLERS)}",
           frozenset({PACK}), default="uv", metavar="NAME"),
    Option("pillow", Type.FLAG, "build on all-pillow and run on X.Y-pillow",
           frozenset({PACK}), default=False),
    Option("venv-path", Type.TEXT, "where the venv lives in both stages", frozenset({PACK}),
           default=pack.DEFAULT_VENV, metavar="PATH"),
    Option("keep-pip", Type.FLAG, "keep pip, setuptools and wheel in the venv",
           frozenset({PACK}), default=False),
    Option("apt", Type.LIST, "an extra system package for the final image, e.g. a program "
           "the app runs", frozenset({PACK}), metavar="PKG"),
    Option("build-apt", Type.LIST, "an extra system package for the build stage, e.g. "
           "headers an sdist compiles against", frozenset({PACK}), metavar="PKG"),
    Option("extras", Type.LIST, "install the project with these extras", frozenset({PACK}),
           metavar="EXTRA"),
    Option("requirements", Type.TEXT, "the requirements file to install (a pinned one is "
           "a lock); relative to the project", frozenset({PACK}), metavar="FILE"),
    Option("entrypoint", Type.ARGV, "the image's ENTRYPOINT, split like a shell (default: "
           "the project's single console script)", frozenset({PACK}), metavar="CMD"),
    Option("cmd", Type.ARGV, "the image's CMD, split like a shell", frozenset({PACK}),
           metavar="ARGS"),
    Option("user", Type.TEXT, "the user the app runs as, created in the image (root opts "
           "out; a uid is used as is)", frozenset({PACK}), default=pack.DEFAULT_USER,
           metavar="NAME"),
    Option("workdir", Type.TEXT, "the image's WORKDIR; a requirements-only project's code "
           "is copied there", frozenset({PACK}), default=pack.DEFAULT_WORKDIR, metavar="PATH"),
    Option("ignore-missing-libs", Type.LIST, "a shared library (soname) the venv's files "
           "may need that is truly absent: find-libdeps lets it pass", frozenset({PACK}),
           metavar="SONAME"),
    Option("env", Type.PAIRS, "an environment variable of the image, kept byte for byte",
           frozenset({PACK}), metavar="KEY=VALUE"),
    Option("volume", Type.LIST, "declare a volume", frozenset({PACK}), metavar="PATH"),
    Option("port", Type.LIST, "a TCP port the app listens on, EXPOSEd", frozenset({PACK}),
           metavar="N"),
    Option("push", Type.FLAG, "push the image for every --platform and write one list per "
           "-t tag (each tag names a registry)", frozenset({PACK}), default=False, key=""),
    Option("healthcheck", Type.TEXT, "a HEALTHCHECK: healthy while the app accepts "
           "connections on this port (checked with the image's wait-for-port)",
           frozenset({PACK}), metavar="PORT"),
    Option("distroless", Type.FLAG, "a final image FROM scratch with only what the app "
           "runs on: no shell, apt, dpkg or coreutils (see README, \"Distroless\")",
           frozenset({PACK}), default=False),
    Option("distroless-keep", Type.LIST, "an interpreter module --distroless leaves out "
           f"that the app imports: {', '.join(pack.DISTROLESS_LEFT_OUT)}, or all "
           "(repeatable)", frozenset({PACK}), metavar="MODULE"),
    # -- pack's budgets: over one, the pack fails (exit 6) and tags nothing ---------------
    Option("max-size", Type.SIZE, "fail when the image is bigger than this, as the engine "
           "stores it: bytes, or a number with a unit (200MB, 1.5GiB)", frozenset({PACK}),
           metavar="SIZE"),
    Option("max-compressed-size", Type.SIZE, "fail when the image's layers, gzip-compressed "
           "as a push sends them, add up to more than this (200MB, 1.5GiB)",
           frozenset({PACK}), metavar="SIZE"),
    Option("max-system-packages", Type.COUNT, "fail when pack adds more system packages "
           "than this to X.Y (find-libdeps' and --apt's, with what they depend on)",
           frozenset({PACK}), metavar="N"),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}

# Settings of this machine rather than of a command, read from the environment alone
# where they are used: no option of the table may take their names.
MACHINE_ENVIRONMENT: dict[str, str] = {
    "SNAKEPACKER_CACHE": "where downloaded CPython tarballs are kept (default "
                         "~/.cache/snakepacker)",
    "SNAKEPACKER_DOCKER": "the docker client to use",
    "SNAKEPACKER_PODMAN": "the podman client to use",
    "SNAKEPACKER_ENGINE_TIMEOUT": "seconds a quick engine call may take (default 30)",
    "SNAKEPACKER_UBUNTU_MIRROR": "Ubuntu's package archive",
    "SNAKEPACKER_UBUNTU_PORTS_MIRROR": "Ubuntu's archive for other architectures",
    "SNAKEPACKER_DEBIAN_MIRROR": "Debian's package archive",
    "SNAKEPACKER_UBUNTU_SECURITY_MIRROR": "Ubuntu's security archive",
    "SNAKEPACKER_DEBIAN_SECURITY_MIRROR": "Debian's security archive",
}


def options_of(command: str) -> tuple[Option, ...]:
    return tuple(option for option in OPTIONS if command in option.commands)


# -- the command-line parser ---------------------------------------------------------


def add_options(parser: argparse.ArgumentParser, command: str, title: str = "options") -> None:
    """Add COMMAND's options to PARSER, each with its environment variable in the help.
    Nothing has an argparse default: None means "not given here"."""
    group = parser.add_argument_group(f"{title} (defaults < {TOOL_TABLE} < environment < "
                                      "command line)" if command == PACK else
                                      f"{title} (defaults < environment < command line)")
    for option in options_of(command):
        flags = [option.short, option.flag] if option.short else [option.flag]
        where = option.env
        if command == PACK and option.toml_key:
            where += f", {option.toml_key} ="
        default = f"; default {_show(option.default)}" if option.default not in (None, False) \
            else ""
        text = f"{option.help}{default} [{where}]".replace("%", "%%")
        if option.type is Type.FLAG:
            group.add_argument(*flags, dest=option.dest, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
        elif option.type in (Type.LIST, Type.PAIRS):
            group.add_argument(*flags, dest=option.dest, action="append", default=None,
                               metavar=option.metavar, help=text)
        else:
            group.add_argument(*flags, dest=option.dest, default=None, metavar=option.metavar,
                               help=text)


def _show(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


# -- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class Values:
    """The read values of one command, and where each came from."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]  # name -> "default", "pyproject", "environment", "command line"

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        """NAME's value, or DEFAULT where the command has no such option."""
        return self.values.get(name, default)

    def given(self, name: str) -> bool:
        return self.origins[name] != "default"


def read(
    command: str,
    cli: argparse.Namespace | Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    pyproject: Mapping[str, Any] | None = None,
    project_dir: Path | None = None,
) -> Values:
    """COMMAND's option values: defaults < pyproject < environment < command line."""
    env = os.environ if env is None else env
    given = vars(cli) if isinstance(cli, argparse.Namespace) else dict(cli or {})
    tool = check_tool_table(pyproject or {}, command)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for option in options_of(command):
        value, origin = _default(option), "default"
        if option.toml_key in tool:
            value, origin = _from_toml(option, tool[option.toml_key], project_dir), "pyproject"
        if env.get(option.env, "") != "":
            value, origin = _from_env(option, env[option.env]), "environment"
        raw = given.get(option.dest)
        if raw is not None and raw != []:
            value, origin = _from_cli(option, raw), "command line"
        values[option.name] = value
        origins[option.name] = origin
    return Values(values, origins)


def check_tool_table(tool: Mapping[str, Any], command: str = PACK) -> dict[str, Any]:
    """TOOL's keys, dashed; an unknown key is an error with a "did you mean" hint, and a
    key that carries trust is an error saying where it must come from instead."""
    known = {o.toml_key: o for o in options_of(command) if o.toml_key}
    trusted = {o.name: o for o in options_of(command) if o.trusted}
    checked: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for raw, value in tool.items():
        key = raw.replace("_", "-")
        if key in spelled:
            raise UsageError(f"{TOOL_TABLE}: {spelled[key]!r} and {raw!r} are one key, "
                             "set twice: keep one")
        spelled[key] = raw
        if key in trusted:
            option = trusted[key]
            raise UsageError(f"{TOOL_TABLE}: {raw!r} carries trust, so it is read from "
                             f"{option.flag} or {option.env} only, never from the project")
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f" (known: {', '.join(sorted(known))})"
            raise UsageError(f"{TOOL_TABLE}: unknown key {raw!r}{hint}")
        checked[key] = value
    return checked


def _default(option: Option) -> Any:
    if option.type in (Type.LIST, Type.PAIRS):
        return tuple(option.default or ())
    return option.default


def _split(text: str, separator: str) -> tuple[str, ...]:
    parts = text.split(separator) if separator != "," else text.replace(",", " ").split()
    return tuple(p.strip() for p in parts if p.strip())


def _bool(text: str, where: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{where}={text!r}: not a yes/no value (1, true, yes or 0, false, no)")


def _argv(text: str, where: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"{where}: cannot split {text!r}: {exc}") from None


def _pair(word: str, where: str) -> tuple[str, str]:
    key, sep, value = word.partition("=")
    if not sep:
        raise UsageError(f"{where} {word!r}: not KEY=VALUE")
    return key, value


def _from_cli(option: Option, raw: Any) -> Any:
    where = option.flag
    if option.type in (Type.LIST, Type.PAIRS) and isinstance(raw, str):
        raw = [raw]  # one value given programmatically
    if option.type is Type.LIST:
        return tuple(part for item in raw for part in _split(item, ","))
    if option.type is Type.PAIRS:
        return tuple(_pair(item, where) for item in raw)
    if option.type is Type.ARGV:
        return _argv(raw, where)
    return raw  # TEXT, or FLAG from BooleanOptionalAction


def _from_env(option: Option, text: str) -> Any:
    where = option.env
    if option.type is Type.FLAG:
        return _bool(text, where)
    if option.type is Type.LIST:
        return _split(text, option.separator)
    if option.type is Type.PAIRS:
        return tuple(_pair(line, where) for line in text.splitlines() if line)
    if option.type is Type.ARGV:
        return _argv(text, where)
    return text


def _from_toml(option: Option, value: Any, project_dir: Path | None) -> Any:
    where = f"{TOOL_TABLE} {option.toml_key}"

    def wrong() -> UsageError:
        return UsageError(f"{where} has the wrong type ({type(value).__name__}); "
                          f"expected {_expected(option.type)}")

    if option.type is Type.FLAG:
        if not isinstance(value, bool):
            raise wrong()
        return value
    if option.type is Type.TEXT:
        if not isinstance(value, str):
            raise wrong()
        return value
    if option.type is Type.ARGV:
        if isinstance(value, str):
            return _argv(value, where)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise wrong()
    if option.type in (Type.SIZE, Type.COUNT):
        if not _word(value) or (option.type is Type.COUNT and not isinstance(value, int)):
            raise wrong()
        return str(value)
    if option.type is Type.PAIRS:
        if not isinstance(value, dict) or not all(
            isinstance(v, str | int | float | bool) for v in value.values()
        ):
            raise wrong()
        return tuple((str(k), _toml_text(v)) for k, v in value.items())
    # LIST
    if _word(value):
        items: tuple[str, ...] = _split(str(value), ",")
    elif isinstance(value, list) and all(_word(v) for v in value):
        items = tuple(str(v) for v in value)
    else:
        raise wrong()
    if option.relative_to_project and project_dir is not None:
        items = tuple(_project_path(where, project_dir, item) for item in items)
    return items


def _word(value: Any) -> bool:
    """A list's item in TOML: a string or an integer (a port), not a boolean."""
    return isinstance(value, str | int) and not isinstance(value, bool)


def _project_path(where: str, project_dir: Path, item: str) -> str:
    """ITEM as a file of the project when it names one (a path or a tarball's name),
    refused when it leads out of the project; anything else (a version) as it is."""
    if "/" not in item and not item.endswith((".tar.xz", ".tar.gz", ".tgz")):
        return item
    try:
        found = project_file(project_dir, item)
    except UsageError as exc:
        raise UsageError(f"{where} {exc}") from None
    if found is None:
        raise UsageError(f"{where} {item!r}: no such file in the project")
    return str(found)


def _toml_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expected(kind: Type) -> str:
    return {
        Type.TEXT: "a string", Type.FLAG: "true or false",
        Type.LIST: "a string or a list of strings",
        Type.ARGV: "a string or a list of strings", Type.PAIRS: "a table of strings",
        Type.SIZE: "a string such as \"200MB\", or an integer of bytes",
        Type.COUNT: "an integer",
    }[kind]


# -- from values to the options each layer works from ----------------------------------


def check_bolt(distro: Distro, quick: bool, bolt: bool) -> bool:
    if bolt and quick:
        raise UsageError("--bolt optimizes the release build: it cannot go with --quick")
    if bolt and not distro.bolt:
        raise UsageError(f"--bolt: no llvm-bolt known to work on {distro.name} "
                         f"(known on: {', '.join(d for d in DISTROS if DISTROS[d].bolt)})")
    return bolt


def family_options(values: Values) -> FamilyOptions:
    """The family's options; files named are checked to exist (their sha256 is checked
    when they are used)."""
    distro = get_distro(values["distro"])
    routes = parse_routes(values["route"])
    for minor, route in routes.items():
        check_route(distro, minor, route)
    for tarball in local_tarballs(values["cpython"]):
        if not tarball.is_file():
            raise UsageError(f"CPython tarball not found: {tarball}")
    chosen, files = parse_releases(values["cpython"])
    redact.register_url(values["index-url"])
    redact.register_url(values["cpython-mirror"])
    certs = tuple(Path(p) for p in values["ca-certs"])
    for cert in certs:
        if not cert.is_file():
            raise UsageError(f"CA certificate file not found: {cert}")
    return FamilyOptions(
        distro=distro,
        minors=parse_minors(values["minors"]),
        routes=routes,
        releases=chosen,
        tarballs=files,
        namespace=values["namespace"],
        registry=values["registry"],
        quick=bool(values.get("quick")),
        bolt=check_bolt(distro, bool(values.get("quick")), bool(values.get("bolt"))),
        cpython_mirror=values["cpython-mirror"],
        root_image=values["root-image"],
        network=NetworkOptions(certs, values["index-url"] or None, auth_conf()),
    )


def pack_options(values: Values, project: Project) -> PackOptions:
    """pack's options, each value checked; the default tag is the project's name."""
    tags = pack.check_tags(values["tag"] or (f"{project.image_name}:latest",))
    return PackOptions(
        project=project,
        family=family_options(values),
        tags=tags,
        python=values["python"],
        installer=pack.check_installer(values["installer"]),
        pillow=bool(values["pillow"]),
        venv_path=pack.check_path("--venv-path", values["venv-path"]),
        keep_pip=bool(values["keep-pip"]),
        apt=pack.check_apt(values["apt"]),
        build_apt=pack.check_apt(values["build-apt"], "--build-apt"),
        entrypoint=pack.check_words(values["entrypoint"] or None, "--entrypoint"),
        cmd=pack.check_words(values["cmd"] or None, "--cmd"),
        user=pack.check_user(values["user"]),
        workdir=pack.check_path("--workdir", values["workdir"]),
        extras=pack.check_extras(values["extras"]),
        ignore_missing_libs=pack.check_sonames(values["ignore-missing-libs"]),
        minors_given=values.given("minors"),
        cache=bool(values["cache"]),
        env=pack.check_env(values["env"]),
        volumes=pack.check_volumes(values["volume"]),
        ports=pack.check_ports(values["port"]),
        healthcheck=pack.check_healthcheck(values["healthcheck"]),
        tags_given=bool(values["tag"]),
        distroless=bool(values["distroless"]),
        distroless_keep=pack.check_distroless_keep(values["distroless-keep"]),
        budgets=pack.Budgets(
            size=pack.check_size("--max-size", values["max-size"]),
            compressed_size=pack.check_size("--max-compressed-size",
                                            values["max-compressed-size"]),
            system_packages=pack.check_count("--max-system-packages",
                                             values["max-system-packages"]),
        ),
    )


def platforms_of(values: Values) -> tuple[Platform, ...]:
    """The platforms asked for (default: this machine's), each checked to run here."""
    chosen = parse_platforms(",".join(values["platform"])) if values["platform"] \
        else (native_platform(),)
    check_runnable(chosen)
    return chosen


def family_from(cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                command: str = LIST) -> FamilyOptions:
    """Shorthand for tests, benches and recipes: the family from a few values."""
    return family_options(read(command, cli or {}, env={} if env is None else env))


# -- the README's option reference ----------------------------------------------------

_COMMAND_ORDER = (LIST, DOCKERFILE, BUILD, PUSH, DIFF, MATRIX, MERGE, BOOTSTRAP, PACK, SBOM,
                  VERIFY)


def reference_markdown(commands: Iterable[str] = _COMMAND_ORDER) -> str:
    """The option table as Markdown, for the README (a test keeps them equal)."""
    order = list(commands)
    rows = ["| option | environment | `[tool.snakepacker]` | commands | what it does |",
            "|---|---|---|---|---|"]
    for option in OPTIONS:
        flag = f"`{option.short}`, `{option.flag}`" if option.short else f"`{option.flag}`"
        key = f"`{option.toml_key}`" if option.toml_key and PACK in option.commands else "-"
        used = ", ".join(c for c in order if c in option.commands)
        default = f" (default `{_show(option.default)}`)" if option.default not in (
            None, False) else ""
        rows.append(f"| {flag} | `{option.env}` | {key} | {used} | {option.help}{default} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")

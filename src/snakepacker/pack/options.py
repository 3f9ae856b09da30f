"""`pack`'s options, read once from [tool.snakepacker] and the command line.

The command line wins over the project's pyproject.toml, as in cibuildwheel; the
family options (minors, distro, namespace, index, CAs) keep their order: command line,
then SNAKEPACKER_* in the environment, then pyproject.toml. Everything downstream works
from one frozen ``PackOptions``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snakepacker.errors import UsageError
from snakepacker.options import ENV_PREFIX, FamilyOptions
from snakepacker.pack.project import Project

DEFAULT_VENV = "/usr/share/python3/app"
DEFAULT_WORKDIR = "/app"
DEFAULT_USER = "app"
INSTALLERS = ("uv", "pip")

# [tool.snakepacker] keys pack reads, and the type each must have.
_PACK_KEYS: dict[str, type | tuple[type, ...]] = {
    "tag": (str, list),
    "python": str,
    "installer": str,
    "pillow": bool,
    "venv-path": str,
    "keep-pip": bool,
    "apt": (str, list),
    "entrypoint": (str, list),
    "cmd": (str, list),
    "user": str,
    "workdir": str,
    "extras": (str, list),
    "requirements": str,  # read by project.py
    "env": dict,
    "volume": (str, list),
    "port": (int, list),
}
# Family options that may also live there (command line and environment win).
_FAMILY_KEYS: dict[str, str] = {
    "distro": "distro",
    "minors": "minors",
    "route": "route",
    "namespace": "namespace",
    "index-url": "index_url",
    "ca-certs": "ca_cert",
}


@dataclass(frozen=True)
class PackOptions:
    project: Project
    family: FamilyOptions
    tags: tuple[str, ...]
    python: str | None  # None: the newest minor requires-python allows
    installer: str
    pillow: bool
    venv_path: str
    keep_pip: bool
    apt: tuple[str, ...]
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    user: str
    workdir: str
    extras: tuple[str, ...]
    minors_given: bool  # the family's minors were named (else: those built locally)
    env: tuple[tuple[str, str], ...] = ()  # ENV of the final image
    volumes: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()


def check_tool_table(tool: Mapping[str, Any], where: str = "[tool.snakepacker]") -> dict:
    """TOOL with dashed keys, checked: an unknown key or a wrong type is an error."""
    checked: dict[str, Any] = {}
    for raw, value in tool.items():
        key = raw.replace("_", "-")
        expected = _PACK_KEYS.get(key) or (str if key in _FAMILY_KEYS else None)
        if key in ("ca-certs", "minors", "route") and expected is str:
            expected = (str, list)
        if expected is None:
            known = ", ".join(sorted([*_PACK_KEYS, *_FAMILY_KEYS]))
            raise UsageError(f"{where}: unknown key {raw!r} (known: {known})")
        if not isinstance(value, expected):
            raise UsageError(f"{where}: {raw} has the wrong type ({type(value).__name__})")
        checked[key] = value
    return checked


def _words(value: str | list | None) -> tuple[str, ...] | None:
    """An argv from a string (split like a shell) or a list."""
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    try:
        words = tuple(shlex.split(value))
    except ValueError as exc:
        raise UsageError(f"cannot split {value!r}: {exc}") from None
    return words or None


def _names(value: str | list | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else re.split(r"[\s,]+", value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def merge(
    args: argparse.Namespace, project: Project, env: Mapping[str, str] | None = None
) -> PackOptions:
    env = os.environ if env is None else env
    tool = check_tool_table(project.tool)

    def pick(dest: str, key: str) -> Any:
        value = getattr(args, dest, None)
        if value is None or value == []:
            return tool.get(key)
        return value

    # Family options: fill what neither the command line nor the environment set.
    fam_args = argparse.Namespace(**vars(args))
    for key, dest in _FAMILY_KEYS.items():
        if key not in tool or getattr(args, dest, None):
            continue
        env_name = ENV_PREFIX + ("CA_CERTS" if dest == "ca_cert" else dest.upper())
        if env.get(env_name):
            continue
        value = tool[key]
        if dest == "ca_cert":
            root = project.root or Path.cwd()
            value = [str(root / p) for p in _names(value)]
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        setattr(fam_args, dest, value)
    family = FamilyOptions.from_args(fam_args, env)
    minors_given = bool(getattr(fam_args, "minors", None) or env.get(ENV_PREFIX + "MINORS"))

    installer = pick("installer", "installer") or "uv"
    if installer not in INSTALLERS:
        raise UsageError(f"unknown installer {installer!r} (choose: {', '.join(INSTALLERS)})")
    venv_path = pick("venv_path", "venv-path") or DEFAULT_VENV
    workdir = pick("workdir", "workdir") or DEFAULT_WORKDIR
    for what, path in (("--venv-path", venv_path), ("--workdir", workdir)):
        if not path.startswith("/") or re.search(r"[\s'\"$`\\]", path):
            raise UsageError(f"{what} must be an absolute path without spaces or quotes: "
                             f"{path!r}")
    user = pick("user", "user") or DEFAULT_USER
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}|[0-9]+(:[0-9]+)?", user):
        raise UsageError(f"--user {user!r}: not a user name or uid")
    apt = _names(pick("apt", "apt"))
    for package in apt:
        if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?", package):
            raise UsageError(f"--apt {package!r}: not a Debian package name")
    tags = _names(pick("tag", "tag")) or (f"{project.image_name}:latest",)
    env = _env(pick("env", "env"))
    volumes = _names(pick("volume", "volume"))
    for volume in volumes:
        if not volume.startswith("/") or re.search(r"[\s'\"$`\\]", volume):
            raise UsageError(f"--volume {volume!r}: not an absolute path")
    ports = _ports(pick("port", "port"))
    return PackOptions(
        project=project,
        family=family,
        tags=tags,
        python=pick("python", "python"),
        installer=installer,
        pillow=bool(pick("pillow", "pillow")),
        venv_path=venv_path.rstrip("/") or DEFAULT_VENV,
        keep_pip=bool(pick("keep_pip", "keep-pip")),
        apt=apt,
        entrypoint=_words(pick("entrypoint", "entrypoint")),
        cmd=_words(pick("cmd", "cmd")),
        user=user,
        workdir=workdir,
        extras=_names(pick("extras", "extras")),
        minors_given=minors_given,
        env=env,
        volumes=volumes,
        ports=ports,
    )


def _env(value: list | dict | None) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE words (command line) or a table (pyproject.toml)."""
    if not value:
        return ()
    items = value.items() if isinstance(value, dict) else (
        word.partition("=")[::2] for word in value
    )
    pairs = tuple((str(k), str(v)) for k, v in items)
    for key, _ in pairs:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"--env {key!r}: not a variable name (KEY=VALUE)")
    return pairs


def _ports(value: int | list | str | None) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    ports: list[int] = []
    for item in items:
        text = str(item)
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise UsageError(f"--port {text!r}: not a TCP port (1-65535)")
        ports.append(int(text))
    return tuple(ports)

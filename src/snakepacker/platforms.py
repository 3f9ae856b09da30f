"""The platforms the family is built for, as data, and whether this machine can run them.

One platform has three names that different tools want: the OCI one the engine and
registries use (``linux/arm64``), the Debian architecture mmdebstrap and apt use
(``arm64``), and the machine name the kernel reports (``uname -m``: ``aarch64``).
Keeping the three together in one table means no call site translates by hand.

A foreign platform runs here only through a qemu handler registered in binfmt_misc;
``can_run`` reads /proc to say so before a long build fails half-way with a bare
``exec format error``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from snakepacker.errors import UsageError

BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True)
class Platform:
    name: str  # as the engine and registries spell it: linux/arm64
    os: str  # the "os" field of an image config and a manifest list entry
    architecture: str  # the "architecture" field
    variant: str  # the "variant" field ("" when the platform has none)
    debian_arch: str  # mmdebstrap --arch, dpkg --print-architecture
    machine: str  # uname -m inside a container of this platform
    qemu: str  # the qemu user-mode emulator's suffix, as its binfmt handler is named

    @property
    def binfmt_handler(self) -> str:
        return f"qemu-{self.qemu}"

    @property
    def suffix(self) -> str:
        """A tag-safe short name: arm64, armv7."""
        return self.architecture + self.variant


PLATFORMS = {
    p.name: p
    for p in (
        Platform("linux/amd64", "linux", "amd64", "", "amd64", "x86_64", "x86_64"),
        Platform("linux/arm64", "linux", "arm64", "", "arm64", "aarch64", "aarch64"),
        Platform("linux/arm/v7", "linux", "arm", "v7", "armhf", "armv7l", "arm"),
    )
}
# Other spellings engines accept for the same platforms.
_ALIASES = {
    "linux/arm64/v8": "linux/arm64",
    "linux/x86_64": "linux/amd64",
    "linux/aarch64": "linux/arm64",
    "linux/armhf": "linux/arm/v7",
}
# The kernel's machine name -> our platform, for finding the native one.
_BY_MACHINE = {p.machine: p for p in PLATFORMS.values()}
_BY_MACHINE["armv8l"] = PLATFORMS["linux/arm/v7"]  # a 32-bit userland on a 64-bit kernel


def get_platform(name: str) -> Platform:
    """The platform NAME names; UsageError with a suggestion when it names none."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in PLATFORMS:
        return PLATFORMS[key]
    if not key.startswith("linux/"):  # "arm64" for "linux/arm64"
        qualified = _ALIASES.get(f"linux/{key}", f"linux/{key}")
        if qualified in PLATFORMS:
            return PLATFORMS[qualified]
    known = list(PLATFORMS)
    close = difflib.get_close_matches(key, known + list(_ALIASES), n=1, cutoff=0.5)
    hint = f"; did you mean {_ALIASES.get(close[0], close[0])}?" if close else ""
    raise UsageError(f"unknown platform {name!r} (known: {', '.join(known)}){hint}")


def parse_platforms(value: str) -> tuple[Platform, ...]:
    """A --platform value: comma-separated names, in order, each once."""
    names = [part for part in (p.strip() for p in value.split(",")) if part]
    if not names:
        raise UsageError("--platform needs at least one platform, e.g. linux/amd64,linux/arm64")
    chosen: list[Platform] = []
    for name in names:
        platform = get_platform(name)
        if platform in chosen:
            raise UsageError(f"platform {platform.name} is given twice")
        chosen.append(platform)
    return tuple(chosen)


def native_platform(machine: str | None = None) -> Platform:
    """The platform this machine runs without emulation."""
    machine = machine or os.uname().machine
    try:
        return _BY_MACHINE[machine]
    except KeyError:
        raise UsageError(f"this machine ({machine}) is not one the family is built on") from None


def binfmt_problem(platform: Platform, binfmt_dir: Path | None = None) -> str | None:
    """Why binfmt_misc in BINFMT_DIR would not run PLATFORM's binaries, or None if it would."""
    binfmt_dir = binfmt_dir or BINFMT_MISC
    if not (binfmt_dir / "register").exists():
        return f"binfmt_misc is not mounted at {binfmt_dir}"
    status = binfmt_dir / "status"
    if status.exists() and status.read_text().strip() != "enabled":
        return "binfmt_misc is disabled"
    entry = binfmt_dir / platform.binfmt_handler
    if not entry.exists():
        return f"no {platform.binfmt_handler} handler in binfmt_misc"
    fields = _binfmt_entry(entry.read_text())
    if fields.get("state") != "enabled":
        return f"the {platform.binfmt_handler} handler in binfmt_misc is disabled"
    # Inside a container the interpreter's path means nothing unless the kernel opened
    # it at registration (the F flag): without it, emulated builds fail to exec.
    if "F" not in fields.get("flags", ""):
        interpreter = fields.get("interpreter", "?")
        return (f"the {platform.binfmt_handler} handler lacks the F flag, so containers "
                f"cannot reach its interpreter {interpreter}")
    return None


def can_run(platform: Platform, native: Platform | None = None,
            binfmt_dir: Path | None = None) -> tuple[bool, str]:
    """Whether containers of PLATFORM run here, and a sentence saying why or why not."""
    native = native or native_platform()
    if platform == native:
        return True, f"{platform.name} is this machine's own platform"
    problem = binfmt_problem(platform, binfmt_dir)
    if problem is None:
        return True, f"{platform.name} runs under qemu ({platform.binfmt_handler} in binfmt_misc)"
    return False, (f"{platform.name} cannot run here: {problem}; "
                   "run scripts/setup or install qemu-user-static")


def check_runnable(platforms: tuple[Platform, ...]) -> None:
    """UsageError naming the first platform that cannot run here."""
    for platform in platforms:
        ok, why = can_run(platform)
        if not ok:
            raise UsageError(why)


def _binfmt_entry(text: str) -> dict[str, str]:
    """A binfmt_misc entry's lines: its first line is the state, then 'key value' lines."""
    lines = text.splitlines()
    fields = {"state": lines[0].strip() if lines else ""}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    return fields

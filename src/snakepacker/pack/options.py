"""What `pack` is told: ``PackOptions``, and the checks on each of its values.

The values themselves are read once, in one order, by the options table
(``snakepacker.options``); this module says what a valid value is and holds the frozen
result that everything downstream works from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from snakepacker.errors import UsageError
from snakepacker.family.options import FamilyOptions
from snakepacker.pack.installer import INSTALLERS
from snakepacker.pack.project import Project

DEFAULT_VENV = "/usr/share/python3/app"
DEFAULT_WORKDIR = "/app"
DEFAULT_USER = "app"
# The interpreter's extension modules that --distroless leaves out unless kept: they
# serve terminals (line editing, curses) or legacy databases and password schemes
# (dbm, gdbm, NIS, crypt), and they alone pull in most of the interpreter's libraries
# (ncurses, readline, gdbm, and for nis the whole Kerberos and RPC stack).
DISTROLESS_LEFT_OUT = ("readline", "_curses", "_curses_panel", "_dbm", "_gdbm", "nis",
                       "_crypt", "_tkinter")

# A docker image reference: [host[:port]/]path[:tag]; lowercase path components.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?/)"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REFERENCE = re.compile(rf"{_HOST}?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?")
# A path in the image: absolute, made of components of letters, digits and ._+-, none
# of them . or ..: it goes into RUN steps, COPY, WORKDIR and VOLUME as it is.
_PATH = re.compile(r"/(?:[A-Za-z0-9_+.-]+/)*[A-Za-z0-9_+.-]*")


# A size: a number of bytes, or a number with a unit; the letters in any case ("mb").
# Without a unit a plain number is bytes. The schema of [tool.snakepacker] checks
# strings with this very pattern (it is ECMAScript as well as Python).
SIZE_PATTERN = r"^ *([0-9]+(?:\.[0-9]+)?) *([kKmMgGtT][iI]?[bB]|[bB])? *$"
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_UNIT_NAMES = {"kb": "kB", "kib": "KiB", "mb": "MB", "mib": "MiB", "gb": "GB", "gib": "GiB",
               "tb": "TB", "tib": "TiB"}


@dataclass(frozen=True)
class Size:
    """A size in bytes, with the unit it was given in: it is shown in that unit."""

    bytes: int
    unit: str = "MB"  # how to show it: MB when it was given in bytes

    def show(self, count: int | None = None) -> str:
        """COUNT bytes in this size's unit (to a tenth of a MB, a hundredth of a GB);
        without COUNT, the size itself as it was given (200 MB, 1.5 GiB). Less than a
        tenth of the unit is shown in bytes."""
        count = self.bytes if count is None else count
        value = count / _UNITS[self.unit.lower()]
        if value < 0.1:
            return f"{count} byte{'' if count == 1 else 's'}"
        if count == self.bytes:
            text = f"{value:.3f}".rstrip("0").rstrip(".")
        else:
            text = f"{value:.{2 if self.unit[0] in 'GT' else 1}f}"
        return f"{text} {self.unit}"


@dataclass(frozen=True)
class Budgets:
    """What a packed image may not exceed; None: no budget."""

    size: Size | None = None  # the image as the engine stores it, uncompressed
    compressed_size: Size | None = None  # its layers as a push sends them, gzip-compressed
    system_packages: int | None = None  # the system packages pack added to X.Y

    def __bool__(self) -> bool:
        return (self.size, self.compressed_size, self.system_packages) != (None, None, None)


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
    ignore_missing_libs: tuple[str, ...] = ()  # sonames find-libdeps lets pass
    cache: bool = True  # False: the engine builds every step again (--no-cache)
    build_apt: tuple[str, ...] = ()  # extra packages for the build stage
    healthcheck: int | None = None  # the port a HEALTHCHECK probes
    tags_given: bool = True  # False: `tags` is the default, from the project's name
    distroless: bool = False  # the final image FROM scratch, with only what the app needs
    distroless_keep: tuple[str, ...] = ()  # of DISTROLESS_LEFT_OUT, the modules kept
    budgets: Budgets = Budgets()  # checked before the image is tagged


def check_extras(extras: tuple[str, ...]) -> tuple[str, ...]:
    """Extras as PEP 685 names them (letters, digits, and -_. inside)."""
    for extra in extras:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", extra):
            raise UsageError(f"--extras {extra!r}: not an extra's name")
    return extras


def check_words(words: tuple[str, ...] | None, flag: str) -> tuple[str, ...] | None:
    """An ENTRYPOINT or CMD: words of one line each (they are also checked in a shell)."""
    for word in words or ():
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", word):
            raise UsageError(f"{flag} {word!r}: a line break or control character cannot go "
                             "into a Dockerfile")
    return words


def check_installer(name: str) -> str:
    if name not in INSTALLERS:
        raise UsageError(f"unknown installer {name!r} (choose: {', '.join(INSTALLERS)})")
    return name


def check_path(what: str, path: str) -> str:
    """PATH when it is an absolute path of plain components (letters, digits, ._+-;
    no . or .. component); UsageError otherwise."""
    if not _PATH.fullmatch(path) or any(part in (".", "..") for part in path.split("/")):
        raise UsageError(f"{what} {path!r}: not an absolute path of letters, digits and "
                         "._+- (no spaces, quotes, shell characters or ..)")
    return path.rstrip("/") or "/"


def check_user(user: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}|[0-9]+(:[0-9]+)?", user):
        raise UsageError(f"--user {user!r}: not a user name or uid")
    return user


def check_apt(packages: tuple[str, ...], flag: str = "--apt") -> tuple[str, ...]:
    for package in packages:
        if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?", package):
            raise UsageError(f"{flag} {package!r}: not a Debian package name")
    return packages


def check_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Every tag is a valid image reference, checked before anything is built."""
    for tag in tags:
        if len(tag) > 255 or not _REFERENCE.fullmatch(tag):
            raise UsageError(f"-t {tag!r}: not a valid image name "
                             "([REGISTRY/]NAME[:TAG], lowercase name)")
    return tags


def check_env(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    for key, _ in pairs:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"--env {key!r}: not a variable name (KEY=VALUE)")
    return pairs


def check_volumes(volumes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(check_path("--volume", volume) for volume in volumes)


def check_sonames(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", name):
            raise UsageError(f"--ignore-missing-libs {name!r}: not a library's soname "
                             "(e.g. libGL.so.1)")
    return names


def check_distroless_keep(names: tuple[str, ...]) -> tuple[str, ...]:
    """The modules of DISTROLESS_LEFT_OUT to keep; "all" names every one."""
    if "all" in names:
        return DISTROLESS_LEFT_OUT
    for name in names:
        if name not in DISTROLESS_LEFT_OUT:
            raise UsageError(f"--distroless-keep {name!r}: not a module --distroless leaves "
                             f"out (those are {', '.join(DISTROLESS_LEFT_OUT)}, or all)")
    return tuple(sorted(set(names), key=DISTROLESS_LEFT_OUT.index))


def check_healthcheck(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    text = str(text)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"--healthcheck {text!r}: not a TCP port (1-65535)")
    return int(text)


def check_ports(items: tuple[str, ...]) -> tuple[int, ...]:
    ports: list[int] = []
    for text in items:
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise UsageError(f"--port {text!r}: not a TCP port (1-65535)")
        ports.append(int(text))
    return tuple(ports)


def check_size(flag: str, text: str | None) -> Size | None:
    """A size budget: 200MB, 1.5 GiB, 80mb or a number of bytes; None when not given."""
    if text is None or text == "":
        return None
    match = re.fullmatch(SIZE_PATTERN, text)
    if match is None:
        raise UsageError(f"{flag} {text!r}: not a size (a number of bytes, or a number with "
                         "a unit: kB, MB, GB, TB or KiB, MiB, GiB, TiB)")
    unit = (match.group(2) or "").lower()
    count = int(Decimal(match.group(1)) * _UNITS[unit])
    if count < 1:
        raise UsageError(f"{flag} {text!r}: a size budget must be at least one byte")
    return Size(count, _UNIT_NAMES.get(unit, "MB"))


def check_count(flag: str, text: str | None) -> int | None:
    """A budget of things counted (0 or more); None when not given."""
    if text is None or text == "":
        return None
    if not text.strip().isdigit():
        raise UsageError(f"{flag} {text!r}: not a whole number (0 or more)")
    return int(text.strip())

"""The Python tools `all` and `all-pillow` install, pinned with their hashes, per minor.

`all` carries pip, setuptools, wheel, uv, build, cython, poetry and tox, and
`all-pillow` builds Pillow once to learn what it links against. Asking the index for
its newest of each at build time would put whatever it served that hour into images
that CI then signs, and two builds of one commit could differ. So each set of tools is
data: its full closure, every file's sha256 beside each version, resolved ahead of time
by scripts/refresh-pins (a real resolver, once per minor, as older minors need older
releases). A build renders the files into its context and installs them with
--require-hashes --no-deps: a file whose hash is not listed, or a dependency the pins
do not name, stops it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from snakepacker.errors import UsageError
from snakepacker.family.cpython import GIL_MINORS, base_minor, minor_key

PINS_DIR = Path(__file__).resolve().parents[1] / "data" / "tools"

# uv, and so the installer and everything installed after it, needs 3.8 or newer.
TOOLS_SINCE = "3.8"
TOOL_MINORS: tuple[str, ...] = tuple(
    m for m in GIL_MINORS if minor_key(m) >= minor_key(TOOLS_SINCE))


@dataclass(frozen=True)
class ToolSet:
    """One environment's worth of tools: what the refresh resolves, for which minors."""

    name: str
    requirements: tuple[str, ...]  # the top of the closure the file lists
    minors: tuple[str, ...]
    about: str  # where the set goes, for the file's header


PYTHON = ToolSet("python", ("pip", "setuptools", "wheel"), GIL_MINORS,
                 "each Python's own pip, setuptools and wheel in `all`")
INSTALLER = ToolSet("installer", ("pip", "setuptools", "wheel", "uv", "build"), TOOL_MINORS,
                    "the installer's venv in `all`, made with its newest Python")
# The build stage's tools that upstream's `all` carries, each in its own venv made with
# the newest Python, and the commands of each linked into /usr/local/bin.
BUILD_STAGE_TOOLS: dict[str, tuple[str, ...]] = {
    "cython": ("cygdb", "cython", "cythonize"),
    "poetry": ("poetry",),
    "tox": ("tox",),
}
TOOLS = tuple(ToolSet(name, (name,), TOOL_MINORS, f"{name}'s own venv in `all`")
              for name in BUILD_STAGE_TOOLS)
# all-pillow's probe builds Pillow from its sdist without build isolation, so its build
# requirements (its pyproject's build-system.requires) come pinned too.
PILLOW_BUILD = ToolSet("pillow-build", ("pybind11", "setuptools"), TOOL_MINORS,
                       "what all-pillow's probe builds Pillow with")
PILLOW = ToolSet("pillow", ("pillow",), TOOL_MINORS, "the Pillow all-pillow's probe builds")

SETS: tuple[ToolSet, ...] = (PYTHON, INSTALLER, *TOOLS, PILLOW_BUILD, PILLOW)
# The sets each template installs with the newest Python (PYTHON goes to every one).
TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "all": (INSTALLER.name, *BUILD_STAGE_TOOLS),
    "all-pillow": (PILLOW_BUILD.name, PILLOW.name),
}


def get_set(name: str) -> ToolSet:
    return next(s for s in SETS if s.name == name)


def pin_path(name: str, minor: str) -> Path:
    """Where a set's pins for MINOR (3.13t: 3.13's) are kept."""
    return PINS_DIR / base_minor(minor) / f"{name}.txt"


def pin_file(name: str, minor: str) -> Path:
    """The pins a build installs; a minor the set is not resolved for is a usage error."""
    tools = get_set(name)
    if base_minor(minor) not in tools.minors:
        raise UsageError(
            f"{', '.join(tools.requirements)} cannot be installed with Python {minor} "
            f"(they need {tools.minors[0]} or newer): `all` installs its tools with its "
            f"newest Python, so add a newer one to --minors")
    return pin_path(name, minor)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Pin:
    name: str  # normalized (PEP 503)
    version: str
    marker: str  # "" when none
    hashes: tuple[str, ...]  # "sha256:<hex>"


_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)"
    r"\s*(?:;\s*(?P<marker>[^\\]*?))?$")
_HASH = re.compile(r"^--hash=(sha256:[0-9a-f]{64})$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> tuple[Pin, ...]:
    """A hashed requirements file as written by the refresh: each entry `name==version`
    (a marker may follow), then one or more `--hash=sha256:...`, nothing else. Anything
    else is a ValueError: the file is not a set of pins."""
    logical: list[str] = []
    continued = False
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if continued:
            logical[-1] += " " + line.removesuffix("\\").strip()
        elif line:
            logical.append(line.removesuffix("\\").strip())
        continued = line.endswith("\\")
    pins = []
    for entry in logical:
        head, *options = entry.split(" --")
        found = _REQUIREMENT.match(head.strip())
        hashes = [_HASH.match("--" + option.strip()) for option in options]
        if not found or not hashes or not all(hashes):
            raise ValueError(f"not a pinned, hashed requirement: {entry[:80]!r}")
        pins.append(Pin(normalize(found["name"]), found["version"],
                        (found["marker"] or "").strip(),
                        tuple(h[1] for h in hashes if h is not None)))
    return tuple(pins)

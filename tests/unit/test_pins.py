"""The pinned tools: the pins files are pins (every version exact, every file hashed),
there is one per set and minor, the family's build images install from them and from
nothing else, and CI installs snakepacker from its locks the same way."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from snakepacker.errors import UsageError
from snakepacker.family import pins
from snakepacker.family.images import Family
from snakepacker.images.render import PINS_CONTEXT, PINS_PREFIX, render_image
from snakepacker.options import family_from

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PINS_FILES = sorted(pins.PINS_DIR.glob("*/*.txt"))


def family(**values: object) -> Family:
    return Family(family_from(values))


# -- the files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PINS_FILES, *sorted(LOCKS.glob("*.txt"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_pins_exact_versions_with_their_hashes(path: Path) -> None:
    found = pins.parse_pins(path.read_text())
    assert found
    keys = [(p.name, p.marker) for p in found]
    assert len(keys) == len(set(keys))
    assert all(p.hashes for p in found)
    if path.is_relative_to(pins.PINS_DIR):  # resolved for Linux: nothing depends on more
        assert not [p for p in found if p.marker]


@pytest.mark.parametrize("text", [
    "pip>=24\n",  # a range
    "pip\n",  # the newest
    "pip==24.0\n",  # no hash
    "pip==24.0 \\\n    --hash=md5:0123\n",  # not sha256
    "pip==24.0 \\\n    --hash=sha256:abc\n",  # not a whole digest
    "-e .\n",
    "--index-url http://127.0.0.1:9/simple\n",
    "https://example.invalid/pip-24.0.tar.gz\n",
])
def test_anything_but_a_hashed_pin_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a pinned, hashed requirement"):
        pins.parse_pins(text)


def test_a_hashed_pin_reads_with_its_marker_and_every_hash() -> None:
    digest = "0" * 64
    text = (f"# a comment\nColorama==0.4.6 ; sys_platform == 'win32' \\\n"
            f"    --hash=sha256:{digest} \\\n    --hash=sha256:{'1' * 64}\n")
    (pin,) = pins.parse_pins(text)
    assert (pin.name, pin.version, pin.marker) == ("colorama", "0.4.6", "sys_platform == 'win32'")
    assert pin.hashes == (f"sha256:{digest}", f"sha256:{'1' * 64}")


def test_there_is_one_file_per_set_and_minor_and_each_holds_its_set() -> None:
    expected = {pins.pin_path(s.name, minor): s for s in pins.SETS for minor in s.minors}
    assert set(PINS_FILES) == set(expected)
    for path, tools in expected.items():
        names = {p.name for p in pins.parse_pins(path.read_text())}
        assert {pins.normalize(r) for r in tools.requirements} <= names, path
    # Older minors get older releases: the pins are per minor for a reason.
    oldest, newest = (pins.parse_pins(pins.pin_path("python", m).read_text())
                      for m in ("3.7", "3.14"))
    assert {p.name: p.version for p in oldest}["pip"] != {
        p.name: p.version for p in newest}["pip"]


# -- the family's build images ----------------------------------------------------------

INSTALL = re.compile(r"\b(pip|uv pip|uv tool)\b[^;]*\binstall\b")
PINNED = f"--require-hashes --no-deps -r {PINS_PREFIX}"
VARIANTS = [{}, {"distro": "noble"}, {"distro": "bookworm", "minors": "3.8,3.11"},
            {"minors": "3.12,3.13t", "route": "3.12=deadsnakes"}, {"minors": "3.14t"}]


def _commands(dockerfile: str) -> list[str]:
    """The shell commands of the RUN steps, one per entry."""
    return [c.strip() for c in dockerfile.replace("\\\n", " ").replace("\n", ";").split(";")]


@pytest.mark.parametrize("values", VARIANTS, ids=str)
def test_the_build_images_install_every_python_tool_from_the_pins(values: dict) -> None:
    fam = family(**values)
    sets: set[str] = set()
    for image in fam:
        if image.app is not None:  # app images are packed: pack's own locks
            continue
        rendered = render_image(fam, image)
        installs = [c for c in _commands(rendered.dockerfile) if INSTALL.search(c)]
        for command in installs:
            assert PINNED in command and "--upgrade" not in command, command
            assert "uv tool install" not in command
        sets |= {m[1] for m in re.finditer(
            rf"{PINS_PREFIX}([a-z-]+)-\d+\.\d+\.txt", "\n".join(installs))}
        assert not installs or image.template in ("all", "all-pillow"), image.name
    # Every set the pins keep is installed, and nothing else is.
    assert sets == {s.name for s in pins.SETS}


def test_the_context_carries_the_pins_each_step_checks() -> None:
    fam = family(minors="3.10,3.12,3.13t")
    for name in ("all", "all-pillow"):
        rendered = render_image(fam, fam.get(name))
        text = rendered.dockerfile
        checked = dict((path.removeprefix(PINS_PREFIX), digest) for digest, path in re.findall(
            rf"\b([0-9a-f]{{64}}) ({PINS_PREFIX}\S+)", text))
        carried = {rel.removeprefix(f"{PINS_CONTEXT}/"): source
                   for rel, source in rendered.files.items() if rel.startswith(PINS_CONTEXT)}
        assert set(checked) == set(carried)
        for file, digest in checked.items():
            assert pins.sha256(carried[file]) == digest
        # Each step that reads pins mounts each file it reads (a file: a directory would
        # stay behind in the image) and checks them before anything else.
        for step in text.split("\nRUN ")[1:]:
            for file in set(re.findall(rf"{PINS_PREFIX}(\S+\.txt)", step)):
                mount = f"--mount=type=bind,source={PINS_CONTEXT}/{file},target={PINS_PREFIX}{file}"
                assert mount in step.split("set -eu;")[0]
            if PINS_PREFIX in step:
                assert step.index("sha256sum -c --strict") < step.index(" install ")
    files = render_image(fam, fam.get("all")).files
    assert files["pins/python-3.13.txt"] == pins.pin_path("python", "3.13")  # 3.13t's
    assert files["pins/installer-3.12.txt"] == pins.pin_path("installer", "3.12")
    assert "pins/installer-3.13.txt" not in files  # the tools run on the newest GIL build


def test_all_needs_a_newest_python_its_tools_can_be_installed_with() -> None:
    fam = family(minors="3.7")
    assert "python3.7" in render_image(fam, fam.get("3.7")).dockerfile
    with pytest.raises(UsageError, match=r"cannot be installed with Python 3\.7 .*--minors"):
        render_image(fam, fam.get("all"))
    fam = family(minors="3.7,3.8")
    assert f"{PINNED}python-3.7.txt" in render_image(fam, fam.get("all")).dockerfile


# -- CI's own install -------------------------------------------------------------------

PIP_INSTALL = re.compile(r"\bpip install\b[^\n]*")


@pytest.mark.parametrize("path", [*sorted((ROOT / ".github" / "workflows").glob("*.yml")),
                                  *sorted((ROOT / "scripts").iterdir())],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_ci_installs_snakepacker_from_its_locks(path: Path) -> None:
    text = path.read_text().replace("\\\n", " ")  # continued lines joined
    commands = PIP_INSTALL.findall(text)
    assert commands or path.name not in ("setup", "images.yml")
    for command in commands:
        locked = re.search(r"--require-hashes --no-deps\s+-r (requirements/\S+)", command)
        if locked:
            assert (ROOT / locked[1]).is_file()
        else:  # snakepacker itself, built by the locked setuptools and taking nothing more
            assert "--no-deps --no-build-isolation" in command, command


def test_the_locks_satisfy_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    run = project["build-system"]["requires"] + project["project"]["dependencies"]
    test = run + project["project"]["optional-dependencies"]["test"]
    for lock, wanted in (("run.txt", run), ("test.txt", test)):
        locked = {p.name: p.version for p in pins.parse_pins((LOCKS / lock).read_text())}
        for line in wanted:
            requirement = Requirement(line)
            name = pins.normalize(requirement.name)
            assert name in locked, (lock, name)
            assert requirement.specifier.contains(locked[name], prereleases=True), (lock, line)


def test_the_refresh_script_runs() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh-pins"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--check" in proc.stdout, proc.stderr

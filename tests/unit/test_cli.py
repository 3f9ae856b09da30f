"""The command line: listing, printing Dockerfiles, and bad input."""

from __future__ import annotations

import json
import os

import pytest

from snakepacker.cli import images_list
from snakepacker.cli.main import main
from snakepacker.engine.fake import FakeEngine
from snakepacker.errors import EngineError
from snakepacker.family.cpython import MINORS
from tests.helpers import APT_RUN, cli_with, snakepacker

# What `images list` sees on the fake engine: base and 3.12 built, nothing else.
BUILT = {"snakepacker/python:base": "sha256:base", "snakepacker/python:3.12": "sha256:py"}
SIZES = {"sha256:base": 84_321_000, "sha256:py": 128_765_432}
APPS_312 = {"pylama", "ipython", "certbot", "black", "gray", "ruff", "jupyterlab",
            "ruff-distroless", "black-distroless", "uv"}
ON_312 = {"base", "3.12", "all", "all-pillow", "3.12-pillow", *APPS_312}  # --minors 3.12


@pytest.fixture(autouse=True)
def no_settings_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """The listings below are the defaults': no SNAKEPACKER_* of whoever runs the tests."""
    for name in [name for name in os.environ if name.startswith("SNAKEPACKER_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The engine `images list` asks for sizes: the fake, so no real one is touched."""
    fake = FakeEngine(images=dict(BUILT), sizes=dict(SIZES))
    monkeypatch.setattr(images_list, "engine_of", lambda _values: fake)
    return fake


def list_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, dict]:
    assert main(["images", "list", "--json", *argv]) == 0
    return {row["tag"]: row for row in json.loads(capsys.readouterr().out)}


def test_images_list_json_has_one_row_per_tag(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list_json(capsys, "--minors", "3.12")
    assert set(rows) == ON_312
    assert rows["jupyterlab"]["kind"] == "app" and rows["jupyterlab"]["from"] == "3.12-pillow"
    assert rows["3.12-pillow"]["kind"] == "target" and rows["3.12-pillow"]["from"] == "3.12"
    assert rows["3.12-pillow"]["python"] == "3.12"
    assert rows["all"]["names"] == ["ghcr.io/snakepacker/python/all",
                                    "ghcr.io/snakepacker/python:all", "snakepacker/python:all"]
    assert rows["base"]["from"] == "ubuntu:jammy (root)"


def test_images_list_gives_the_engines_size_of_built_images_only(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A built image's size is what the engine says for its local name, in bytes; an
    image that is not built has none (null in JSON, "-" in the table)."""
    rows = list_json(capsys, "--minors", "3.12")
    assert {tag: row["size"] for tag, row in rows.items() if row["size"] is not None} == {
        "base": 84_321_000, "3.12": 128_765_432}
    assert rows["all"]["size"] is None and rows["3.12-pillow"]["size"] is None
    asked = [ref for (ref,) in engine.called("image_size")]
    assert asked == [f"snakepacker/python:{tag}" for tag in rows]  # by local name
    assert main(["images", "list", "--minors", "3.12"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    start, end = header.index("SIZE"), header.index("NAMES")
    column = {line.split()[0]: line[start:end].strip() for line in lines}
    assert column == {tag: "-" for tag in ON_312} | {"base": "84.3 MB", "3.12": "128.8 MB"}


def test_images_list_without_an_engine_lists_every_image_without_sizes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_engine(_values: object) -> FakeEngine:
        raise EngineError("the Docker daemon is not running")

    monkeypatch.setattr(images_list, "engine_of", no_engine)
    rows = list_json(capsys, "--minors", "3.12")
    assert set(rows) == ON_312 and all(row["size"] is None for row in rows.values())


def test_images_list_table_has_a_header_and_every_tag(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["images", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["TAG", "KIND", "FROM", "PYTHON", "SIZE"]
    assert len(lines) == 1 + 3 + 2 * len(MINORS) + 11


def test_images_dockerfile_prints_the_rendered_file() -> None:
    out = snakepacker("images", "dockerfile", "3.13", "--distro", "trixie", check=True).stdout
    names = ("ghcr.io/snakepacker/python/3.13-trixie, ghcr.io/snakepacker/python:3.13-trixie, "
             "snakepacker/python:3.13-trixie")
    assert out.startswith(f"# {names}\n")
    assert f"{APT_RUN} python3 python3.13" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("images", "dockerfile", "2.7"), "unknown image tag '2.7'"),
        (("images", "list", "--minors", "3.15"), "unknown Python minor '3.15'"),
        (("images", "build", "3.12", "--cpython", "3.12.1"), "no known CPython tarball"),
        (("images", "build"), "name the tags to build, or --all"),
        (("images", "build", "nope"), "unknown image tag 'nope'"),
        (("images", "build", "3.12", "--ca-cert", "/nonexistent.pem"),
         "CA certificate file not found"),
        (("images", "build", "3.12", "--cpython", "/nonexistent/Python-3.12.3.tar.xz"),
         "CPython tarball not found"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(args: tuple[str, ...], message: str) -> None:
    proc = snakepacker(*args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert proc.stderr.startswith("snakepacker: error: ")
    assert "Traceback" not in proc.stderr


def test_unknown_distro_is_one_line_from_any_source() -> None:
    for proc in (snakepacker("bootstrap", "hardy"),
                 snakepacker("images", "list", "--distro", "hardy"),
                 cli_with({"SNAKEPACKER_DISTRO": "hardy"}, "images", "list")):
        assert proc.returncode == 2
        assert proc.stderr.startswith("snakepacker: error: unknown distro 'hardy'")
        assert proc.stderr.count("\n") == 1


def test_usage_errors_are_one_line_with_exit_2() -> None:
    for argv in (("images", "build", "--nope"), ("pack",), ("images",), ("frobnicate",)):
        proc = snakepacker(*argv)
        assert proc.returncode == 2, argv
        assert proc.stderr.startswith("snakepacker: error: ") and proc.stderr.count("\n") == 1


def test_help_names_every_command() -> None:
    out = snakepacker("--help", check=True).stdout
    for command in ("images", "bootstrap", "pack"):
        assert command in out
    out = snakepacker("images", "build", "--help", check=True).stdout
    for option in ("--all", "--minors", "--route", "--cpython", "--ca-cert", "--index-url",
                   "--quick", "--bolt"):
        assert option in out


def test_the_temporary_directory_is_picked_before_signals_unwind(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """tempfile's first call creates and removes a probe file in TMPDIR: a SIGTERM turned
    into an exception between the two would leave it there, so main() makes that call
    before its handlers go in."""
    import signal
    import tempfile

    from snakepacker import stopping
    from snakepacker.cli import main as cli

    monkeypatch.setattr(tempfile, "tempdir", None)
    picked_when_installed: list[str | None] = []
    real_signal = signal.signal

    def spy(sig: int, handler: object) -> object:
        if handler is stopping._handle:
            picked_when_installed.append(tempfile.tempdir)
        return real_signal(sig, handler)  # type: ignore[arg-type]

    monkeypatch.setattr(signal, "signal", spy)
    assert cli.main(["images", "list", "--minors", "3.12"]) == 0
    assert "TAG" in capsys.readouterr().out
    assert len(picked_when_installed) == 3 and all(picked_when_installed)

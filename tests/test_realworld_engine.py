"""`snakepacker pack` on real-world projects, on a real engine (issue 9).

Wheels that expect system libraries (opencv-python: X11, GL and GLib), an sdist that
needs headers only --build-apt brings, a failed install whose cause must come first,
and the project layouts and lock files people actually have. The packs reach PyPI
through SNAKEPACKER_CA_CERTS, as `scripts/test` sets it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import Docker, snakepacker
from tests.test_pack_engine import closure, dpkg

pytestmark = pytest.mark.engine

PREFIX = "sptest-realworld"
INFO = "/usr/share/snakepacker/pack"
NOBODY = "65534:65534"


def untag(docker: Docker, *tags: str) -> None:
    docker("image", "rm", "--force", *tags, check=False)


def exists(docker: Docker, tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def pack(*argv: str):
    return snakepacker("pack", *argv)


def listed(docker: Docker, image: str) -> set[str]:
    """The packages find-libdeps named for IMAGE's venv."""
    return set(docker.run(image, [f"{INFO}/apt-packages.txt"], "--entrypoint", "cat")
               .stdout.split())


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


@pytest.fixture(scope="module")
def opencv(family_images: dict[str, str], docker: Docker):
    """opencv-python (not -headless): its wheel expects libX11, libXext, libGL and
    GLib from the system, as the manylinux policies allow. Packed once (a ~60 MB
    wheel)."""
    tag = f"{PREFIX}-opencv:pytest"
    untag(docker, tag)
    proc = pack("opencv-python", "-t", tag, "--python", "3.12", "--entrypoint", "python")
    assert proc.returncode == 0, proc.stderr[-4000:]
    yield tag
    untag(docker, tag)


def test_opencv_imports_and_encodes_read_only_as_non_root(docker: Docker, opencv: str) -> None:
    script = ("import cv2, numpy; ok, png = cv2.imencode('.png', numpy.zeros((4, 4, 3), "
              "numpy.uint8)); assert ok and bytes(png[:4]) == b'\\x89PNG'; print('ok')")
    out = docker.run(opencv, ["-c", script], "--read-only", "--user", NOBODY).stdout
    assert out.strip() == "ok"


def test_opencv_gets_exactly_the_system_libraries_it_links(
    docker: Docker, opencv: str, family_images: dict[str, str]
) -> None:
    named = listed(docker, opencv)
    # X11 and GL, and GLib (libgthread-2.0 and libglib-2.0): found in `all`, named here.
    assert {"libxext6", "libx11-6", "libgl1", "libglib2.0-0"} <= named
    final = dpkg(docker, opencv)
    parent = dpkg(docker, family_images["3.12"])
    added = set(final) - set(parent)
    assert added == closure(named, final) - set(parent)
    # `all` has Xrender for wheels that link it; opencv-python does not.
    assert "libxrender1" not in final


def test_build_apt_brings_headers_to_the_build_stage_only(
    docker: Docker, family_images: dict[str, str], tmp_path: Path
) -> None:
    """pycairo is an sdist on Linux that needs cairo's headers: --build-apt gives them
    to the build stage; the final image gets cairo's runtime library alone."""
    tag = f"{PREFIX}-cairo:pytest"
    untag(docker, tag)
    proc = pack("pycairo", "-t", tag, "--python", "3.12", "--entrypoint", "python",
                "--build-apt", "libcairo2-dev")
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        out = docker.run(tag, ["-c", "import cairo; print(cairo.ImageSurface("
                                     "cairo.FORMAT_ARGB32, 2, 2).get_width())"],
                         "--read-only").stdout
        assert out.strip() == "2"
        assert "libcairo2" in listed(docker, tag)
        installed = dpkg(docker, tag)
        assert "libcairo2" in installed and "libcairo2-dev" not in installed
    finally:
        untag(docker, tag)


def test_a_failed_install_says_why_first(docker: Docker, family_images: dict[str, str],
                                         tmp_path: Path) -> None:
    tag = f"{PREFIX}-missing:pytest"
    untag(docker, tag)
    folder = write(tmp_path / "missing", {
        "pyproject.toml": """\
            [project]
            name = "missing"
            version = "1"
            dependencies = ["snakepacker-no-such-package-4711"]
            scripts = {missing = "app:main"}
        """,
        "app.py": "def main():\n    pass\n",
    })
    proc = pack(str(folder), "-t", tag, "--python", "3.12")
    assert proc.returncode == 4
    assert not exists(docker, tag)
    message = proc.stderr.split("snakepacker: error: ", 1)[1]
    first = message.splitlines()[0]
    assert first.startswith("building missing failed at [build 3/")
    assert "snakepacker-no-such-package-4711 was not found in the package registry" in first
    assert "--mount" not in message and "/run/secrets" not in message

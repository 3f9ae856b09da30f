"""`snakepacker pack` on real-world projects, on a real engine (issue 9).

Wheels that expect system libraries (opencv-python: X11, GL and GLib), an sdist that
needs headers only --build-apt brings, a failed install whose cause must come first,
and the project layouts and lock files people actually have. The packs reach PyPI
through SNAKEPACKER_CA_CERTS, as `scripts/test` sets it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.engine.test_pack import closure, dpkg
from tests.helpers import MISSING_DEPENDENCY, Docker, exists, snakepacker, untag, write

pytestmark = pytest.mark.engine

PREFIX = "sptest-realworld"
INFO = "/usr/share/snakepacker/pack"
NOBODY = "65534:65534"


def pack(*argv: str):
    return snakepacker("pack", *argv)


def listed(docker: Docker, image: str) -> set[str]:
    """The packages find-libdeps named for IMAGE's venv."""
    return set(docker.run(image, [f"{INFO}/apt-packages.txt"], "--entrypoint", "cat")
               .stdout.split())


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
    folder = write(tmp_path / "missing", MISSING_DEPENDENCY)
    proc = pack(str(folder), "-t", tag, "--python", "3.12")
    assert proc.returncode == 4
    assert not exists(docker, tag)
    message = proc.stderr.split("snakepacker: error: ", 1)[1]
    first = message.splitlines()[0]
    # The build stage's last step: the dependencies' install.
    assert re.match(r"building missing failed at \[build (\d+)/\1\]", first), first
    assert "snakepacker-no-such-package-4711 was not found in the package registry" in first
    assert "--mount" not in message and "/run/secrets" not in message


def label(docker: Docker, image: str, key: str) -> str:
    return docker("image", "inspect", "--format",
                  "{{index .Config.Labels \"" + key + "\"}}", image).stdout.strip()


def test_setup_py_project_named_by_its_metadata_with_dependencies_apart(
    docker: Docker, family_images: dict[str, str], tmp_path: Path
) -> None:
    """A setup.py-only project: its dependencies come from the PEP 517 metadata hook and
    get a layer of their own; the default tag and the labels use the name and version
    setup.py declares, not the directory's name; .python-version picks 3.10."""
    name = f"{PREFIX}-legacy"
    tag = f"{name}:latest"
    untag(docker, tag)
    folder = write(tmp_path / "checkout", {
        "setup.py": f"""\
            from setuptools import setup

            setup(
                name="{name.replace('-', '_').upper()}",
                version="2.5.1",
                packages=["legacy"],
                install_requires=["attrs>=21"],
                entry_points={{"console_scripts": ["legacy = legacy:main"]}},
            )
        """,
        "legacy/__init__.py": "def main():\n    import attrs\n"
                              "    print('attrs', attrs.__version__)\n",
        ".python-version": "3.10\n",
    })
    try:
        proc = pack(str(folder), "--verbose")
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert exists(docker, tag)
        assert docker.run(tag, [], "--read-only").stdout.startswith("attrs ")
        assert label(docker, tag, "org.opencontainers.image.title") == name
        assert label(docker, tag, "org.opencontainers.image.version") == "2.5.1"
        assert label(docker, tag, "io.snakepacker.python") == "3.10"
        # A change to the code, not to the dependencies: the dependency step is cached.
        (folder / "legacy" / "__init__.py").write_text(
            "def main():\n    import attrs\n    print('attrs!', attrs.__version__)\n")
        proc = pack(str(folder), "--verbose")
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert docker.run(tag, [], "--read-only").stdout.startswith("attrs! ")
        log = proc.stdout + proc.stderr
        step = next(line.split()[0] for line in log.splitlines()
                    if line.startswith("#") and "] RUN " in line
                    and "--requirement /tmp/lock/requirements.txt" in line)
        assert f"{step} CACHED" in log
    finally:
        untag(docker, tag)


def test_pillow_report_and_keep_pip_with_uv(docker: Docker, family_images: dict[str, str]
                                            ) -> None:
    """--pillow's report counts 3.12 over base as the interpreter and 3.12-pillow over
    3.12 as system libraries; --keep-pip with uv leaves a working pip."""
    tag = f"{PREFIX}-pillow:pytest"
    untag(docker, tag)
    proc = pack("pillow", "-t", tag, "--pillow", "--keep-pip", "--python", "3.12",
                "--entrypoint", "python")
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        assert "pip " in docker.run(tag, ["-m", "pip", "--version"], "--read-only").stdout
        rows = {line.rsplit(None, 2)[0].strip(): float(line.split()[-2])
                for line in proc.stdout.splitlines() if line.endswith(" MB")}
        size = {ref: int(docker("image", "inspect", "--format", "{{.Size}}",
                                family_images[ref]).stdout) / 1e6
                for ref in ("base", "3.12", "3.12-pillow")}
        assert rows["interpreter"] == pytest.approx(size["3.12"] - size["base"], abs=0.11)
        assert rows["system libraries"] >= size["3.12-pillow"] - size["3.12"] - 0.11 > 1
    finally:
        untag(docker, tag)


def test_requirements_in_pips_spelling_and_a_healthcheck(
    docker: Docker, family_images: dict[str, str], tmp_path: Path
) -> None:
    """`--no-binary a,b` (pip's spelling, refused by uv) builds both from source; the
    HEALTHCHECK turns healthy once the app listens."""
    tag = f"{PREFIX}-nobinary:pytest"
    untag(docker, tag)
    folder = write(tmp_path / "site", {
        "requirements.txt": "--no-binary MarkupSafe,simplejson\nMarkupSafe==2.1.5\n"
                            "simplejson==3.19.2\n",
        "index.html": "hello\n",
    })
    proc = pack(str(folder), "-t", tag, "--python", "3.12", "--entrypoint", "python",
                "--cmd", "-m http.server 8080", "--healthcheck", "8080")
    assert proc.returncode == 0, proc.stderr[-4000:]
    name = f"{PREFIX}-health"
    docker("rm", "--force", name, check=False)
    try:
        script = ("import importlib.metadata as m; print(sorted(l for d in ('MarkupSafe', "
                  "'simplejson') for l in m.distribution(d).read_text('WHEEL').splitlines() "
                  "if l.startswith('Tag:')))")
        tags = docker.run(tag, ["-c", script], "--read-only").stdout
        assert tags.count("linux_x86_64") == 2 and "manylinux" not in tags  # built here
        docker("run", "-d", "--name", name, "--read-only", tag)
        status = ""
        for _ in range(60):
            status = docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
            if status == "healthy":
                break
            time.sleep(1)  # polled, at most a minute; the time itself is not tested
        assert status == "healthy"
    finally:
        docker("rm", "--force", name, check=False)
        untag(docker, tag)

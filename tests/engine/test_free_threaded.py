"""Free-threaded CPython on a real engine: the CI slice's 3.13t image and `all`'s
python3.13t run without the GIL, the others with it, and an extension that declares
free-threading support (numpy's cp313t wheel) packs onto 3.13t and keeps the GIL off."""

from __future__ import annotations

import pytest

from tests.helpers import NAMESPACE, Docker, snakepacker, untag

pytestmark = pytest.mark.engine

# Prints whether the GIL is on, and whether the build can run without it. 3.12 has no
# sys._is_gil_enabled: a GIL build before 3.13 always holds the GIL.
GIL_PROBE = ("import sys, sysconfig; "
             "print(getattr(sys, '_is_gil_enabled', lambda: True)(), "
             "bool(sysconfig.get_config_var('Py_GIL_DISABLED')))")


def gil(docker: Docker, image: str, python: str = "python3") -> str:
    return docker.run(image, [python, "-c", GIL_PROBE], "--entrypoint", "").stdout.strip()


def test_the_gil_is_off_in_the_free_threaded_image_only(
        docker: Docker, family_images: dict[str, str]) -> None:
    assert gil(docker, f"{NAMESPACE}/python:3.13t") == "False True"
    assert gil(docker, family_images["3.12"]) == "True False"
    assert gil(docker, family_images["3.10"]) == "True False"
    # The free-threaded ABI has its own stdlib and site directories.
    paths = docker.run(f"{NAMESPACE}/python:3.13t", ["python3", "-c",
                       "import sys, sysconfig; print(sys.abiflags, sysconfig.get_path('stdlib'))"],
                       "--entrypoint", "").stdout.split()
    assert paths == ["t", "/opt/python/3.13t/lib/python3.13t"]


def test_all_carries_the_free_threaded_interpreter_beside_the_others(
        docker: Docker, family_images: dict[str, str]) -> None:
    image = family_images["all"]
    assert gil(docker, image, "python3.13t") == "False True"
    assert gil(docker, image, "python3.12") == "True False"
    # Its own pip, for the ABI it builds wheels for.
    out = docker.run(image, ["python3.13t", "-m", "pip", "--version"], "--entrypoint", "").stdout
    assert "python 3.13" in out and "/opt/python/3.13t/lib/python3.13t/" in out


def test_a_free_threading_extension_packs_onto_3_13t_and_keeps_the_gil_off(
        docker: Docker, family_images: dict[str, str]) -> None:
    """numpy's cp313t wheel declares that it runs without the GIL: importing it leaves
    the GIL off (an extension that does not declare it would turn the GIL back on).
    numpy 2.4 is the last series with cp313t wheels (2.5 has 3.14t ones only)."""
    tag = "snakepacker-test/free-threaded-numpy:pytest"
    untag(docker, tag)
    proc = snakepacker("pack", "numpy==2.4.*", "-t", tag, "--python", "3.13t",
                       "--entrypoint", "python")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "with Python 3.13t" in proc.stdout + proc.stderr
    script = ("import sys, threading, numpy; "
              "sums = []; "
              "work = lambda: sums.append(int(numpy.arange(10**6).sum())); "
              "threads = [threading.Thread(target=work) for _ in range(4)]; "
              "[t.start() for t in threads]; [t.join() for t in threads]; "
              "print(sys._is_gil_enabled(), sorted(set(sums)), numpy.__file__)")
    out = docker.run(tag, ["-W", "error::RuntimeWarning", "-c", script], "--read-only",
                     "--tmpfs", "/tmp").stdout.split()
    assert out[:2] == ["False", "[499999500000]"]
    assert "/lib/python3.13t/site-packages/numpy/" in out[2]
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag).stdout
    assert '"io.snakepacker.python":"3.13t"' in labels
    untag(docker, tag)

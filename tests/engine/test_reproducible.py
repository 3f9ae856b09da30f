"""Packed images are reproducible: the example packed twice without any cache holds the
same files.

The project is the example (examples/demo-app) with one thing added, a C extension of
its own that records the date and time it was compiled. So each pack compiles two
extensions: psycopg2 from its sdist in the build stage, where the installer unpacks it
in a randomly named folder (which debug info would record, and the linker's build id
hash), and the project's own in the project stage, where __DATE__ and __TIME__ would
differ from one build to the next without SOURCE_DATE_EPOCH. Had the second pack taken
the first one's psycopg2 wheel from the installer's cache it would prove nothing about
that build, so both packs' logs are checked for psycopg2 being built (`--no-cache`
leaves the cache unused: BuildKit's own doing, and the installer's on any engine).

Both packs must stand on the same family images. The engine may be shared with other
checkouts whose tests rebuild the family's tags between the two packs, so the images
the session's family names are pinned first, under a namespace of this test's own, and
packed from there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snakepacker.pack.dockerfile import BUILD_DATE_EPOCH
from tests.helpers import DEMO, FAMILY_ARGS, Docker, snakepacker, untag, write

pytestmark = pytest.mark.engine

PINNED = "sptest-repro-ns"
# What __DATE__ " " __TIME__ give with SOURCE_DATE_EPOCH at BUILD_DATE_EPOCH.
FIXED_STAMP = "Jan  1 2000 00:00:00"
STAMP_C = """\
    #define PY_SSIZE_T_CLEAN
    #include <Python.h>

    static struct PyModuleDef stamp = {PyModuleDef_HEAD_INIT, "_stamp", NULL, -1, NULL};

    PyMODINIT_FUNC PyInit__stamp(void) {
        PyObject *module = PyModule_Create(&stamp);
        if (module != NULL
                && PyModule_AddStringConstant(module, "built", __DATE__ " " __TIME__) < 0) {
            Py_DECREF(module);
            return NULL;
        }
        return module;
    }
"""
SETUP_PY = """\
    from setuptools import Extension, setup

    setup(ext_modules=[Extension("demo_app._stamp", ["src/demo_app/_stamp.c"])])
"""


def test_the_demo_packed_twice_without_cache_has_the_same_files(
        family_images: dict[str, str], docker: Docker, tmp_path: Path) -> None:
    assert BUILD_DATE_EPOCH == 946684800  # the date FIXED_STAMP spells
    project = tmp_path / "demo-app"
    shutil.copytree(DEMO, project)
    write(project, {"setup.py": SETUP_PY, "src/demo_app/_stamp.c": STAMP_C})
    tags = [f"sptest-repro-demo{n}:pytest" for n in (1, 2)]
    pinned = [f"{PINNED}/python:{name}" for name in ("base", "all", "3.12")]
    try:
        for name, pin in zip(("base", "all", "3.12"), pinned, strict=True):
            docker("tag", family_images[name], pin)
        for tag in tags:
            proc = snakepacker("pack", str(project), "-t", tag, "--no-cache", "-v",
                               *FAMILY_ARGS, "--namespace", PINNED)
            assert proc.returncode == 0, proc.stderr[-3000:]
            log = proc.stdout + proc.stderr
            assert "Built psycopg2==" in log, "psycopg2 was not built from its sdist"
        same = snakepacker("images", "diff", *tags)
        assert same.returncode == 0, same.stdout[-3000:]
        assert same.stdout == ""
        assert "no difference" in same.stderr
        built = docker.run(tags[0], ["python", "-c",
                                     "from demo_app import _stamp; print(_stamp.built)"],
                           "--entrypoint", "").stdout
        assert built.strip() == FIXED_STAMP
        assert "psycopg2" in docker.run(tags[1], []).stdout  # the app itself still runs
    finally:
        untag(docker, *tags, *pinned)

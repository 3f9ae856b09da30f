"""The extension module, linked against libpython on purpose (see pyproject.toml)."""

import sysconfig

from setuptools import Extension, setup

# libpython3.12 for 3.12, libpython3.13t for a free-threaded 3.13: the library's name is
# LDVERSION's.
LIBPYTHON = "python" + sysconfig.get_config_var("LDVERSION")

setup(ext_modules=[Extension("embedext._linked", ["embedext/_linked.c"],
                             libraries=[LIBPYTHON])])

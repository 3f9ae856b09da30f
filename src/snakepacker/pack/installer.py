"""The two installers pack can fill a venv with, as data.

Everything that differs between uv and pip in the build stage (how the venv is made,
the install and uninstall commands, the cache directory, the environment) lives in one
record each, so the Dockerfile template never branches on an installer's name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Installer:
    name: str
    cache: str  # the build stage's cache directory, mounted between builds
    venv_flags: str  # what `python -m venv` is given
    env: tuple[tuple[str, str], ...]  # the build stage's ENV
    # Added to it by --no-cache, so that every sdist is built again (as a check that a
    # pack is reproducible needs) rather than taken as the wheel an earlier pack left
    # in the cache mount. BuildKit gives a --no-cache build empty cache mounts of its
    # own accord; podman's buildah mounts what earlier builds left there all the same.
    no_cache_env: tuple[tuple[str, str], ...]
    install: str  # "{venv}" is the venv's path; the arguments follow
    uninstall: str  # removes pip, setuptools and wheel; only warns when one is absent
    # Installs the project into a venv that no longer has pip (it was removed with the
    # dependencies' layer): uv needs none; pip is the build image's installer's own.
    project_install: str
    # Builds the project's wheel with its build backend installed once, in a venv of its
    # own ("{backend}"), into "{out}", from "{src}": no isolated environment to set up
    # (and backend to compile) on every code change. None: the project is installed
    # from its directory, built in isolation.
    wheel_build: str | None = None

    def project_command(self, venv: str, args: list[str]) -> str:
        return " ".join([self.project_install.format(venv=venv), *args])

    def install_command(self, venv: str, args: list[str]) -> str:
        return " ".join([self.install.format(venv=venv), *args])

    def uninstall_command(self, venv: str) -> str:
        return self.uninstall.format(venv=venv)

    def cache_mount(self, scope: str) -> str:
        return f"type=cache,target={self.cache},id=snakepacker-{self.name}-{scope}"


INSTALLERS: dict[str, Installer] = {
    "uv": Installer(
        name="uv",
        cache="/root/.cache/uv",
        # uv brings its own installer: the venv needs no pip of its own.
        venv_flags="--without-pip",
        # The cache is a mount, not the venv's file system: copy instead of hard-linking.
        env=(("UV_LINK_MODE", "copy"), ("UV_PYTHON_DOWNLOADS", "never")),
        # uv works in a temporary cache it removes on exit.
        no_cache_env=(("UV_NO_CACHE", "1"),),
        install="uv pip install --python {venv}/bin/python",
        uninstall="uv pip uninstall --python {venv}/bin/python pip setuptools wheel",
        project_install="uv pip install --python {venv}/bin/python",
        wheel_build="uv build --wheel --no-build-isolation --python {backend}/bin/python "
                    "--out-dir {out} {src}",
    ),
    "pip": Installer(
        name="pip",
        cache="/root/.cache/pip",
        venv_flags="",
        env=(("PIP_DISABLE_PIP_VERSION_CHECK", "1"), ("PIP_ROOT_USER_ACTION", "ignore")),
        no_cache_env=(("PIP_NO_CACHE_DIR", "1"),),
        install="{venv}/bin/python -m pip install",
        uninstall="{venv}/bin/python -m pip uninstall --yes --quiet setuptools wheel pip",
        project_install="/opt/snakepacker/installer/bin/python -m pip --python "
                        "{venv}/bin/python install",
    ),
}

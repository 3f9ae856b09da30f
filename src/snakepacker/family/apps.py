"""Ready-to-use application images, as recipes.

Each recipe is what `snakepacker pack` would be told on its command line: a requirement,
the CPython minor its venv is made with, the family image it runs on, the entry point
or command, and the image's working directory, volumes, ports, environment and user.
The family builds them through pack's own rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from snakepacker.errors import UsageError

# Linters and formatters: check the tree mounted at /app, as the caller's uid, with a
# read-only root file system (their caches go to the /tmp tmpfs).
_CHECKER_ENV = (("XDG_CACHE_HOME", "/tmp/cache"),)


@dataclass(frozen=True)
class AppRecipe:
    name: str  # the tag
    requirement: str
    python: str  # the minor the venv is made with, in `all` or `all-pillow`
    target: str  # the family image it runs on: "3.12" or "3.12-pillow"
    summary: str
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    workdir: str = "/app"
    volumes: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    user: str = "app"
    pins: tuple[str, ...] = ()  # further requirements installed with it (constraints)
    keep_build_tools: bool = False  # keep setuptools: for apps that import pkg_resources
    distroless: bool = False  # FROM scratch with only what it runs on (pack --distroless)

    @property
    def pillow(self) -> bool:
        return self.target.endswith("-pillow")

    @property
    def target_minor(self) -> str:
        return self.target.removesuffix("-pillow")


APPS: tuple[AppRecipe, ...] = (
    AppRecipe(
        # pylama imports pkg_resources at start: setuptools stays in its venv.
        "pylama", "pylama[toml]", "3.12", "3.12", "pylama code audit (useful for CI)",
        entrypoint=("pylama",), env=_CHECKER_ENV,
        pins=("setuptools<81",), keep_build_tools=True,
    ),
    AppRecipe(
        # pylava 0.3.0 (its last release) needs a pyflakes from before 2.2 and
        # pkg_resources.
        "pylava", "pylava==0.3.0", "3.10", "3.10", "pylava code audit (useful for CI)",
        entrypoint=("pylava",), env=_CHECKER_ENV,
        pins=("pyflakes<2.2", "pycodestyle<2.10", "setuptools<81"), keep_build_tools=True,
    ),
    AppRecipe(
        "ipython", "ipython", "3.12", "3.12", "IPython shell",
        entrypoint=("ipython",), env=(("IPYTHONDIR", "/tmp/ipython"),),
    ),
    AppRecipe(
        # Answers the ACME challenge on ports 80/443 and writes its state to the volumes:
        # it runs as root, as certbot's own images do.
        "certbot", "certbot", "3.12", "3.12", "certbot ACME client",
        entrypoint=("certbot",), workdir="/var/lib/letsencrypt",
        volumes=("/etc/letsencrypt", "/var/lib/letsencrypt"), ports=(80, 443), user="root",
    ),
    AppRecipe(
        "black", "black", "3.12", "3.12", "black in check mode (useful for CI)",
        entrypoint=("black", "--check", "--diff"), env=_CHECKER_ENV,
    ),
    AppRecipe(
        # gray has no check mode: it formats the mounted tree in place.
        "gray", "gray", "3.12", "3.12", "gray formatter (useful for CI)",
        entrypoint=("gray",), env=_CHECKER_ENV,
    ),
    AppRecipe(
        "ruff", "ruff", "3.12", "3.12", "ruff linter (useful for CI)",
        entrypoint=("ruff", "check"), env=(("RUFF_CACHE_DIR", "/tmp/ruff-cache"),),
    ),
    # The linters again, --distroless: a checker needs no shell, and CI pulls less.
    AppRecipe(
        "ruff-distroless", "ruff", "3.12", "3.12", "ruff linter, no shell or apt",
        entrypoint=("ruff", "check"), env=(("RUFF_CACHE_DIR", "/tmp/ruff-cache"),),
        distroless=True,
    ),
    AppRecipe(
        "black-distroless", "black", "3.12", "3.12", "black --check, no shell or apt",
        entrypoint=("black", "--check", "--diff"), env=_CHECKER_ENV, distroless=True,
    ),
    AppRecipe(
        # uv, the package and project manager: `lock`, `pip compile`, `build` and `run`
        # in the mounted tree, as the caller's uid. The image's CPython is the one it
        # finds first; its cache (and any Python it fetches) goes to the /tmp tmpfs.
        "uv", "uv", "3.12", "3.12", "uv package and project manager",
        entrypoint=("uv",), env=(("UV_CACHE_DIR", "/tmp/uv-cache"),),
    ),
    AppRecipe(
        "jupyterlab", "jupyterlab", "3.12", "3.12-pillow", "JupyterLab on 0.0.0.0:8888",
        cmd=("jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"),
        workdir="/notebooks", volumes=("/notebooks",), ports=(8888,),
        env=(
            ("JUPYTER_RUNTIME_DIR", "/tmp/jupyter/runtime"),
            ("JUPYTER_DATA_DIR", "/tmp/jupyter/data"),
            ("IPYTHONDIR", "/tmp/ipython"),
        ),
    ),
)


def check_recipes(recipes: Iterable[AppRecipe]) -> tuple[AppRecipe, ...]:
    """Reject a recipe whose venv Python is not the one of the image it runs on: a venv
    copied onto another minor's interpreter cannot start."""
    checked = tuple(recipes)
    names = [recipe.name for recipe in checked]
    for recipe in checked:
        if recipe.python != recipe.target_minor:
            raise UsageError(
                f"app {recipe.name}: its venv is made with Python {recipe.python} but it "
                f"runs on {recipe.target}; the two must be the same minor"
            )
        if not (recipe.entrypoint or recipe.cmd):
            raise UsageError(f"app {recipe.name}: no entrypoint and no cmd")
        if names.count(recipe.name) > 1:
            raise UsageError(f"app {recipe.name} is defined twice")
    return checked

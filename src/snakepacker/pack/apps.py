"""The family's application images, packed through pack's own planning and rendering."""

from __future__ import annotations

import dataclasses

from snakepacker.family.apps import AppRecipe
from snakepacker.family.images import Family
from snakepacker.pack.dockerfile import render_pack
from snakepacker.pack.options import DEFAULT_VENV, PackOptions
from snakepacker.pack.plan import make_plan
from snakepacker.pack.project import inspect_source


def app_options(family: Family, recipe: AppRecipe) -> PackOptions:
    """What `snakepacker pack REQUIREMENT` would be given for RECIPE."""
    project = dataclasses.replace(inspect_source(recipe.requirement), dependencies=recipe.pins)
    return PackOptions(
        project=project,
        family=family.options,
        tags=family.registry_names(recipe.name),
        python=recipe.python,
        installer="uv",
        pillow=recipe.pillow,
        venv_path=DEFAULT_VENV,
        keep_pip=recipe.keep_build_tools,
        apt=(),
        entrypoint=recipe.entrypoint,
        cmd=recipe.cmd,
        user=recipe.user,
        workdir=recipe.workdir,
        extras=(),
        minors_given=True,
        env=recipe.env,
        volumes=recipe.volumes,
        ports=recipe.ports,
        distroless=recipe.distroless,
    )


def render_app(family: Family, recipe: AppRecipe) -> str:
    options = app_options(family, recipe)
    return render_pack(make_plan(options, family, recipe.python, decide_entrypoint=True))

"""Render a family image's Dockerfile and list the files its build context needs."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2

from snakepacker.family.cpython import Route
from snakepacker.family.distros import DPKG_EXCLUDES
from snakepacker.family.images import Family, Image
from snakepacker.tools import TOOL_FILES


@dataclass(frozen=True)
class Rendered:
    image: Image
    dockerfile: str
    # Build-context path -> where its bytes come from. Tarballs are named here and
    # fetched (and verified) only when a build needs them.
    files: dict[str, Path] = field(default_factory=dict)
    tarballs: dict[str, str] = field(default_factory=dict)  # context path -> minor


@functools.cache
def _environment() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(resources.files("snakepacker").joinpath("templates")))
    return jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(family: Family, image: Image) -> Rendered:
    if image.app is not None:
        from snakepacker.pack.apps import render_app  # pack builds on the family

        return Rendered(image, render_app(family, image.app))  # a requirement: no context

    pythons = family.options.pythons  # oldest first
    context = {
        "distro": family.distro,
        "dpkg_excludes": DPKG_EXCLUDES,
        "names": family.registry_names(image.name),
        "base_ref": family.ref("base"),
        "parent_ref": family.ref(image.parent) if image.parent else None,
        "all_pillow_ref": family.ref("all-pillow"),
        "py": image.python,
        "pythons": pythons,
        "newest": pythons[-1],
        "release_grade": family.options.release_grade,
    }
    text = render_template(f"{image.template}.j2", context)

    files: dict[str, Path] = {}
    if image.template == "base":
        files = {f"tools/{name}": path for name, path in TOOL_FILES.items()}
    # The tarballs of the CPythons this Dockerfile compiles.
    compiled = {"python": (image.python,), "all": pythons}.get(image.template, ())
    tarballs = {
        py.release.context_name: py.minor
        for py in compiled
        if py is not None and py.route is Route.SOURCE and py.release is not None
    }
    return Rendered(image, text, files, tarballs)


def render_template(name: str, context: dict[str, object]) -> str:
    """Render one of the package's Dockerfile templates, tidied."""
    return _tidy(_environment().get_template(name).render(context))


def _tidy(text: str) -> str:
    """Collapse the blank runs that template conditionals leave behind."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"

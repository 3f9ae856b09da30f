"""The Jinja environment every Dockerfile is rendered with.

One environment, one set of macros: family images and pack's Dockerfiles share
pieces (the network RUN step, labels), and identical text renders identical
instructions, so the engine's cache serves both. This module knows templates, not
images: it sits below the family renderer and pack, and imports neither.
"""

from __future__ import annotations

import functools
import os
from importlib import resources

import jinja2

from snakepacker.cachedir import cache_dir


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the cache directory: compiling pack's templates took
    a tenth of a second of every pack in the edit-rebuild loop. Jinja checks each entry
    against its template's source, so an edited or upgraded template compiles anew. No
    cache where the directory cannot be written."""
    folder = cache_dir() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


@functools.cache
def _environment() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(resources.files("snakepacker").joinpath("templates")))
    return jinja2.Environment(
        loader=loader,
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


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

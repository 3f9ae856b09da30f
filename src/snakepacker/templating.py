"""The Jinja environment every Dockerfile is rendered with.

One environment, one set of macros: family images and pack's Dockerfiles share
pieces (the network RUN step, labels), and identical text renders identical
instructions, so the engine's cache serves both. This module knows templates, not
images: it sits below the family renderer and pack, and imports neither.

Values reach templates already quoted for their place (snakepacker.quoting, also
offered as the filters ``sh``, ``comment`` and ``json``). As a last line of defence,
every ``{{ }}`` is checked as it renders: one holding a line break stops the render,
since it would end the instruction it is in, unless the template marks it ``| block``
(a macro's own lines).
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources
from pathlib import Path

import jinja2

from snakepacker import quoting
from snakepacker.cachedir import cache_dir
from snakepacker.errors import UsageError


class Block(str):
    """Text of several lines that a template made itself (a macro's body)."""


def _finalize(value: object) -> object:
    if isinstance(value, Block):
        return value
    text = str(value)
    if "\n" in text or "\r" in text:
        raise UsageError(f"{text[:60]!r}: a value with a line break cannot go into a "
                         "Dockerfile")
    return value


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the cache directory: compiling pack's templates took
    a tenth of a second of every pack in the edit-rebuild loop. Jinja checks each entry
    against its template's source, so an edited or upgraded template compiles anew. No
    cache where the directory cannot be written."""
    # Jinja keys its entries by each template's source alone, not by the environment
    # that compiled it (its finalize above is compiled in): a folder per version of
    # this module and of Jinja.
    digest = hashlib.sha256(Path(__file__).read_bytes() + jinja2.__version__.encode())
    folder = cache_dir() / f"templates-{digest.hexdigest()[:12]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


@functools.cache
def _environment() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(resources.files("snakepacker").joinpath("templates")))
    environment = jinja2.Environment(
        loader=loader,
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
    )
    environment.filters.update(block=Block, sh=quoting.shell_word, comment=quoting.comment,
                               json=quoting.json_words)
    return environment


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

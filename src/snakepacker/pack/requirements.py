"""A requirements file as uv reads it.

pip and uv read most of a requirements file alike, but not the binary-format options:
pip takes ``--no-binary lxml,PyYAML`` (a comma-separated list) and takes the option at
the end of a requirement's line (``psycopg2==2.9.9 --no-binary psycopg2``); uv wants
one name per option, each option on a line of its own, and rejects the rest. pack
installs a project's requirements file with uv by default, so the file in the build
context is rewritten to say the same thing in uv's spelling; the project's own file is
never touched. Anything else is passed through, so uv's own error names what it did not
read.
"""

from __future__ import annotations

import re

_BINARY_OPTIONS = ("--no-binary", "--only-binary")
# `--no-binary X,Y`, `--no-binary=X,Y`, on a line of its own.
_OPTION_LINE = re.compile(r"^(?P<opt>--no-binary|--only-binary)(?:\s*=\s*|\s+)(?P<value>\S+)\s*$")
# The same option after a requirement.
_TRAILING = re.compile(r"\s+(?P<opt>--no-binary|--only-binary)(?:\s*=\s*|\s+)(?P<value>\S+)")


def _option_lines(option: str, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    return [f"{option} {name}" for name in names]


def _logical_lines(text: str) -> list[str]:
    """TEXT's lines with backslash continuations joined, as pip joins them."""
    out: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def for_uv(text: str) -> tuple[str, tuple[str, ...]]:
    """TEXT in uv's spelling, and what was changed (one note per rewritten line)."""
    out: list[str] = []
    notes: list[str] = []
    for line in _logical_lines(text):
        body = line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        match = _OPTION_LINE.match(body.strip())
        if match:
            lines = _option_lines(match["opt"], match["value"])
            if lines != [body.strip()]:
                notes.append(f"{body.strip()!r} -> {len(lines)} lines, one name each")
            out += lines
            continue
        if body and not body.lstrip().startswith("-") and _TRAILING.search(body):
            options = [(m["opt"], m["value"]) for m in _TRAILING.finditer(body)]
            requirement = _TRAILING.sub("", body).strip()
            moved = [o for opt, value in options for o in _option_lines(opt, value)]
            notes.append(f"{body.strip()!r}: {', '.join(moved)} moved to lines of their own")
            out += [*moved, requirement]
            continue
        out.append(line)
    return "\n".join(out) + "\n", tuple(notes)

"""Values turned into Dockerfile text: one function per place a value can go.

A Dockerfile is read line by line, so a line break in any value ends the instruction
it was in and starts one of the value's choosing (a ``RUN --mount`` of another image,
another project's cache). Values reach Dockerfiles from the project (its name, its
build requirements, its extras, its console scripts, its lock's versions), so every one
goes through the function for its place:

- ``comment``: the rest of a ``#`` line;
- ``shell_word``: one word of a RUN step, quoted for sh;
- ``json_words``: an exec-form ENTRYPOINT, CMD, VOLUME or COPY;
- ``label_value`` and ``env_value``: a double-quoted LABEL or ENV value, with ``$``,
  quotes and backslashes escaped so the engine reads it back byte for byte.

A value one of them cannot spell (a line break, another control character) is refused
with one line (exit 2). Templates get them as filters; the template environment also
refuses, as a last line of defence, any interpolated value that holds a line break
without being marked a block of lines (snakepacker.templating).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable

from snakepacker.errors import UsageError

# C0 controls but the tab, and DEL: none of them has a place in a Dockerfile line.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def one_line(value: str, what: str = "a value") -> str:
    """VALUE when it holds no line break or other control character; UsageError naming
    WHAT otherwise."""
    if _CONTROL.search(value):
        raise UsageError(f"{what} {value!r}: a line break or control character cannot go "
                         "into a Dockerfile")
    return value


def comment(value: str, what: str = "a value") -> str:
    return one_line(value, what)


def shell_word(value: str, what: str = "a value") -> str:
    return shlex.quote(one_line(value, what))


def shell_words(values: Iterable[str], what: str = "a value") -> str:
    return " ".join(shell_word(value, what) for value in values)


def json_words(values: Iterable[str], what: str = "a value") -> str:
    """An exec-form list: JSON strings, each checked to be one line."""
    return json.dumps([one_line(value, what) for value in values])


def _double_quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def label_value(value: str, what: str = "a label") -> str:
    """VALUE as a double-quoted LABEL value the engine reads back unchanged."""
    return _double_quoted(one_line(value, what))


def env_value(value: str, what: str = "an environment value") -> str:
    """VALUE as a double-quoted ENV value the engine reads back unchanged."""
    return _double_quoted(one_line(value, what))


def arg_reference(name: str) -> str:
    """A build argument's value, by reference: ``${NAME}``, never escaped."""
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
        raise ValueError(f"not a build argument's name: {name!r}")
    return "${" + name + "}"

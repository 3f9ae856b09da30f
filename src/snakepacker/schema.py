"""The JSON schema of ``[tool.snakepacker]``, made from the options table.

A project's settings are best checked where they are written, in the editor or in a
pre-commit run of validate-pyproject, before a pack reads them. Made from the one table,
the schema cannot say other than the reader does: it names the keys a project may set
(no option that carries trust, none that is this machine's choice), each with the TOML
types the reader takes, its help as the description, and its default. The reader also
takes a key spelled with underscores (``venv_path``); so does the schema, through a
pattern per key, while completion offers the dashed spelling alone.

The schema is committed as a file of the package (``data/snakepacker.schema.json``):
editors and other tools can be pointed at it, and validate-pyproject's plugin
(``tool_schema``) reads it without importing the table, as validate-pyproject loads every
plugin it finds on each of its runs. ``python -m snakepacker.schema`` prints it; a test
keeps the file equal to what the table makes.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snakepacker.options import Option

SCHEMA_FILE = "snakepacker.schema.json"  # in snakepacker/data
SCHEMA_ID = "urn:snakepacker:tool-snakepacker"
DRAFT = "http://json-schema.org/draft-07/schema#"  # validate-pyproject's draft


def tool_schema(tool: str = "snakepacker") -> dict[str, Any]:
    """``[tool.${tool}]``: the settings of `snakepacker pack` (see its README, Options)."""
    return json.loads(resources.files("snakepacker.data").joinpath(SCHEMA_FILE).read_text())


def build_schema() -> dict[str, Any]:
    """The schema of ``[tool.snakepacker]`` as the options table says it."""
    from snakepacker import options as opts

    settable = {o.toml_key: o for o in opts.options_of(opts.PACK) if o.toml_key}
    properties = {key: _property(o) for key, o in settable.items()}
    # The other spellings are checked alike, but offered to no one: no description.
    patterns = {_other_spellings(key): _types(o) for key, o in settable.items()
                if "-" in key}
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "$comment": "Generated from snakepacker's options table by `python -m "
                    "snakepacker.schema`; do not edit.",
        "title": opts.TOOL_TABLE,
        "description": "The settings of `snakepacker pack` in a project's pyproject.toml. "
                       "The environment (SNAKEPACKER_*) and the command line override them; "
                       "options that carry trust (an index, a CA bundle, a registry) are "
                       "never read from a project. A key may also be spelled with "
                       "underscores, but only once.",
        "type": "object",
        "properties": properties,
        "patternProperties": patterns,
        "additionalProperties": False,
    }


def _other_spellings(key: str) -> str:
    """A pattern matching KEY's spellings with at least one underscore for a dash."""
    words = [re.escape(word) for word in key.split("-")]
    return "^(?=.*_)" + "[-_]".join(words) + "$"


def _property(option: Option) -> dict[str, Any]:
    found = {"description": option.help, **_types(option)}
    if option.default is not None:
        default = option.default
        found["default"] = list(default) if isinstance(default, tuple) else default
    return found


def _types(option: Option) -> dict[str, Any]:
    """The JSON types of OPTION's TOML values, as ``snakepacker.options`` reads them."""
    from snakepacker.options import Type
    from snakepacker.pack.options import SIZE_PATTERN

    word = {"type": ["string", "integer"]}
    return {
        Type.TEXT: {"type": "string"},
        Type.FLAG: {"type": "boolean"},
        Type.LIST: {"type": ["string", "integer", "array"], "items": word},
        Type.ARGV: {"type": ["string", "array"], "items": {"type": "string"}},
        Type.PAIRS: {"type": "object",
                     "additionalProperties": {"type": ["string", "number", "boolean"]}},
        Type.SIZE: {"type": ["string", "integer"], "pattern": SIZE_PATTERN, "minimum": 1},
        Type.COUNT: {"type": "integer", "minimum": 0},
    }[option.type]


def schema_text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")

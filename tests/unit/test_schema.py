"""[tool.snakepacker]'s JSON schema: made from the table, committed, and saying what
the reader says; loaded by validate-pyproject through the entry point pyproject.toml
declares."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from validate_pyproject import api, plugins
from validate_pyproject.errors import ValidationError

from snakepacker import options as opts
from snakepacker import schema
from snakepacker.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "snakepacker" / "data" / schema.SCHEMA_FILE
DEMO = ROOT / "examples" / "demo-app" / "pyproject.toml"

# A value of each type that the reader takes from pyproject.toml, and one it refuses.
GOOD: dict[opts.Type, object] = {
    opts.Type.TEXT: "x", opts.Type.FLAG: True, opts.Type.LIST: ["a", 8000],
    opts.Type.ARGV: "run --fast", opts.Type.PAIRS: {"A": "1", "B": 2, "C": True},
    opts.Type.SIZE: "200MB", opts.Type.COUNT: 40,
}
BAD: dict[opts.Type, object] = {
    opts.Type.TEXT: 1, opts.Type.FLAG: "yes", opts.Type.LIST: {"a": 1},
    opts.Type.ARGV: 5, opts.Type.PAIRS: ["A=1"], opts.Type.SIZE: True, opts.Type.COUNT: "40",
}


def reader_takes(tool: dict[str, Any]) -> bool:
    try:
        opts.read(opts.PACK, {}, env={}, pyproject=tool)
    except UsageError:
        return False
    return True


def schema_takes(tool: dict[str, Any]) -> bool:
    return jsonschema.Draft7Validator(schema.build_schema()).is_valid(tool)


def test_the_committed_schema_is_the_table() -> None:
    assert COMMITTED.read_text() == schema.schema_text(), (
        "the committed schema is stale: `python -m snakepacker.schema > "
        "src/snakepacker/data/snakepacker.schema.json`")
    assert schema.tool_schema() == schema.build_schema()  # what the plugin hands over


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema.build_schema())
    # check-jsonschema also checks the key patterns as editors read them (ECMAScript).
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--check-metaschema",
                           str(COMMITTED)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_names_exactly_the_keys_a_project_may_set() -> None:
    properties = schema.build_schema()["properties"]
    for option in opts.OPTIONS:
        key = option.toml_key or option.name
        sample = {key: GOOD[option.type]}
        assert schema_takes(sample) == reader_takes(sample), option.name
        assert (key in properties) == reader_takes(sample), option.name
    assert "index-url" not in properties and "ca-certs" not in properties  # trust
    assert "engine" not in properties and "push" not in properties  # the machine's


@pytest.mark.parametrize("option", [o for o in opts.OPTIONS if o.toml_key
                                    and opts.PACK in o.commands], ids=lambda o: o.name)
def test_schema_and_reader_agree_on_each_keys_types(option: opts.Option) -> None:
    key = option.toml_key or ""
    described = schema.build_schema()["properties"][key]
    assert described["description"] == option.help
    for value, taken in ((GOOD[option.type], True), (BAD[option.type], False)):
        for spelling in {key, key.replace("-", "_")}:
            assert schema_takes({spelling: value}) is taken, (spelling, value)
            assert reader_takes({spelling: value}) is taken, (spelling, value)
    if option.default is not None:
        assert reader_takes({key: described["default"]})


def test_a_list_item_is_a_word_not_a_boolean() -> None:
    for tool in ({"port": True}, {"apt": ["curl", False]}):
        assert not schema_takes(tool) and not reader_takes(tool)


def test_a_key_spelled_twice_is_refused_by_the_reader() -> None:
    """The one thing the schema cannot say: both spellings of one key."""
    with pytest.raises(UsageError, match="'keep-pip' and 'keep_pip' are one key"):
        opts.read(opts.PACK, {}, env={}, pyproject={"keep-pip": True, "keep_pip": False})
    assert not reader_takes({"keep__pip": True}) and not schema_takes({"keep__pip": True})


# -- validate-pyproject ---------------------------------------------------------------


@pytest.fixture
def validator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> api.Validator:
    """validate-pyproject with the plugins it finds installed, this checkout among them:
    its entry points as an install writes them, from pyproject.toml's own table."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = project["entry-points"]
    info = tmp_path / f"snakepacker-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: snakepacker\nVersion: {project['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        for group, points in groups.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = plugins.list_from_entry_points()
    assert [p.tool for p in found].count("snakepacker") == 1
    return api.Validator(plugins=found)


def with_tool(tool: dict[str, object]) -> dict[str, Any]:
    pyproject = tomllib.loads(DEMO.read_text())
    pyproject["tool"]["snakepacker"].update(tool)
    return pyproject


def test_validate_pyproject_takes_a_valid_table(validator: api.Validator) -> None:
    validator(tomllib.loads(DEMO.read_text()))
    validator(with_tool({"installer": "pip", "keep_pip": True, "apt": ["curl"], "port": 8000,
                         "env": {"DEBUG": 1}, "entrypoint": ["demo-app", "--serve"]}))


@pytest.mark.parametrize(("tool", "named"), [
    ({"keep-pip": "yes"}, "tool.snakepacker.keep-pip` must be boolean"),
    ({"env": ["A=1"]}, "tool.snakepacker.env` must be object"),
    ({"instaler": "pip"}, "must not contain {'instaler'}"),
    ({"index-url": "an-index"}, "must not contain {'index-url'}"),
])
def test_validate_pyproject_refuses_a_wrong_type_or_an_unknown_key(
    validator: api.Validator, tool: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        validator(with_tool(tool))
    assert named in str(refused.value)


def test_the_plugin_reads_the_packaged_file() -> None:
    loaded = json.loads(COMMITTED.read_text())
    assert schema.tool_schema("snakepacker") == loaded
    assert loaded["$id"] == schema.SCHEMA_ID and loaded["additionalProperties"] is False

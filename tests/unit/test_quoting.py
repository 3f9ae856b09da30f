"""One function per place a value can go in a Dockerfile, and the template guard."""

from __future__ import annotations

import json
import shlex

import pytest

from snakepacker import quoting
from snakepacker.errors import UsageError
from snakepacker.templating import Block, _finalize

HOSTILE = [
    "setuptools\nRUN --mount=type=bind,from=alpine,target=/x cat /x/etc/passwd",
    "a\rRUN true", "nul\0byte", "esc\x1b[31m", "del\x7f",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("place", [quoting.comment, quoting.shell_word, quoting.label_value,
                                   quoting.env_value])
def test_a_value_no_line_can_hold_is_refused(place: object, value: str) -> None:
    with pytest.raises(UsageError, match="cannot go into a Dockerfile"):
        place(value, "[build-system] requires")  # type: ignore[operator]


@pytest.mark.parametrize("value", ["plain", "with space", "$(id)", "`id`", "a'b\"c", "tab\tx",
                                   "ünïcödé", "back\\slash", "semi;colon|pipe&amp"])
def test_shell_words_read_back_as_one_word(value: str) -> None:
    assert shlex.split(quoting.shell_word(value)) == [value]


def test_labels_and_env_values_escape_what_the_engine_would_expand() -> None:
    assert quoting.label_value('a"b$c\\') == '"a\\"b\\$c\\\\"'
    assert quoting.env_value("$HOME") == '"\\$HOME"'
    assert quoting.arg_reference("SNAKEPACKER_PARENT") == "${SNAKEPACKER_PARENT}"
    with pytest.raises(ValueError):
        quoting.arg_reference("X}; RUN id; ${Y")


def test_exec_form_lists_are_json() -> None:
    words = ["python", "-c", 'print("$HOME")']
    assert json.loads(quoting.json_words(words)) == words
    with pytest.raises(UsageError):
        quoting.json_words(["ok", "bad\nline"])


def test_the_template_guard_refuses_a_line_break_that_is_not_a_block() -> None:
    assert _finalize("one line") == "one line"
    assert _finalize(Block("two\nlines")) == "two\nlines"
    with pytest.raises(UsageError, match="a value with a line break cannot go into"):
        _finalize("setuptools\nRUN id")

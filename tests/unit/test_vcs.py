"""A packed project's .git is untrusted: a commit whose time is not a number, is out of
range or whose bytes are not UTF-8 gives no time (or its own, when only the names are
odd), never an exception and never text in a build argument."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from snakepacker import vcs
from snakepacker.family.labels import CREATED_ARG, REVISION_ARG
from snakepacker.pack.packing import label_args

ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@t", "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1"}


def git(root: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", str(root), *args], input=data, env=ENV,
                          capture_output=True, check=True).stdout.decode().strip()


def checkout_whose_head_is(root: Path, committer: bytes) -> str:
    """A repository at ROOT whose HEAD is a commit object with this committer line,
    written as it is (--literally: git's own checks would refuse most of them)."""
    git(root, "init", "-q")
    (root / "f").write_text("x\n")
    git(root, "add", "f")
    git(root, "commit", "-qm", "x")
    tree = git(root, "rev-parse", "HEAD^{tree}").encode()
    body = b"tree " + tree + b"\nauthor t <t@t> 1 +0000\ncommitter " + committer + b"\n\nx\n"
    sha = git(root, "hash-object", "--literally", "-t", "commit", "-w", "--stdin", data=body)
    git(root, "update-ref", "HEAD", sha)
    return sha


@pytest.mark.parametrize("stamp", [
    "\u00b2",  # a digit to str.isdigit(), not to int()
    "\u0661\u0662",  # Arabic-Indic digits: int() reads them, a date must not
    "99999999999999999999",  # past any date (the old code overflowed)
    "9" * 5000,  # more digits than int() converts
    "-5", "1e9", "0x10", "12;id", "$(touch${IFS}pwned)", "",
])
def test_a_commit_time_that_is_not_a_plain_number_is_no_time(tmp_path: Path,
                                                             stamp: str) -> None:
    checkout_whose_head_is(tmp_path, f"t <t@t> {stamp} +0000".encode())
    assert vcs.head_commit(tmp_path) is None
    args = label_args(tmp_path, "sha256:p", env={})
    assert args[CREATED_ARG] == "1970-01-01T00:00:00Z"
    assert args[REVISION_ARG] == "unknown"
    assert not (tmp_path / "pwned").exists()


def test_the_last_second_a_date_can_name_is_taken(tmp_path: Path) -> None:
    sha = checkout_whose_head_is(tmp_path, b"t <t@t> 253402300799 +0000")
    assert vcs.head_commit(tmp_path) == vcs.Commit(sha, 253402300799)
    assert label_args(tmp_path, "sha256:p", env={})[CREATED_ARG] == "9999-12-31T23:59:59Z"


def test_a_name_that_is_not_utf8_keeps_the_commit(tmp_path: Path) -> None:
    """Old repositories wrote names in Latin-1: the commit and its time still count."""
    sha = checkout_whose_head_is(tmp_path, "J\u00e9r\u00f4me <j@t> 1000000000 +0200"
                                 .encode("latin-1"))
    assert vcs.head_commit(tmp_path) == vcs.Commit(sha, 1000000000)
    args = label_args(tmp_path, "sha256:p", env={})
    assert args[CREATED_ARG] == "2001-09-09T01:46:40Z" and args[REVISION_ARG] == sha


@pytest.mark.parametrize("given", ["\u00b2", "1e9", "-1", "99999999999999999999", " "])
def test_a_source_date_epoch_that_is_no_time_is_left_aside(given: str) -> None:
    commit = vcs.Commit("a" * 40, 86400)
    assert vcs.source_date_epoch(commit, env={"SOURCE_DATE_EPOCH": given}) == 86400
    assert vcs.source_date_epoch(None, env={"SOURCE_DATE_EPOCH": given}) == 0
    assert vcs.source_date_epoch(commit, env={"SOURCE_DATE_EPOCH": " 42 "}) == 42


def test_epoch_reads_ascii_digits_only() -> None:
    assert vcs.epoch("0") == 0 and vcs.epoch("1700000000\n") == 1700000000
    assert vcs.epoch("\u0661") is None and vcs.epoch("+1") is None
    assert vcs.epoch("253402300800") is None

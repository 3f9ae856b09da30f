"""The CI matrix from the family data, the digest records, and the workflow file (which
tests/unit/test_github.py lints with the others)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.family.distros import DISTROS
from snakepacker.platforms import PLATFORMS, get_platform
from snakepacker.ship.matrix import Pushed, group, jobs, matrix_json, read_records, write_record
from tests.helpers import snakepacker

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "images.yml"
DIGEST = "sha256:" + "ab" * 32


def test_one_job_per_distro_and_platform_with_native_runners_where_there_are() -> None:
    all_jobs = jobs()
    assert {(j.distro, j.platform) for j in all_jobs} == {
        (d, p) for d in DISTROS for p in PLATFORMS}
    by_platform = {j.platform: j for j in all_jobs}
    assert not by_platform["linux/arm64"].emulated and "arm" in by_platform["linux/arm64"].runner
    assert by_platform["linux/arm/v7"].emulated


def test_matrix_json_is_a_ci_include_list() -> None:
    proc = snakepacker("images", "matrix", "--json", "--distros", "bookworm,jammy", check=True)
    rows = json.loads(proc.stdout)
    assert proc.stdout.count("\n") == 1  # one line, for $GITHUB_OUTPUT
    assert [r["name"] for r in rows] == ["bookworm-amd64", "bookworm-arm64", "bookworm-armv7",
                                         "jammy-amd64", "jammy-arm64", "jammy-armv7"]
    assert set(rows[0]) == {"distro", "platform", "runner", "emulated", "name"}
    assert json.loads(matrix_json(jobs(["trixie"], ["linux/amd64"])))[0]["runner"]


def test_an_unknown_distro_in_the_matrix_is_one_line() -> None:
    proc = snakepacker("images", "matrix", "--distros", "hardy")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


def pushed(tag: str, platform: str, digest: str = DIGEST) -> Pushed:
    repo = "127.0.0.1:5000/ns/python"
    return Pushed(tag, platform, repo, digest,
                  (f"127.0.0.1:5000/ns/python/{tag}", f"{repo}:{tag}", f"ns/python:{tag}"))


def test_records_round_trip_and_bad_ones_are_refused(tmp_path: Path) -> None:
    write_record(tmp_path / "a", pushed("3.12", "linux/amd64"))
    write_record(tmp_path / "b", pushed("3.12", "linux/arm64"))
    records = read_records(tmp_path)
    assert sorted(r.platform for r in records) == ["linux/amd64", "linux/arm64"]
    (tmp_path / "b" / "junk.json").write_text('{"tag": "x"}')
    with pytest.raises(UsageError, match="not a pushed-digest record"):
        read_records(tmp_path)
    with pytest.raises(UsageError, match="no such directory"):
        read_records(tmp_path / "missing")


def test_a_tag_missing_a_platform_moves_nothing() -> None:
    records = [pushed("3.12", "linux/amd64"), pushed("base", "linux/amd64"),
               pushed("base", "linux/arm64")]
    want = [get_platform("linux/amd64"), get_platform("linux/arm64")]
    with pytest.raises(UsageError, match=r"3\.12: no image was pushed for linux/arm64"):
        group(records, want)
    assert set(group(records)) == {"3.12", "base"}
    with pytest.raises(UsageError, match="more than one record"):
        group([pushed("x", "linux/amd64"), pushed("x", "linux/amd64")])


def test_the_workflow_runs_the_commands_it_names() -> None:
    text = WORKFLOW.read_text()
    assert "snakepacker images matrix --json" in text
    assert "snakepacker images build --all" in text and "--push-by-digest" in text
    assert "snakepacker images merge digests" in text
    assert "cron:" in text and "branches: [main]" in text
    assert "refs/heads/main" in text  # pushes only from main

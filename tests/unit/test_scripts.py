"""The repository's own shell scripts: the quick start and CI must not rot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [
    *(ROOT / "scripts" / name
      for name in ("setup", "demo", "test", "apps", "engine26", "next-debian")),
    ROOT / ".ci" / "run",
]


def test_readme_quick_start_and_ci_agree() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/demo" in readme and "./scripts/test" in readme
    assert "exec ./scripts/test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="scripts/setup installs shellcheck")
def test_scripts_pass_shellcheck() -> None:
    proc = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout

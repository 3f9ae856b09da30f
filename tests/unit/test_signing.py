"""Signing and verifying with cosign: what happens without it, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.ship import signing
from tests.helpers import cli_with, snakepacker


def test_verify_needs_a_key() -> None:
    proc = snakepacker("verify", "127.0.0.1:9/x/y:z")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--key FILE" in proc.stderr


def test_without_cosign_it_is_one_clear_line(tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # a PATH without cosign, on any machine
    bare.mkdir()
    proc = cli_with({"PATH": str(bare)}, "verify", "127.0.0.1:9/x/y:z", "--key", "k.pub")
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1
    assert "cosign is not installed" in proc.stderr and "apt-get install cosign" in proc.stderr


def test_only_digests_are_signed(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="sign a digest, not a tag"):
        signing.sign("127.0.0.1:9/x/y:latest", tmp_path / "k.key")

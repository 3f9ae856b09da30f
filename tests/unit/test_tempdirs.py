"""Temporary directories made with the stopping signals held back (tempdirs.py)."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from snakepacker.tempdirs import temporary_directory


class Stopped(BaseException):
    pass


def _raise(_signum: int, _frame: object) -> None:
    raise Stopped


def test_a_signal_while_the_directory_is_made_cannot_orphan_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM sent from inside mkdtemp, right after the directory exists: plain
    TemporaryDirectory leaves it behind; ours delivers the signal once the object owns
    the directory, whose cleanup then removes it."""
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp_then_signal(*args: object, **kwargs: object) -> str:
        made = real_mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at once unless held
        return made

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp_then_signal)
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        with pytest.raises(Stopped):
            tempfile.TemporaryDirectory(dir=tmp_path)
        orphans = list(tmp_path.iterdir())
        assert len(orphans) == 1  # what the guard is for: plain tempfile loses it
        orphans[0].rmdir()

        with pytest.raises(Stopped), temporary_directory(dir=tmp_path) as name:
            raise AssertionError(f"the body ran: {name}")  # the signal comes first
        assert list(tmp_path.iterdir()) == []
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()  # nothing left held

"""Temporary directories that a stopping signal cannot orphan (tempdirs.py, stopping.py)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker import stopping
from snakepacker.tempdirs import temporary_directory


@pytest.fixture
def handler() -> Iterator[None]:
    """The command line's handler, and a second thread that leaves the stopping signals
    unblocked: the kernel may hand a process-wide signal to it, which a thread mask in
    the main thread alone does not hold back."""
    restore = stopping.install()
    done = threading.Event()
    other = threading.Thread(target=done.wait, daemon=True)
    other.start()
    try:
        yield
    finally:
        done.set()
        other.join()
        restore()


def _signal_inside(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make MODULE.NAME send this process SIGTERM right after its first call's work."""
    real = getattr(module, name)
    calls = []

    def then_signal(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            # Time for the kernel to hand it to the other thread, and for that thread's
            # C handler to flag it: the main thread then runs the Python handler at its
            # next instruction, blocked or not.
            time.sleep(0.2)
        return result

    monkeypatch.setattr(module, name, then_signal)


def test_a_plain_temporary_directory_is_orphaned_by_such_a_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: None
) -> None:
    """What the guard is for: tempfile's own class loses the directory."""
    _signal_inside(monkeypatch, tempfile, "mkdtemp")
    with pytest.raises(stopping.Stopped):
        tempfile.TemporaryDirectory(dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1


def test_a_signal_while_the_directory_is_made_cannot_orphan_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: None
) -> None:
    """SIGTERM right after mkdtemp made the directory: it is raised once the object owns
    the directory, whose cleanup then removes it; the body never runs."""
    _signal_inside(monkeypatch, tempfile, "mkdtemp")
    with pytest.raises(stopping.Stopped), temporary_directory(dir=tmp_path) as name:
        raise AssertionError(f"the body ran: {name}")
    assert list(tmp_path.iterdir()) == []


def test_a_signal_during_the_cleanup_lets_it_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: None
) -> None:
    """SIGTERM after the first file of the tree is removed: the removal finishes, then
    the signal is raised; a second signal after the first is ignored."""
    with pytest.raises(stopping.Stopped), temporary_directory(dir=tmp_path) as name:
        for part in "abc":
            (Path(name) / part).mkdir()
            (Path(name) / part / "file").write_text(part)
        _signal_inside(monkeypatch, os, "unlink")
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the cleanup is not cut short


@pytest.mark.parametrize("threads", [0, 1])
def test_without_the_handler_the_callers_handler_runs_after_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    """Used as a library (no handler installed): a signal while the directory is made
    reaches the caller's own handler once the directory's cleanup is armed, also when
    another thread, which the kernel may pick, leaves the signal unblocked."""
    class Raised(BaseException):
        pass

    def raise_(_signum: int, _frame: object) -> None:
        raise Raised

    done = threading.Event()
    others = [threading.Thread(target=done.wait, daemon=True) for _ in range(threads)]
    for other in others:
        other.start()
    _signal_inside(monkeypatch, tempfile, "mkdtemp")
    previous = signal.signal(signal.SIGTERM, raise_)
    try:
        with pytest.raises(Raised), temporary_directory(dir=tmp_path) as name:
            raise AssertionError(f"the body ran: {name}")
        assert list(tmp_path.iterdir()) == []
        assert signal.getsignal(signal.SIGTERM) is raise_  # the caller's, put back
    finally:
        signal.signal(signal.SIGTERM, previous)
        done.set()
        for other in others:
            other.join()
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()  # nothing left held

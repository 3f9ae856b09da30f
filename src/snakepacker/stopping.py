"""Ctrl-C, SIGTERM and SIGHUP as one exception, never in the middle of a cleanup.

The command line installs one handler for the three stopping signals: the first one
raises ``Stopped`` in the main thread, so every ``with`` on the way out runs (build
secrets and temporary directories are removed, the engine's build is stopped), and the
ones after it are ignored, so a second Ctrl-C cannot cut that cleanup short.

Some steps must not be split by the exception at all: a temporary directory exists
but its cleanup is not armed yet, or its cleanup is half done. ``held()`` marks such a
step; a signal arriving inside it is raised when the step ends. Python runs signal
handlers in the main thread whichever thread the kernel picked, so this holds however
many threads the process has (a thread mask would only guard the thread that set it).
Where the handler is not installed (snakepacker used as a library), ``held()`` called
in the main thread puts a recording handler in place of the caller's for the step, then
puts the caller's back and raises the signal again, so the caller's own handling (or
the default) happens after the step; in another thread it can only block the signals
in that thread.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """A stopping signal: unwinds like KeyboardInterrupt, so every cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_state = threading.local()
_pending: list[int] = []
_installed = False


def _depth() -> int:
    return getattr(_state, "depth", 0)


def _handle(signum: int, _frame: FrameType | None) -> None:
    for sig in SIGNALS:  # the cleanup that follows must finish
        signal.signal(sig, signal.SIG_IGN)
    if _depth():
        _pending.append(signum)
        return
    raise Stopped(signum)


def install() -> Callable[[], None]:
    """Install the handler for the stopping signals (main thread only); return what
    restores the previous ones."""
    global _installed
    previous = {sig: signal.signal(sig, _handle) for sig in SIGNALS}
    _installed = True

    def restore() -> None:
        global _installed
        for sig, old in previous.items():
            signal.signal(sig, old)
        _installed = False
        _pending.clear()

    return restore


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Run the body whole: a stopping signal that arrives in it is raised after it."""
    if threading.current_thread() is not threading.main_thread():
        with _blocked():
            yield
        return
    if not _installed:
        with _deferred():
            yield
        return
    _state.depth = _depth() + 1
    try:
        yield
    finally:
        _state.depth -= 1
        if not _state.depth and _pending:
            signum = _pending[0]
            _pending.clear()
            raise Stopped(signum)


@contextlib.contextmanager
def _deferred() -> Iterator[None]:
    """Record the stopping signals during the body, then hand the first to the
    caller's handlers. A handler set outside Python cannot be put back: those signals
    are left to it."""
    caught: list[int] = []

    def record(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: old for sig in SIGNALS if (old := signal.getsignal(sig)) is not None}
    for sig in previous:
        signal.signal(sig, record)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if caught:
            signal.raise_signal(caught[0])


@contextlib.contextmanager
def _blocked() -> Iterator[None]:
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

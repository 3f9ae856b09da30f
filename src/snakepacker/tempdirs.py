"""Temporary directories that a signal cannot orphan.

The command line turns SIGINT, SIGTERM and SIGHUP into exceptions so that every
cleanup runs (cli.py). tempfile.TemporaryDirectory makes its directory first and
arms its cleanup after; an exception raised between the two, by a signal's handler,
left the directory behind (seen in the signal tests of pack). Those signals are held
back while the object is made, and delivered as soon as it exists.
"""

from __future__ import annotations

import signal
import tempfile
from typing import Any

_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def temporary_directory(**kwargs: Any) -> tempfile.TemporaryDirectory[str]:
    """tempfile.TemporaryDirectory(**kwargs), made with the stopping signals held."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        return tempfile.TemporaryDirectory(**kwargs)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

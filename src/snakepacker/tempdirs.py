"""Temporary directories that a signal cannot orphan.

tempfile.TemporaryDirectory makes its directory first and arms its cleanup after; an
exception raised between the two, by a signal's handler, left the directory behind
(seen in the signal tests of pack), and one raised inside its cleanup left it half
removed. Both steps run whole here (``stopping.held``): a stopping signal that arrives
in them is raised as soon as they are done.
"""

from __future__ import annotations

import tempfile
from typing import Any

from snakepacker import stopping


class _HeldDirectory(tempfile.TemporaryDirectory):  # type: ignore[type-arg]
    def cleanup(self) -> None:
        with stopping.held():
            super().cleanup()


def temporary_directory(**kwargs: Any) -> tempfile.TemporaryDirectory[str]:
    """tempfile.TemporaryDirectory(**kwargs), made and removed with the stopping signals
    held back."""
    with stopping.held():
        return _HeldDirectory(**kwargs)

"""The errors snakepacker reports as one line and a non-zero exit."""

from __future__ import annotations


class SnakepackerError(Exception):
    """A failure the user can act on; its message is printed as one line."""

    exit_code = 1


class UsageError(SnakepackerError):
    """Bad input: an unknown tag, minor, distro or option value."""

    exit_code = 2


class EngineError(SnakepackerError):
    """No container engine, a daemon that is down, or an engine command that failed."""

    exit_code = 3


class BuildError(SnakepackerError):
    """An image build failed; the message names the failing step and shows its tail."""

    exit_code = 4


class NetworkError(SnakepackerError):
    """A download failed or did not match what it should be."""

    exit_code = 5


class BudgetError(SnakepackerError):
    """A packed image over one of its budgets (--max-size, ...); it is left untagged."""

    exit_code = 6

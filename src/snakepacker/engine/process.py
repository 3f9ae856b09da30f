"""Running engine commands: quick ones with a time limit, builds as a child we always stop.

A daemon that accepts the connection and never answers would hang a plain
``subprocess.run`` forever; every call here has a limit and turns running out of time
into one EngineError line. A build child is started in its own session (a terminal's
Ctrl-C reaches snakepacker, which then stops the child once, in order) and with a
parent-death signal, so even a killed snakepacker does not leave a build running.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from snakepacker.engine.base import last_line
from snakepacker.errors import EngineError

_PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 10.0


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float | None,
    what: str,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ARGV to the end, output captured. WHAT names it in errors ("`docker tag`")."""
    try:
        proc = subprocess.run(
            list(argv), env=dict(env), capture_output=True, text=True, timeout=timeout,
            input=input,
        )
    except subprocess.TimeoutExpired:
        raise EngineError(
            f"{what} did not answer within {timeout:g} s: the engine looks hung "
            "(SNAKEPACKER_ENGINE_TIMEOUT sets the limit for quick calls)"
        ) from None
    except OSError as exc:
        raise EngineError(f"{what} could not start: {exc.strerror or exc}") from None
    if check and proc.returncode != 0:
        detail = last_line(proc.stderr) or f"exit code {proc.returncode}"
        raise EngineError(f"{what} failed: {detail}")
    return proc


def _die_with_parent() -> None:
    """In the child: get SIGTERM when snakepacker dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class BuildChild:
    """A running build command whose output is read a line at a time.

    ``stop()`` runs on every way out of the ``with`` block. It first calls the engine's
    ``cancel`` hook (podman's build containers outlive their client), then asks the
    client to stop with SIGINT (docker's client cancels the daemon-side build), waits
    GRACE_SECONDS, then kills it, and always waits for it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cancel: Callable[[], None] | None = None,
    ):
        self.argv = list(argv)
        self.env = dict(env)
        self.cancel = cancel
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> BuildChild:
        try:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, text=True, errors="replace",
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise EngineError(f"`{self.argv[0]} build` could not start: {exc}") from None
        return self

    def lines(self) -> Iterator[str]:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            yield raw.rstrip("\n")

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._stop_running(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def _stop_running(self, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + GRACE_SECONDS
        signalled = False
        while proc.poll() is None and time.monotonic() < deadline:
            if self.cancel is not None:
                self.cancel()
                if _exited(proc, 1.0):
                    break
            if not signalled:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)
                signalled = True
            _exited(proc, 0.5)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if self.cancel is not None:
            self.cancel()


def _exited(proc: subprocess.Popen[str], seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True

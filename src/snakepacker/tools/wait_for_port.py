#!/bin/sh
"""true"
# This block is shell for /bin/sh and the module docstring for Python.
# The shell part looks for a Python interpreter (the image may have none on
# PATH) and runs this same file with it, isolated from the environment and
# without site-packages: the tools need nothing but the standard library.
for v in 3 3.14 3.13 3.12 3.11 3.10 3.9 3.8 3.7; do
    if command -v "python$v" >/dev/null 2>&1; then exec "python$v" -I -S "$0" "$@"; fi
done
for minor in 14 13 12 11 10 9 8 7; do
    for py in /opt/python/3."$minor"/bin/python3 /opt/python/3."$minor".*/bin/python3; do
        if [ -x "$py" ]; then exec "$py" -I -S "$0" "$@"; fi
    done
done
if [ -x /usr/share/python3/app/bin/python ]; then
    exec /usr/share/python3/app/bin/python -I -S "$0" "$@"
fi
echo "wait-for-port: no Python interpreter found in this image" >&2
exit 127
"""

from __future__ import annotations

# wait-for-port: block until TCP endpoints accept connections, then exit 0 or
# exec a command.  Standard library only; runs unchanged on CPython 3.7+.
import argparse
import math
import os
import socket
import sys
import threading
import time
from typing import List, NoReturn, Optional, Sequence, Tuple

PROG = "wait-for-port"
EXIT_TIMEOUT = 10
EXIT_USAGE = 2
USAGE = "usage: wait-for-port [-p SECONDS] [-t SECONDS] [-q | -v] HOST:PORT... [-- COMMAND...]"

DESCRIPTION = """\
Wait until every HOST:PORT accepts TCP connections, then exit 0 or, when a
COMMAND follows "--", replace this process with it (same pid, so signals
reach it and its exit status is the result).

HOST is a name, an IPv4 address or an IPv6 address in brackets, e.g.
db:5432, 10.0.0.7:6379, [::1]:8080.  A name that does not resolve yet counts
as "not up yet".  All endpoints are probed concurrently; one that accepted a
connection once is not probed again."""

EPILOG = """\
exit status:
  0    every endpoint accepted a connection (without COMMAND)
  2    bad command line
  10   --timeout expired; the endpoints still down are named on stderr
  127  (from the shell header) no Python interpreter was found"""


class UsageError(Exception):
    """Bad command line: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors turned into UsageError instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


Endpoint = Tuple[str, int]


def parse_endpoint(text: str) -> Endpoint:
    """Split "host:port", "[v6]:port" into (host, port); raise UsageError."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise UsageError("missing ']' in %r" % text)
        host = text[1:close]
        rest = text[close + 1 :]
        if not rest.startswith(":"):
            raise UsageError("no port in %r" % text)
        port_text = rest[1:]
        if ":" not in host:
            raise UsageError("brackets are for IPv6 addresses only: %r" % text)
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise UsageError("no port in %r" % text)
        if ":" in host:
            raise UsageError("put IPv6 addresses in brackets, like [::1]:80: %r" % text)
    if not host:
        raise UsageError("no host in %r" % text)
    if not port_text:
        raise UsageError("no port in %r" % text)
    if not port_text.isdigit():
        raise UsageError("port is not a number in %r" % text)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise UsageError("port out of range 1-65535 in %r" % text)
    return host, port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError("not a finite number: %r" % text)
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        usage=USAGE[len("usage: ") :],
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-p",
        "--period",
        type=_seconds,
        default=0.5,
        metavar="SECONDS",
        help="time between two attempts on one endpoint (default: 0.5)",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="give up after this long, exit 10 (default: 600; 0: try once)",
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    noise.add_argument(
        "-v", "--verbose", action="store_true", help="also report every failed attempt"
    )
    parser.add_argument("endpoints", nargs="*", metavar="HOST:PORT")
    return parser


class Options:
    def __init__(
        self,
        endpoints: List[Endpoint],
        period: float,
        timeout: float,
        verbosity: int,
        command: List[str],
    ) -> None:
        self.endpoints = endpoints
        self.period = period
        self.timeout = timeout
        self.verbosity = verbosity
        self.command = command


def parse_args(argv: Sequence[str]) -> Options:
    argv = list(argv)
    command: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
        if not command:
            raise UsageError("no COMMAND after '--'")
    args = build_parser().parse_args(argv)
    if not args.endpoints:
        raise UsageError("no HOST:PORT given")
    if args.period <= 0:
        raise UsageError("--period must be greater than 0")
    if args.timeout < 0:
        raise UsageError("--timeout must not be negative")
    endpoints: List[Endpoint] = []
    for text in args.endpoints:
        endpoint = parse_endpoint(text)
        if endpoint not in endpoints:
            endpoints.append(endpoint)
    verbosity = 0 if args.quiet else (2 if args.verbose else 1)
    return Options(endpoints, args.period, args.timeout, verbosity, command)


def show(endpoint: Endpoint) -> str:
    host, port = endpoint
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


class Waiter:
    """Probes every endpoint from its own thread until it is up or time is over."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.up: List[Endpoint] = []
        self.tried = 0
        self.stopping = threading.Event()
        self.log_lock = threading.Lock()
        self.deadline = 0.0

    def log(self, level: int, message: str, final: bool = False) -> None:
        if self.options.verbosity < level:
            return
        with self.log_lock:
            # Nothing from the probing threads once the verdict is out.
            if self.stopping.is_set() and not final:
                return
            sys.stderr.write("%s: %s\n" % (PROG, message))
            sys.stderr.flush()

    def stop(self) -> None:
        with self.log_lock:
            self.stopping.set()

    def attempt(self, endpoint: Endpoint, limit: float) -> Optional[str]:
        """One try; None when a connection was accepted, else why not."""
        host, port = endpoint
        try:
            infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            return "does not resolve (%s)" % exc
        except OSError as exc:
            return "lookup failed (%s)" % exc
        reason = "no address"
        for family, socktype, proto, _name, address in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(limit)
                sock.connect(address)
                return None
            except socket.timeout:
                reason = "no answer within %.2fs" % sock.gettimeout()
            except OSError as exc:
                reason = exc.strerror or str(exc)
            finally:
                sock.close()
        return reason

    def probe(self, endpoint: Endpoint) -> None:
        period = self.options.period
        last_reason = ""
        first = True
        next_try = time.monotonic()
        while not self.stopping.is_set():
            # Each try has a timeout of its own, so that an address that never
            # answers (filtered) can not hold the wait beyond --timeout; it is
            # at most one period, and a try near the deadline still gets a
            # quarter of a second (so --timeout 0 means "try once").
            remaining = self.deadline - time.monotonic()
            limit = min(period, max(remaining, 0.25))
            reason = self.attempt(endpoint, limit)
            if reason is None:
                # Said before the main thread learns of it, which may exit at once.
                self.log(1, "%s is up" % show(endpoint))
            with self.changed:
                if first:
                    self.tried += 1
                    first = False
                if reason is None:
                    self.up.append(endpoint)
                self.changed.notify_all()
            if reason is None:
                return
            if reason != last_reason:
                self.log(2, "%s is not up yet: %s" % (show(endpoint), reason))
                last_reason = reason
            now = time.monotonic()
            if now >= self.deadline:
                return
            # Tries start on a fixed beat of one period; after a try that took
            # longer than that, the next one starts at once.
            next_try += period
            if next_try < now:
                next_try = now
            if self.stopping.wait(next_try - now):
                return

    def run(self) -> List[Endpoint]:
        """Wait; return the endpoints still down (empty: all are up)."""
        start = time.monotonic()
        self.deadline = start + self.options.timeout
        # Past the deadline we only wait for endpoints still in their very
        # first try, and never longer than one more period.
        hard_deadline = self.deadline + self.options.period
        total = len(self.options.endpoints)
        for endpoint in self.options.endpoints:
            thread = threading.Thread(target=self.probe, args=(endpoint,), name=show(endpoint))
            thread.daemon = True
            thread.start()
        with self.changed:
            while len(self.up) < total:
                now = time.monotonic()
                if now >= hard_deadline or (now >= self.deadline and self.tried >= total):
                    break
                if now < self.deadline:
                    self.changed.wait(self.deadline - now)
                else:
                    self.changed.wait(hard_deadline - now)
            down = [e for e in self.options.endpoints if e not in self.up]
        self.stop()
        return down


def fail_usage(message: str) -> int:
    sys.stderr.write("%s: %s (%s)\n" % (PROG, message, USAGE))
    sys.stderr.flush()
    return EXIT_USAGE


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    try:
        options = parse_args(argv)
    except UsageError as exc:
        return fail_usage(str(exc))
    waiter = Waiter(options)
    try:
        down = waiter.run()
    except KeyboardInterrupt:
        return 130
    if down:
        waiter.log(
            1,
            "timed out after %gs; still down: %s"
            % (options.timeout, ", ".join(show(e) for e in down)),
            final=True,
        )
        return EXIT_TIMEOUT
    if options.command:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvp(options.command[0], options.command)
        except OSError as exc:
            sys.stderr.write("%s: cannot run %s: %s\n" % (PROG, options.command[0], exc))
            return 126 if isinstance(exc, PermissionError) else 127
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave at once: a probing thread may still sit in a name lookup, and
    # the usual interpreter shutdown would only add to the wait.
    os._exit(status)

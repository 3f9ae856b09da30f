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
# run a command.  Standard library only; runs unchanged on CPython 3.7+.
#
# It is often the first process of a container (PID 1), which the kernel
# shields from every signal it has no handler for: SIGTERM and SIGINT stop the
# wait at once, and as PID 1 the command runs as a child that gets the
# signals forwarded, instead of replacing this process and inheriting the
# problem.  It also takes the command line of wait-for-it, so that it can
# stand in for it.
import argparse
import math
import os
import signal
import socket
import sys
import threading
import time
from typing import Dict, List, NoReturn, Optional, Sequence, Tuple

PROG = "wait-for-port"
EXIT_TIMEOUT = 10
EXIT_USAGE = 2
SIGNAL_CHECK = 0.1  # seconds between looks at the stop flag while waiting
USAGE = "usage: wait-for-port [-p SECONDS] [-t SECONDS] [-q | -v] HOST:PORT... [-- COMMAND...]"
USAGE_WFI = (
    "or: wait-for-port [-h HOST -p PORT] [HOST:PORT...] [-s] [-q] [-t SECONDS] [-- COMMAND...]"
)
# Longest wait or period accepted: a little over 31 years, well within what
# the thread and socket timeouts can hold.
MAX_SECONDS = 1e9
# wait-for-it's default timeout.
WFI_TIMEOUT = 15.0
# Signals passed on to COMMAND when it runs as our child (we are PID 1).
FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
# The forms of wait-for-it's options that wait-for-port's own form has not.
WFI_ONLY = ("--host", "--port", "-s", "--strict")

DESCRIPTION = """\
Wait until every HOST:PORT accepts TCP connections, then exit 0 or, when a
COMMAND follows "--", replace this process with it (same pid, so signals
reach it and its exit status is the result).  As the first process of a
container (PID 1) COMMAND runs as a child instead: SIGTERM, SIGINT, SIGHUP,
SIGQUIT, SIGUSR1 and SIGUSR2 are passed on to it, orphans are reaped, and its
exit status is the result (128+N when signal N ended it).  SIGTERM or SIGINT
during the wait end it at once (exit 143 or 130).

HOST is a name, an IPv4 address or an IPv6 address in brackets, e.g.
db:5432, 10.0.0.7:6379, [::1]:8080.  A name that does not resolve yet counts
as "not up yet".  All endpoints are probed concurrently; one that accepted a
connection once is not probed again.

wait-for-it's command line is understood too, when it uses -h HOST,
--host=HOST, --port=PORT, -s or --strict, or when this file is called
wait-for-it or wait-for-it.sh.  There -p is the PORT (with -h HOST), the
timeout is 15 seconds unless -t says otherwise, -t 0 waits without a timeout,
and COMMAND runs even when the timeout expired, unless -s (--strict) is
given."""

EPILOG = """\
exit status:
  0    every endpoint accepted a connection (without COMMAND)
  2    bad command line
  10   --timeout expired; the endpoints still down are named on stderr
  130  stopped by SIGINT, 143 by SIGTERM, while waiting
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


def seconds(text: str) -> float:
    """A number of seconds from the command line; raise UsageError."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError("not a number: %r" % text) from None
    if math.isnan(value) or math.isinf(value):
        raise UsageError("not a finite number: %r" % text)
    if value < 0:
        raise UsageError("negative number of seconds: %r" % text)
    if value > MAX_SECONDS:
        raise UsageError("more than %g seconds: %r" % (MAX_SECONDS, text))
    return value


def _seconds(text: str) -> float:
    try:
        return seconds(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        run_anyway: bool = False,
    ) -> None:
        self.endpoints = endpoints
        self.period = period
        # math.inf: no timeout (wait-for-it's -t 0).
        self.timeout = timeout
        self.verbosity = verbosity
        self.command = command
        # wait-for-it without --strict: COMMAND runs after a timeout too.
        self.run_anyway = run_anyway
        self.help = False


def is_wait_for_it_form(argv: List[str], prog: str) -> bool:
    """Whether the command line is wait-for-it's rather than ours.

    Called as wait-for-it, or using an option only wait-for-it has: -h with a
    value (ours is help), --host, --port, -s, --strict.
    """
    if os.path.basename(prog) in ("wait-for-it", "wait-for-it.sh"):
        return True
    for index, arg in enumerate(argv):
        if arg in WFI_ONLY or arg.startswith(("--host=", "--port=")):
            return True
        if arg == "-h" and index + 1 < len(argv) and not argv[index + 1].startswith("-"):
            return True
    return False


def parse_args(argv: Sequence[str], prog: str = PROG) -> Options:
    argv = list(argv)
    command: List[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
        if not command:
            raise UsageError("no COMMAND after '--'")
    if is_wait_for_it_form(argv, prog):
        options = parse_wait_for_it(argv, command)
    else:
        options = parse_own(argv, command)
    if options.help and command:
        # Printing help would leave COMMAND unrun with exit status 0.
        raise UsageError("help asked for, with a COMMAND to run")
    return options


def parse_own(argv: List[str], command: List[str]) -> Options:
    """wait-for-port's own command line."""
    if "-h" in argv or "--help" in argv:
        options = Options([], 0.5, 600.0, 1, command)
        options.help = True
        return options
    args = build_parser().parse_args(argv)
    if not args.endpoints:
        raise UsageError("no HOST:PORT given")
    if args.period <= 0:
        raise UsageError("--period must be greater than 0")
    endpoints: List[Endpoint] = []
    for text in args.endpoints:
        add_endpoint(endpoints, parse_endpoint(text))
    verbosity = 0 if args.quiet else (2 if args.verbose else 1)
    return Options(endpoints, args.period, args.timeout, verbosity, command)


def add_endpoint(endpoints: List[Endpoint], endpoint: Endpoint) -> None:
    if endpoint not in endpoints:
        endpoints.append(endpoint)


def parse_port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError("port is not a number from 1 to 65535: %r" % text)
    return int(text)


def parse_wait_for_it(argv: List[str], command: List[str]) -> Options:
    """wait-for-it's command line, by hand: -p means PORT there, not period."""
    values: Dict[str, str] = {}
    flags = set()
    endpoints: List[Endpoint] = []
    takes_value = {
        "-h": "host",
        "--host": "host",
        "-p": "port",
        "--port": "port",
        "-t": "timeout",
        "--timeout": "timeout",
        "--period": "period",
    }
    switches = {"-s": "strict", "--strict": "strict", "-q": "quiet", "--quiet": "quiet"}
    switches.update({"-v": "verbose", "--verbose": "verbose", "--help": "help"})
    position = 0
    while position < len(argv):
        arg = argv[position]
        position += 1
        name, equals, value = arg.partition("=")
        if arg in switches:
            flags.add(switches[arg])
        elif name in takes_value and name.startswith("--") and equals:
            key = takes_value[name]
        elif arg in takes_value:
            if position >= len(argv):
                raise UsageError("%s needs a value" % arg)
            key, value = takes_value[arg], argv[position]
            position += 1
        elif arg.startswith("-"):
            raise UsageError("unknown option %r" % arg)
        else:
            add_endpoint(endpoints, parse_endpoint(arg))
            continue
        if arg in switches:
            continue
        if key in values:
            raise UsageError("%s given twice" % name)
        values[key] = value
    options = Options([], 0.5, WFI_TIMEOUT, 1, command)
    if "help" in flags:
        options.help = True
        return options
    if ("host" in values) != ("port" in values):
        raise UsageError("-h HOST and -p PORT go together")
    if "host" in values:
        if not values["host"]:
            raise UsageError("empty HOST")
        add_endpoint(endpoints, (values["host"].strip("[]"), parse_port(values["port"])))
    if not endpoints:
        raise UsageError("no HOST:PORT given")
    if "quiet" in flags and "verbose" in flags:
        raise UsageError("-q and -v exclude each other")
    options.endpoints = endpoints
    if "period" in values:
        options.period = seconds(values["period"])
        if options.period <= 0:
            raise UsageError("--period must be greater than 0")
    if "timeout" in values:
        options.timeout = seconds(values["timeout"]) or math.inf
    options.verbosity = 0 if "quiet" in flags else (2 if "verbose" in flags else 1)
    options.run_anyway = "strict" not in flags
    return options


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
        self.signalled = 0  # the stopping signal's number, set by the handler

    def interrupt(self, signum: int, _frame: object) -> None:
        """The SIGTERM/SIGINT handler. It raises nothing: an exception thrown into a
        Condition wait can leave its lock released under a "with" that then fails."""
        self.signalled = signum
        self.stopping.set()

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
            while len(self.up) < total and not self.signalled:
                now = time.monotonic()
                if now >= hard_deadline or (now >= self.deadline and self.tried >= total):
                    break
                until = self.deadline if now < self.deadline else hard_deadline
                # In short slices, so that a signal (which only sets a flag) is seen soon.
                self.changed.wait(min(until - now, SIGNAL_CHECK))
            down = [e for e in self.options.endpoints if e not in self.up]
        self.stop()
        return down


def fail_usage(message: str) -> int:
    sys.stderr.write("%s: %s (%s)\n" % (PROG, message, USAGE))
    sys.stderr.flush()
    return EXIT_USAGE


def wait(options: Options) -> int:
    """Wait for the endpoints: 0, or the exit status to leave with."""
    waiter = Waiter(options)
    # Without a handler of its own, a PID 1 never sees SIGTERM at all.
    previous: Dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():  # else signals can not be had
        previous = {
            signum: signal.signal(signum, waiter.interrupt)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
    try:
        down = waiter.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if waiter.signalled:
        return 128 + waiter.signalled
    if not down:
        return 0
    timeout = "after %gs" % options.timeout
    still = ", ".join(show(e) for e in down)
    if options.command and options.run_anyway:
        waiter.log(
            1,
            "timed out %s; still down: %s; running COMMAND anyway (no --strict)" % (timeout, still),
            final=True,
        )
        return 0
    waiter.log(1, "timed out %s; still down: %s" % (timeout, still), final=True)
    return EXIT_TIMEOUT


def exit_status(status: int) -> int:
    """A wait status as a shell shows it: the exit code, or 128+N after signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 1


def supervise(command: List[str]) -> int:
    """Run command as our child, the way an init does: we stay PID 1.

    The signals a container is stopped or poked with are passed on, every
    child that ends is reaped (orphans of the container land here), and the
    command's status is ours.
    """
    import subprocess  # only as PID 1: it takes a while to import

    child_pid = [0]
    pending: List[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not child_pid[0]:
            pending.append(signum)
            return
        try:
            os.kill(child_pid[0], signum)
        except OSError:
            return  # it has just ended: waitpid below sees it

    for name in FORWARDED:
        signal.signal(getattr(signal, name), forward)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        return cannot_run(command, exc)
    child_pid[0] = child.pid
    for signum in pending:
        forward(signum, None)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1  # not expected: our child is reaped below, by us only
        if pid == child.pid:
            return exit_status(status)


def cannot_run(command: List[str], exc: OSError) -> int:
    sys.stderr.write("%s: cannot run %s: %s\n" % (PROG, command[0], exc))
    return 126 if isinstance(exc, PermissionError) else 127


def run_command(command: List[str]) -> int:
    """Become command (exec), or, as PID 1, run it as a supervised child."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.getpid() == 1:
        return supervise(command)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        return cannot_run(command, exc)
    return 127  # not reached: execvp returns only by raising


def print_help() -> None:
    text = build_parser().format_help()
    first, _newline, rest = text.partition("\n")
    sys.stdout.write("%s\n%s\n%s" % (first, " " * len("usage: ") + USAGE_WFI, rest))


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    try:
        options = parse_args(argv, sys.argv[0] if sys.argv and sys.argv[0] else PROG)
    except UsageError as exc:
        return fail_usage(str(exc))
    if options.help:
        print_help()
        return 0
    status = wait(options)
    if status != 0 or not options.command:
        return status
    return run_command(options.command)


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave at once: a probing thread may still sit in a name lookup, and
    # the usual interpreter shutdown would only add to the wait.
    os._exit(status)

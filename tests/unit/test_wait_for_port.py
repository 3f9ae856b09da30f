"""wait-for-port against real sockets on the loopback interface."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from snakepacker.tools import wait_for_port
from tests.helpers import Port, wait_until

TOOL = Path(wait_for_port.__file__)
UNRESOLVABLE = "snakepacker-test-host.invalid"


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def timed_run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = run(*args)
    return result, time.monotonic() - start


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_open_port_exits_zero_and_says_so(port: Port) -> None:
    port.open()
    result = run("-t", "5", port.endpoint)
    assert result.returncode == 0, result.stderr
    assert f"{port.endpoint} is up" in result.stderr
    assert result.stdout == ""


def test_listener_that_opens_late(port: Port) -> None:
    # Refused first: proves the tool really waits instead of succeeding at once.
    early = run("-t", "0", port.endpoint)
    assert early.returncode == wait_for_port.EXIT_TIMEOUT
    port.open_after(1.0)
    result, elapsed = timed_run("--period", "0.1", "--timeout", "20", port.endpoint)
    assert result.returncode == 0, result.stderr
    assert elapsed >= 0.9  # it did not report the port up before it opened


def test_port_that_never_opens_times_out_and_is_named(port: Port) -> None:
    result, elapsed = timed_run("--period=0.5", "-t", "1", port.endpoint)
    assert result.returncode == 10
    assert port.endpoint in result.stderr
    assert "timed out" in result.stderr
    assert "Traceback" not in result.stderr
    # timeout + one period + generous slack for interpreter start-up
    assert elapsed < 1 + 0.5 + 3


def test_silent_endpoint_does_not_hold_the_wait_past_the_timeout() -> None:
    # A listener whose backlog is full drops further SYNs without an answer, like
    # a filtered port: each try must give up on its own.
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    endpoint = f"127.0.0.1:{server.getsockname()[1]}"
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(server.getsockname())
            fillers.append(filler)
        time.sleep(0.2)
        result, elapsed = timed_run("-v", "-p", "0.5", "-t", "1", endpoint)
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    assert result.returncode == 10, result.stderr
    assert endpoint in result.stderr.splitlines()[-1]
    assert elapsed < 1 + 0.5 + 3


def test_name_that_does_not_resolve_counts_as_down() -> None:
    endpoint = f"{UNRESOLVABLE}:80"
    result, elapsed = timed_run("-v", "-p", "0.2", "-t", "1", endpoint)
    assert result.returncode == 10
    assert "does not resolve" in result.stderr
    assert endpoint in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert elapsed < 1 + 0.2 + 3


def test_localhost_name_resolves(port: Port) -> None:
    port.open()
    result = run("-t", "5", f"localhost:{port.port}")
    # localhost may resolve to ::1 first: the IPv4 address must still be tried.
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this host")
def test_ipv6_in_brackets() -> None:
    port = Port(socket.AF_INET6)
    try:
        refused = run("-t", "0", port.endpoint)
        assert refused.returncode == 10
        assert f"[::1]:{port.port}" in refused.stderr
        port.open()
        result = run("-t", "5", port.endpoint)
        assert result.returncode == 0, result.stderr
        assert f"[::1]:{port.port} is up" in result.stderr
    finally:
        port.close()


def test_several_endpoints_are_waited_for_together(port: Port, port2: Port) -> None:
    port.open_after(0.5)
    port2.open_after(1.0)
    result, elapsed = timed_run("-p", "0.1", "-t", "20", port.endpoint, port2.endpoint)
    assert result.returncode == 0, result.stderr
    assert f"{port.endpoint} is up" in result.stderr
    assert f"{port2.endpoint} is up" in result.stderr
    assert elapsed >= 0.9


def test_only_the_endpoints_still_down_are_named(port: Port, port2: Port) -> None:
    port.open()
    result = run("-p", "0.2", "-t", "1", port.endpoint, port2.endpoint, f"{UNRESOLVABLE}:1")
    assert result.returncode == 10
    last = result.stderr.strip().splitlines()[-1]
    assert port2.endpoint in last
    assert f"{UNRESOLVABLE}:1" in last
    assert port.endpoint not in last


def test_endpoint_that_accepted_once_is_not_tried_again(port: Port, port2: Port) -> None:
    # port accepts once, then closes for good; port2 opens much later. The wait
    # must still succeed: an endpoint that was up is not waited for again.
    accepted = threading.Event()

    def accept_once() -> None:
        port.sock.listen(1)
        conn, _ = port.sock.accept()
        conn.close()
        port.sock.close()
        accepted.set()

    thread = threading.Thread(target=accept_once, daemon=True)
    thread.start()
    port2.open_after(1.5)
    result = run("-p", "0.1", "-t", "20", port.endpoint, port2.endpoint)
    assert accepted.is_set()
    assert result.returncode == 0, result.stderr


def test_command_after_double_dash_gets_our_pid_and_its_exit_code(port: Port) -> None:
    port.open()
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), "-q", port.endpoint, "--", "sh", "-c", "echo $$; exit 7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 7, err
    assert out.strip() == str(proc.pid)


def test_command_options_are_not_ours(port: Port) -> None:
    port.open()
    result = run(port.endpoint, "--", "sh", "-c", 'echo "$@"', "sh", "-t", "--period", "x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "-t --period x"


def test_command_is_not_run_on_timeout(port: Port, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run("-t", "0.3", port.endpoint, "--", "touch", str(marker))
    assert result.returncode == 10
    assert not marker.exists()


def test_command_that_does_not_exist(port: Port) -> None:
    port.open()
    result = run(port.endpoint, "--", "/nonexistent/snakepacker-command")
    assert result.returncode == 127
    assert "/nonexistent/snakepacker-command" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-t", "5"],
        ["localhost"],
        ["localhost:"],
        ["localhost:http"],
        ["localhost:0"],
        ["localhost:65536"],
        ["localhost:-1"],
        [":80"],
        ["::1:80"],
        ["[::1]80"],
        ["[::1:80"],
        ["[127.0.0.1]:80"],
        ["--period", "0", "localhost:80"],
        ["--period=-1", "localhost:80"],
        ["-p", "nan", "localhost:80"],
        ["--period", "soon", "localhost:80"],
        ["--timeout", "-1", "localhost:80"],
        ["-t", "-0.5", "localhost:80"],
        ["--timeout=inf", "localhost:80"],
        ["--timeout"],
        ["--bogus", "localhost:80"],
        ["-q", "-v", "localhost:80"],
        ["localhost:80", "--"],
    ],
)
def test_bad_input_is_one_usage_line_and_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wait-for-port: ")
    assert "usage: wait-for-port" in lines[0]
    assert "Traceback" not in result.stderr


def test_help_documents_the_timeout_exit_status() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "10" in result.stdout
    assert "--timeout" in result.stdout
    assert "--period" in result.stdout


def test_period_and_timeout_in_both_forms(port: Port) -> None:
    port.open()
    for args in (
        ["--period=0.5", "--timeout=5"],
        ["--period", "0.5", "--timeout", "5"],
        ["-p", "0.5", "-t", "5"],
        ["-t5"],
    ):
        result = run(*args, port.endpoint)
        assert result.returncode == 0, (args, result.stderr)


def test_quiet_prints_nothing(port: Port, port2: Port) -> None:
    port.open()
    up = run("-q", "-t", "5", port.endpoint)
    assert up.returncode == 0
    assert up.stderr == ""
    down = run("-q", "-t", "0.3", port2.endpoint)
    assert down.returncode == 10
    assert down.stderr == ""


def test_verbose_reports_failed_tries(port2: Port) -> None:
    quiet_by_default = run("-p", "0.1", "-t", "0.3", port2.endpoint)
    assert "not up yet" not in quiet_by_default.stderr
    verbose = run("-v", "-p", "0.1", "-t", "0.3", port2.endpoint)
    assert verbose.returncode == 10
    assert f"{port2.endpoint} is not up yet" in verbose.stderr
    assert "refused" in verbose.stderr.lower()


def test_zero_timeout_tries_once(port: Port) -> None:
    port.open()
    assert run("-t", "0", port.endpoint).returncode == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db:5432", ("db", 5432)),
        ("10.0.0.7:6379", ("10.0.0.7", 6379)),
        ("[::1]:8080", ("::1", 8080)),
        ("[fe80::1%eth0]:22", ("fe80::1%eth0", 22)),
        ("a.b-c.example:65535", ("a.b-c.example", 65535)),
    ],
)
def test_parse_endpoint(text: str, expected: tuple[str, int]) -> None:
    assert wait_for_port.parse_endpoint(text) == expected


def test_main_in_process_returns_codes(port: Port) -> None:
    port.open()
    assert wait_for_port.main(["-q", "-t", "5", port.endpoint]) == 0
    assert wait_for_port.main(["-q", "localhost:0"]) == 2


def test_installed_console_script_if_present(port: Port) -> None:
    script = Path(sys.executable).parent / "wait-for-port"
    if not script.exists():
        pytest.skip("snakepacker is not installed into this environment")
    port.open()
    result = subprocess.run(
        [str(script), "-t", "5", port.endpoint], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_tool_file_is_executable() -> None:
    assert os.access(TOOL, os.X_OK)


# --- wait-for-it's command line ---------------------------------------------------------


def test_wait_for_it_host_and_port_options_run_the_command(port: Port) -> None:
    port.open()
    for args in (
        ["-h", port.host, "-p", str(port.port)],
        [f"--host={port.host}", f"--port={port.port}"],
        [port.endpoint, "-s", "-t", "5"],
        ["-q", "--strict", "--timeout=5", port.endpoint],
    ):
        result = run(*args, "--", "sh", "-c", "echo ran; exit 7")
        assert result.returncode == 7, (args, result.stderr)
        assert result.stdout == "ran\n"
    quiet = run("-q", "-h", port.host, "-p", str(port.port), "--", "true")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_wait_for_it_runs_the_command_after_a_timeout_unless_strict(port: Port) -> None:
    anyway = run(
        "-h", port.host, "-p", str(port.port), "-t", "1", "--", "sh", "-c", "echo ran; exit 5"
    )
    assert anyway.returncode == 5
    assert anyway.stdout == "ran\n"
    assert "timed out" in anyway.stderr
    strict = run(
        "-h", port.host, "-p", str(port.port), "-t", "1", "-s", "--", "sh", "-c", "echo ran"
    )
    assert strict.returncode == wait_for_port.EXIT_TIMEOUT
    assert strict.stdout == ""
    # Without COMMAND a timeout is a failure in both forms.
    assert run(f"--host={port.host}", f"--port={port.port}", "-t", "1").returncode == 10


def test_called_as_wait_for_it(port: Port, tmp_path: Path) -> None:
    link = tmp_path / "wait-for-it.sh"
    link.symlink_to(TOOL)
    result = subprocess.run(
        [sys.executable, str(link), port.endpoint, "-t", "1", "--", "sh", "-c", "exit 3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr


def test_wait_for_it_zero_timeout_waits_without_limit(port: Port) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), "-s", "-t", "0", port.endpoint, "--", "sh", "-c", "exit 4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Our own form would have given up after one try (exit 10) by now.
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        port.open()
        assert proc.wait(timeout=30) == 4
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize(
    "args",
    [
        ["-t", "1e300", "localhost:80"],
        ["--period", "1e300", "localhost:80"],
        ["-p", "1e300", "localhost:80"],
        ["-s", "-t", "1e300", "localhost:80"],
        ["-s", "-t", "nan", "localhost:80"],
        ["-s", "--timeout=inf", "localhost:80"],
        ["-s", "-t", "-1", "localhost:80"],
        ["-s", "--period", "1e300", "localhost:80"],
        ["-h", "localhost"],
        ["-s", "-p", "80"],
        ["-h", "localhost", "-p", "0"],
        ["-h", "localhost", "-p", "http"],
        ["-h", "localhost", "-p", "80", "--bogus"],
        ["-h", "localhost", "-h", "other", "-p", "80"],
        ["-h", "localhost", "-p", "80", "-q", "-v"],
        ["-s"],
        ["-h", "--", "app"],
        ["--help", "--", "app"],
        ["-h", "localhost", "-p", "80", "--help", "--", "app"],
    ],
)
def test_bad_wait_for_it_input_is_one_usage_line_and_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_help_still_works_and_shows_both_forms() -> None:
    for flag in ("-h", "--help"):
        result = run(flag)
        assert result.returncode == 0
        assert "wait-for-it" in result.stdout
        assert "-s" in result.stdout


# --- signals --------------------------------------------------------------------------


def start_waiting(*args: str) -> subprocess.Popen[str]:
    """wait-for-port on a port that stays closed, once it has tried at least once."""
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), "-v", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # blocks until the first failed try is reported
    assert "not up yet" in line, line
    return proc


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_waiting_ends_the_wait(port: Port, signum: int, status: int) -> None:
    proc = start_waiting("-t", "300", port.endpoint, "--", "true")
    try:
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == status
        _out, err = proc.communicate()
        assert "Traceback" not in err
    finally:
        proc.kill()
        proc.communicate()


# --- as PID 1 ----------------------------------------------------------------------------

CHILD = """
import os, signal, subprocess, sys, time
# A raw descriptor, not a buffered file: one handler can run inside the other's
# write, and a buffered writer refuses that reentrant call (RuntimeError).
log = os.open(sys.argv[1] + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
signal.signal(signal.SIGUSR1, lambda *_: os.write(log, b"USR1\\n"))
signal.signal(signal.SIGHUP, lambda *_: os.write(log, b"HUP\\n"))
# An orphan: its parent ends at once, so PID 1 inherits it and must reap it.
subprocess.run(["sh", "-c", "sleep 0.2 &"])
open(sys.argv[1], "w").close()
while True:
    time.sleep(1)
"""


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of the processes whose parent is pid, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append((int(entry), fields[0]))
    return found


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_as_pid_1_the_command_is_a_supervised_child(port: Port, tmp_path: Path) -> None:
    if subprocess.run(["unshare", "--pid", "--kill-child", "true"], capture_output=True).returncode:
        pytest.skip("can not make a PID namespace here")
    port.open()
    ready = tmp_path / "ready"
    (tmp_path / "child.py").write_text(CHILD)
    command = [sys.executable, str(tmp_path / "child.py"), str(ready)]
    proc = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--kill-child",  # the whole namespace ends with unshare, whatever happens
            sys.executable,
            str(TOOL),
            "-q",
            port.endpoint,
            "--",
            *command,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(ready.exists, "the command started")
        tools = children_of(proc.pid)
        assert len(tools) == 1
        tool = tools[0][0]
        # wait-for-port stayed (it is the PID 1), the command is its child.
        assert Path(f"/proc/{tool}/cmdline").read_bytes().split(b"\0")[1] == bytes(TOOL)
        assert len(children_of(tool)) >= 1
        wait_until(lambda: all(state != "Z" for _pid, state in children_of(tool)), "orphan reaped")
        os.kill(tool, signal.SIGUSR1)
        os.kill(tool, signal.SIGHUP)
        log = tmp_path / "ready.log"
        wait_until(
            lambda: log.exists() and {"USR1", "HUP"} <= set(log.read_text().split()), "forwarded"
        )
        os.kill(tool, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.wait(timeout=30)


# --- as the entrypoint of a container, on the real engine ----------------------------------



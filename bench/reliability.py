#!/usr/bin/env python3
"""The reliability probe set: each attack on pack and the tools, run again, as a table.

Every row is one probe from the reliability issue: what was done, what must happen,
and what happened on this run. Engine-free probes always run; those that need the
engine (a packed server stopped by `docker stop`, a pack interrupted mid-build, an
entry point that does not exist) run with --engine, against the family built here
(`snakepacker images build 3.12`). The engine tests in tests/ assert the same things;
this table is for reading (and timing the stop), not a test.

Usage: python3 bench/reliability.py [--engine]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "src" / "snakepacker" / "tools"
DEMO = ROOT / "examples" / "demo-app"
Probe = Callable[[Path], tuple[bool, str]]


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snakepacker", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:90] if lines else "(nothing)"


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


# -- engine-free probes ------------------------------------------------------------------


def context_rules(tmp: Path) -> tuple[bool, str]:
    from snakepacker.pack.context import copy_project

    project = write(tmp / "p", {"src/p/build/x.py": "", "static/dist/app.js": "",
                                "build/stale": "", ".env": "T=1", ".ssh/id_rsa": ""})
    copied = copy_project(project, tmp / "ctx")
    kept = (tmp / "ctx/src/p/build/x.py").exists() and (tmp / "ctx/static/dist/app.js").exists()
    ok = kept and copied.skipped == ["build/"] and copied.secrets == [".env", ".ssh/"]
    return ok, f"kept nested: {kept}; left out {copied.skipped} and {copied.secrets}"


def env_values(tmp: Path) -> tuple[bool, str]:
    proc = cli("pack", str(DEMO), "--dockerfile", "--env", "A=$HOME/x", "--env", "B=pa$$w0rd",
               "--env", "C=l1\nl2")
    ok = 'A="\\$HOME/x"' in proc.stdout and 'B="pa\\$\\$w0rd"' in proc.stdout \
        and "ARG SNAKEPACKER_ENV_C" in proc.stdout
    return ok, "escaped in ENV; line break as a build argument" if ok else proc.stderr[-90:]


def bad_tag(tmp: Path) -> tuple[bool, str]:
    proc = cli("pack", str(DEMO), "-t", "good:1", "-t", "Bad Tag", "--dockerfile")
    return proc.returncode == 2, f"exit {proc.returncode}: {first_line(proc.stderr)}"


def project_types(tmp: Path) -> tuple[bool, str]:
    write(tmp / "t", {"pyproject.toml": '[project]\nname = "a"\nversion = "1"\n'
                                        'dependencies = "notalist"\n'})
    proc = cli("pack", str(tmp / "t"), "--dockerfile")
    ok = proc.returncode == 2 and "project.dependencies" in proc.stderr \
        and "Traceback" not in proc.stderr
    return ok, f"exit {proc.returncode}: {first_line(proc.stderr)}"


def sources(tmp: Path) -> tuple[bool, str]:
    empty = cli("pack", "", "--dockerfile")
    url = cli("pack", "tool @ https://files.invalid/tool-1.0-py3-none-any.whl", "--dockerfile",
              "--entrypoint", "tool")
    ok = empty.returncode == 2 and url.returncode == 0 and "tool @ https://" in url.stdout
    return ok, f"'' exit {empty.returncode}; name @ URL exit {url.returncode}"


def foreign_elf(tmp: Path) -> tuple[bool, str]:
    lib = tmp / "lib"
    lib.mkdir()
    data = bytearray(Path(sys.executable).resolve().read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    (lib / "helper").write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, str(TOOLS / "find_libdeps.py"), "-v", str(lib)],
                          capture_output=True, text=True)
    return proc.returncode == 0, f"exit {proc.returncode}: {first_line(proc.stderr)}"


def crafted_elf(tmp: Path) -> tuple[bool, str]:
    lib = tmp / "crafted"
    lib.mkdir()
    header = bytearray(Path(sys.executable).resolve().read_bytes()[:64])
    header[32:40] = (2**63 - 1).to_bytes(8, "little")  # e_phoff far past the end
    header[56:58] = (65535).to_bytes(2, "little")  # e_phnum at its largest
    (lib / "libbad.so").write_bytes(bytes(header))
    proc = subprocess.run([sys.executable, str(TOOLS / "find_libdeps.py"), "-v", str(lib)],
                          capture_output=True, text=True)
    ok = proc.returncode == 0 and "Traceback" not in proc.stderr
    return ok, f"exit {proc.returncode}: {first_line(proc.stderr)}"


def wait_for_it_forms(tmp: Path) -> tuple[bool, str]:
    tool = [sys.executable, str(TOOLS / "wait_for_port.py")]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = str(closed.getsockname()[1])
    form = subprocess.run([*tool, "-h", "127.0.0.1", "-p", port, "-t", "1", "--strict", "--",
                           "echo", "ran"], capture_output=True, text=True)
    huge = subprocess.run([*tool, "-t", "1e300", f"127.0.0.1:{port}"], capture_output=True,
                          text=True)
    closed.close()
    ok = form.returncode == 10 and "ran" not in form.stdout and huge.returncode == 2
    return ok, f"-h/-p/--strict exit {form.returncode}, -t 1e300 exit {huge.returncode}"


def hung_engine(tmp: Path) -> tuple[bool, str]:
    path = tmp / "hung.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    started = time.monotonic()
    proc = cli("images", "build", "base", env={"DOCKER_HOST": f"unix://{path}",
                                               "SNAKEPACKER_ENGINE": "docker",
                                               "SNAKEPACKER_ENGINE_TIMEOUT": "2"}, timeout=120)
    seconds = time.monotonic() - started
    stop.set()
    thread.join()
    server.close()
    ok = proc.returncode == 3 and proc.stderr.count("\n") == 1
    return ok, f"exit {proc.returncode} after {seconds:.1f} s: {first_line(proc.stderr)}"


# -- engine probes ------------------------------------------------------------------------

SERVER = {
    "pyproject.toml": """\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "probe-srv"
        version = "1.0"
        scripts = {probe-srv = "probe_srv:main"}
    """,
    "probe_srv.py": """\
        import http.server

        def main():
            http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler,
                             port=8000, bind="0.0.0.0")
    """,
}


def docker(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    return subprocess.run(["/usr/bin/docker", *args], capture_output=True, text=True,
                          env=env, check=check)


def stop_time(tmp: Path) -> tuple[bool, str]:
    tag = "sptest-probe/srv:bench"
    packed = cli("pack", str(write(tmp / "srv", SERVER)), "-t", tag, "--python", "3.12")
    if packed.returncode != 0:
        return False, f"pack failed: {first_line(packed.stderr)}"
    name = f"sptest-probe-{os.getpid()}"
    docker("run", "-d", "--name", name, tag, check=True)
    try:
        for _ in range(100):
            if docker("exec", name, "python3", "-c", "import socket; "
                      "socket.create_connection(('127.0.0.1', 8000), 1)").returncode == 0:
                break
            time.sleep(0.2)
        started = time.monotonic()
        docker("stop", "-t", "10", name, check=True)
        seconds = time.monotonic() - started
        code = json.loads(docker("inspect", "--format", "{{json .State.ExitCode}}",
                                 name).stdout)
    finally:
        docker("rm", "-f", name)
        docker("image", "rm", tag)
    return code == 143 and seconds < 2, f"exit {code} after {seconds:.2f} s"


def missing_entrypoint(tmp: Path) -> tuple[bool, str]:
    proc = cli("pack", "six", "-t", "sptest-probe/noentry:bench", "--python", "3.12",
               "--entrypoint", "nosuchcmd")
    return proc.returncode == 4 and "nosuchcmd is not in the image" in proc.stderr, \
        f"exit {proc.returncode}"


def signal_mid_pack(tmp: Path) -> tuple[bool, str]:
    secret = f"probe-{os.getpid()}"
    temp = tmp / "tmp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakepacker", "pack", "six", "-t", "sptest-probe/sig:bench",
         "--python", "3.12", "--entrypoint", "python3", "-v",
         "--index-url", f"http://u:{secret}@127.0.0.1:9/simple"],
        env={**os.environ, "TMPDIR": str(temp)}, stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("#"):
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    left = [p for p in temp.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    ok = proc.returncode == 143 and not left and not any(temp.iterdir())
    return ok, f"exit {proc.returncode}; files left: {len(list(temp.rglob('*')))}"


PROBES: list[tuple[str, str, Probe, bool]] = [
    ("project with src/p/build, static/dist, .env", "nested kept; root build/ and "
     ".env left out", context_rules, False),
    ("--env A=$HOME/x B=pa$$w0rd C=<line break>", "values byte for byte", env_values, False),
    ("-t good:1 -t 'Bad Tag'", "exit 2 before any build", bad_tag, False),
    ("dependencies = \"notalist\"", "exit 2 naming the field", project_types, False),
    ("SOURCE '' and 'name @ URL'", "'' exit 2; URL is a requirement", sources, False),
    ("an aarch64 ELF beside the code", "skipped, exit 0", foreign_elf, False),
    ("ELF with e_phoff 2^63 and 65535 headers", "skipped, no traceback", crafted_elf, False),
    ("wait-for-port -h H -p P -t 1 --strict -- app", "timeout exit 10, app not run; "
     "-t 1e300 exit 2", wait_for_it_forms, False),
    ("a daemon socket that never answers", "exit 3, one line", hung_engine, False),
    ("docker stop of a packed http.server", "exit 143 in < 2 s", stop_time, True),
    ("--entrypoint nosuchcmd", "pack fails (exit 4), no tag", missing_entrypoint, True),
    ("SIGTERM mid-pack, index URL with a password", "exit 143, nothing left in TMPDIR",
     signal_mid_pack, True),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", action="store_true", help="run the engine probes too")
    args = parser.parse_args()
    rows = []
    for what, expected, probe, needs_engine in PROBES:
        if needs_engine and not args.engine:
            rows.append((what, expected, "(needs --engine)", "-"))
            continue
        tmp = Path(tempfile.mkdtemp(prefix="snakepacker-probe-"))
        try:
            held, observed = probe(tmp)
        except Exception as exc:  # a probe that breaks is a row that did not hold
            held, observed = False, f"{type(exc).__name__}: {exc}"[:90]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append((what, expected, observed, "yes" if held else "NO"))
    print("| probe | expected | observed | held |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row)
              + " |")
    return 0 if all(row[3] != "NO" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""pack's own time around the engine's build, when nothing changed.

    .venv/bin/python bench/nothing_changed.py [--runs N] [SOURCE [PACK_ARGS ...]]

Packs SOURCE (default: examples/demo-app for the jammy 3.12 family) once to fill the
engine's cache, then N times (default 10) as a user would, nothing changed between
runs, so every build step comes from the cache. Each run is followed by one through a
wrapper client (named in SNAKEPACKER_DOCKER) that times every docker call, so the
engine's share is known: the build, and the other calls (version, image queries, tag).
Prints one table: medians and spreads of the whole command, its build, its other
docker calls, and what is left, pack's own time (start-up, imports, planning, the
context, the report). Bytecode of snakepacker's modules is written, as after any
first run. Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [str(ROOT / "examples" / "demo-app"), "--minors", "3.12", "--cpython", "3.12.3"]
# A docker client that notes how long each call took, then answers as the real one.
WRAPPER = """#!/bin/sh
start=$(date +%s%N)
"{client}" "$@"
code=$?
echo "$(( ($(date +%s%N) - start) / 1000 )) $1" >> "{log}"
exit $code
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("pack_args", nargs="*", help="SOURCE and pack's options")
    args = parser.parse_args()
    client = shutil.which("docker", path="/usr/bin") or "/usr/bin/docker"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "snakepacker", "pack", *(args.pack_args or DEFAULT),
               "-t", "snakepacker-bench/nothing-changed:x"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    whole, build, other, calls = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="snakepacker-bench-") as tmp:
        log, wrapper = Path(tmp) / "calls", Path(tmp) / "docker"
        wrapper.write_text(WRAPPER.format(client=client, log=log))
        wrapper.chmod(0o755)
        for _ in range(args.runs):
            started = time.monotonic()
            subprocess.run(command, env=env, check=True, capture_output=True)
            whole.append(time.monotonic() - started)
            log.write_text("")
            subprocess.run(command, env={**env, "SNAKEPACKER_DOCKER": str(wrapper)},
                           check=True, capture_output=True)
            timed = [line.split() for line in log.read_text().splitlines()]
            build.append(sum(int(us) for us, what in timed if what == "build") / 1e6)
            other.append(sum(int(us) for us, what in timed if what != "build") / 1e6)
            calls.append(" ".join(what for _, what in timed if what != "build"))
    own = [w - b - o for w, b, o in zip(whole, build, other, strict=True)]

    def row(what: str, values: list[float]) -> str:
        return (f"| {what} | {statistics.median(values):.3f} "
                f"({min(values):.3f} to {max(values):.3f}) |")

    print("| what | median s |")
    print("|---|---|")
    print(row("pack, whole command", whole))
    print(row("its `docker build` (every step cached)", build))
    print(row(f"its other docker calls ({max(set(calls), key=calls.count)})", other))
    print(row("pack's own time (whole less the engine's calls)", own))
    return 0


if __name__ == "__main__":
    sys.exit(main())

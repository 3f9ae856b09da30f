#!/usr/bin/env python3
"""Benchmark: how long after a port opens does wait-for-port exit 0?

For each run: reserve a loopback port (bound, not listening, so connections
are refused), start wait-for-port on it, let it fail a few tries, then start
listening and measure the time from listen() to the process's exit.  The goal
is at most one period + 20 ms: a try is made every period, and the tool must
not add much on top.

Usage: python3 bench/wait_for_port.py [--runs N] [--period S]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "src" / "snakepacker" / "tools" / "wait_for_port.py"


def one_run(period: float, rng: random.Random) -> float:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    endpoint = f"127.0.0.1:{sock.getsockname()[1]}"
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", str(TOOL), "-q", "-p", str(period), "-t", "60", endpoint]
    )
    try:
        # Open at a random moment between two tries, after start-up is over.
        time.sleep(0.3 + 2 * period + rng.random() * period)
        sock.listen(8)
        opened = time.perf_counter()
        code = proc.wait(timeout=60)
        elapsed = time.perf_counter() - opened
    finally:
        proc.kill()
        sock.close()
    if code != 0:
        raise SystemExit(f"wait-for-port exited {code}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--periods", default="0.1,0.5", help="comma-separated periods")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    print("time from listen() to wait-for-port exiting 0, 127.0.0.1, milliseconds")
    print()
    header = (
        f"| {'period s':>8} | {'runs':>4} | {'min':>7} | {'median':>7} | {'max':>7} "
        f"| {'goal: period + 20':>17} | {'met':>4} |"
    )
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for period in (float(p) for p in args.periods.split(",")):
        times = [one_run(period, rng) * 1000 for _ in range(args.runs)]
        goal = period * 1000 + 20
        met = "yes" if max(times) <= goal else "no"
        print(
            f"| {period:>8.2f} | {len(times):>4} | {min(times):>7.1f} | "
            f"{statistics.median(times):>7.1f} | {max(times):>7.1f} | {goal:>17.0f} | {met:>4} |"
        )
    print()
    print("The port opens at a random moment between two tries, so the wait is")
    print("spread over 0 .. one period, plus the time to connect and exit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

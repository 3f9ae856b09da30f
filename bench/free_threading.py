"""A CPU-bound threaded workload on 1 and 2 threads, in a free-threaded image and a GIL one.

    .venv/bin/python bench/free_threading.py [--free REF] [--gil REF] [--runs 5]

Build the images first, e.g. (the CI slice builds both):

    snakepacker images build 3.13t 3.12 --minors 3.12,3.13t --cpython 3.12.3 --cpython 3.13.5 \\
        --quick

The same pure-Python work (counting primes by trial division) is split over 1 thread,
then over 2, inside each image; the median of RUNS timings after a warm-up is taken.
"speed-up" is the 1-thread time over the 2-thread time: close to 2 where threads run
in parallel (no GIL, 2 idle cores), about 1 where the GIL serialises them. The engine
is shared, so the load average at the start is printed beside the table. Not a test:
nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import sys

from snakepacker.engine import Engine, find_engine

WORKLOAD = r"""
import statistics, sys, threading, time

def primes(blocks):
    found = 0
    for lo in blocks:
        for n in range(max(lo, 2), lo + BLOCK):
            d = 2
            while d * d <= n:
                if n % d == 0:
                    break
                d += 1
            else:
                found += 1
    return found

LIMIT, BLOCK = 300_000, 1_000

def run(threads):
    # Blocks dealt round-robin, so that each thread gets as much of the work as the others.
    starts = range(0, LIMIT, BLOCK)
    counts = [0] * threads
    def work(i):
        counts[i] = primes(starts[i::threads])
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sum(counts) == 25997, counts
    return time.perf_counter() - started

runs = int(sys.argv[1])
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
for threads in (1, 2):
    run(threads)  # warm-up
    print(threads, statistics.median(run(threads) for _ in range(runs)), gil)
"""


def measure(engine: Engine, ref: str, runs: int) -> dict[int, tuple[float, bool]]:
    proc = engine.run(["--rm", "--read-only", "--cpus", "2", "--entrypoint", "python3", ref,
                       "-c", WORKLOAD, str(runs)])
    result = {}
    for line in proc.stdout.split("\n"):
        if line.strip():
            threads, seconds, gil = line.split()
            result[int(threads)] = (float(seconds), gil == "True")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--free", default="snakepacker/python:3.13t",
                        help="the free-threaded image (default %(default)s)")
    parser.add_argument("--gil", default="snakepacker/python:3.12",
                        help="the image with the GIL (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = find_engine()
    for ref in (args.free, args.gil):
        if engine.image_size(ref) is None:
            print(f"{ref} is not built; see this script's docstring", file=sys.stderr)
            return 1
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| image | GIL | 1 thread s | 2 threads s | speed-up |")
    print("|---|---|---|---|---|")
    for ref in (args.free, args.gil):
        times = measure(engine, ref, args.runs)
        one, gil = times[1]
        two, _ = times[2]
        print(f"| {ref} | {'on' if gil else 'off'} | {one:.2f} | {two:.2f} | {one / two:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

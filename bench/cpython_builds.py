"""A quick source build of CPython against a release one (PGO + LTO, the default).

    .venv/bin/python bench/cpython_builds.py [--minor 3.12] [--quick REF] [--release REF]

Build the two first, e.g.:

    snakepacker images build 3.12 --minors 3.12 --cpython 3.12.3 --quick
    snakepacker images build 3.12 --minors 3.12 --cpython 3.12.3 --namespace snakepacker-rg

Prints each image's size and the median time of a pure-Python workload (function
calls, dicts, string formatting and json) run inside it, 7 runs after 2 warm-ups, and
the release build's speed-up. bench/pyperformance.py is the wider comparison (a
pyperformance subset, BOLT and the distro's own CPython). Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import sys

from snakepacker.engine import find_engine

WORKLOAD = r"""
import json, statistics, time

def work():
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)
    fib(22)
    table = {f"key{i}": i * i for i in range(20000)}
    text = json.dumps(table)
    assert json.loads(text)["key7"] == 49
    return sum(len(f"{k}={v}") for k, v in table.items())

for _ in range(2):
    work()
runs = []
for _ in range(7):
    started = time.perf_counter()
    work()
    runs.append(time.perf_counter() - started)
print(statistics.median(runs))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minor", default="3.12")
    parser.add_argument("--quick", help="the quick build's image (default snakepacker/python:X.Y)")
    parser.add_argument("--release", help="the release build's image "
                                          "(default snakepacker-rg/python:X.Y)")
    args = parser.parse_args()
    quick = args.quick or f"snakepacker/python:{args.minor}"
    release = args.release or f"snakepacker-rg/python:{args.minor}"
    engine = find_engine()
    rows = []
    for label, ref in (("quick", quick), ("release", release)):
        size = engine.image_size(ref)
        if size is None:
            print(f"{ref} is not built; see this script's docstring", file=sys.stderr)
            return 1
        proc = engine.run(["--rm", "--read-only", ref, "python3", "-c", WORKLOAD])
        rows.append((label, ref, size / 1e6, float(proc.stdout.strip())))
    print(f"{'build':<15}{'image':<32}{'size MB':>9}{'workload ms':>13}{'speed-up':>10}")
    base = rows[0][3]
    for label, ref, size, seconds in rows:
        print(f"{label:<15}{ref:<32}{size:9.1f}{seconds * 1e3:13.1f}{base / seconds:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

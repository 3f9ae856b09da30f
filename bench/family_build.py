"""Where a family image's build time goes: each step's seconds, and the CPython build's
phases.

    .venv/bin/python bench/family_build.py [--image all] [IMAGES BUILD OPTIONS ...]

Builds IMAGE (default `all`) with `snakepacker images build IMAGE --no-cache -v` and the
options given after it (default `--minors 3.12 --cpython 3.12.3`; SNAKEPACKER_QUICK and
SNAKEPACKER_NAMESPACE apply as to the command line), then reads BuildKit's log: one row
per step that took a second or more, the longest first, and one per phase of each
CPython source build (configure, make, make install, the rest), read from the shell's
trace. Steps of different stages run at once, so their seconds add up to more than the
build's. The last row is the whole command's time, the images below IMAGE included
(built again too: --no-cache). Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import sys
import time

DEFAULT = ["--minors", "3.12", "--cpython", "3.12.3"]
STEP = re.compile(r"^\s*#(\d+) \[([^\]]+)\] (.*)$")
FIRST = re.compile(r"^\s*#1 \[internal\] load build definition")
DONE = re.compile(r"^\s*#(\d+) DONE ([0-9.]+)s$")
# The CPython step's shell trace (set -x): where each phase starts, and where it ends.
TRACE = re.compile(r"^\s*#(\d+) ([0-9.]+) \+ "
                   r"(\./configure|make install|make -j|make |rm -rf /usr/src)")
PHASES = {"./configure": "configure", "make -j": "make", "make install": "make install",
          "make ": "relink, strip, bytecode", "rm -rf /usr/src": "end"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="all")
    args, rest = parser.parse_known_args()
    command = [sys.executable, "-m", "snakepacker", "images", "build", args.image,
               *(rest or DEFAULT), "--no-cache", "-v"]
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command[2:])} failed:\n{proc.stderr[-3000:]}")
    # The images below IMAGE are built first, each a log of its own whose steps are
    # numbered from #1 again: IMAGE's is the last.
    log = (proc.stdout + proc.stderr).splitlines()
    starts = [i for i, line in enumerate(log) if FIRST.match(line)]
    names: dict[str, str] = {}
    took: dict[str, float] = {}
    marks: dict[str, list[tuple[float, str]]] = {}
    for line in log[starts[-1] if starts else 0:]:
        if m := STEP.match(line):
            names.setdefault(m.group(1), f"[{m.group(2)}] {m.group(3)[:60]}")
        elif m := DONE.match(line):
            took[m.group(1)] = float(m.group(2))
        elif m := TRACE.match(line):
            phase = next(PHASES[k] for k in PHASES if m.group(3).startswith(k))
            marks.setdefault(m.group(1), []).append((float(m.group(2)), phase))
    print("| step | s |")
    print("|---|---|")
    for step, spent in sorted(took.items(), key=lambda item: -item[1]):
        if spent >= 1 and step in names:
            print(f"| {names[step].replace('|', '/')} | {spent:.1f} |")
            phases = marks.get(step, [])
            for (at, phase), (until, _) in itertools.pairwise(phases):
                print(f"| &nbsp;&nbsp;{phase} | {until - at:.1f} |")
    print(f"| the whole `images build {args.image}` | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

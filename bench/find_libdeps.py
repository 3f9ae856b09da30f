#!/usr/bin/env python3
"""Benchmark: find-libdeps against the reference design's ldd pipeline.

Builds (once, cached under ~/.cache/snakepacker-bench) a virtualenv with
numpy, scipy, pillow, lxml, cryptography and grpcio, then runs on it

  * our find-libdeps (src/snakepacker/tools/find_libdeps.py), and
  * bench/find_libdeps_reference.sh (find *.so | xargs ldd | ... | dpkg-query -S),

and prints a table: times, speed-up, both outputs side by side, and a reason
for each package only one of them reports.

Usage: python3 bench/find_libdeps.py [--runs N] [--venv DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "src" / "snakepacker" / "tools" / "find_libdeps.py"
REFERENCE = ROOT / "bench" / "find_libdeps_reference.sh"
PACKAGES = ["numpy", "scipy", "pillow", "lxml", "cryptography", "grpcio"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "snakepacker-bench"


def build_venv(venv: Path, rebuild: bool) -> None:
    marker = venv / ".snakepacker-bench"
    wanted = " ".join(PACKAGES)
    if not rebuild and marker.exists() and marker.read_text() == wanted:
        return
    if venv.exists():
        shutil.rmtree(venv)
    print(f"building {venv} with {wanted} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--only-binary=:all:", *PACKAGES],
        check=True,
    )
    marker.write_text(wanted)


def timed(cmd: list[str], runs: int) -> tuple[list[float], subprocess.CompletedProcess[str]]:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    assert result is not None
    return times, result


def depends_closure(packages: set[str]) -> dict[str, str]:
    """Every package reachable through Depends/Pre-Depends -> the one it came from."""
    reached: dict[str, str] = {}
    todo = [(p, p) for p in sorted(packages)]
    while todo:
        package, origin = todo.pop()
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package],
            capture_output=True,
            text=True,
        ).stdout
        for alternative in out.split(","):
            name = alternative.split("|")[0].strip().split(" ")[0].split(":")[0]
            if name and name not in reached and name not in packages:
                reached[name] = origin
                todo.append((name, origin))
    return reached


def owner_by_dpkg_query(path: str) -> bool:
    return subprocess.run(["dpkg-query", "-S", path], capture_output=True).returncode == 0


def explain_ours_only(package: str, data: dict) -> str:
    users = sorted(data["packages"][package])
    libs = [lib for lib, owners in data["libraries"].items() if package in owners]
    named_so = [u for u in users if u.endswith(".so")]
    if not named_so:
        return f"needed only by files not named *.so, e.g. {os.path.basename(users[0])}"
    for lib in libs:
        if not owner_by_dpkg_query(lib):
            return (
                f"dpkg-query -S {lib} finds nothing: "
                "dpkg registers it on the other side of /usr-merge"
            )
    return f"needed by {os.path.basename(named_so[0])} (via {', '.join(libs)})"


def explain_reference_only(package: str, closure: dict[str, str]) -> str:
    if package in closure:
        return (
            f"indirect: needed by a library of {closure[package]}, whose Depends pull it in "
            "(ldd lists the whole tree, we list direct needs as dpkg-shlibdeps does)"
        )
    return "no file in the tree needs it directly"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--venv", type=Path, default=CACHE / f"venv-py{sys.version_info[0]}{sys.version_info[1]}"
    )
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    build_venv(args.venv, args.rebuild)
    tree = str(args.venv)
    so_files = sum(1 for p in Path(tree).rglob("*.so") if p.is_file() and not p.is_symlink())
    all_files = sum(1 for p in Path(tree).rglob("*") if p.is_file() and not p.is_symlink())

    # -I -S as the tool's own sh header runs it in images.
    ours_cmd = [sys.executable, "-I", "-S", str(TOOL), tree]
    reference_cmd = ["sh", str(REFERENCE), tree]
    timed(ours_cmd, 1)  # warm the page cache for both
    ours_times, ours = timed(ours_cmd, args.runs)
    # What every run of ours pays before it looks at a file: the interpreter
    # starting, and compiling the script (run as a script, it gets no cached
    # bytecode).
    start_times, _ = timed([sys.executable, "-I", "-S", "-c", "pass"], args.runs)
    help_times, _ = timed([*ours_cmd[:-1], "--help"], args.runs)
    ref_runs = max(1, min(args.runs, 3))
    ref_times, reference = timed(reference_cmd, ref_runs)
    data = json.loads(
        subprocess.run([*ours_cmd[:-1], "--json", tree], capture_output=True, text=True).stdout
    )

    ours_set = set(ours.stdout.split())
    ref_set = set(reference.stdout.split())
    ours_med = statistics.median(ours_times)
    ref_med = statistics.median(ref_times)

    print(f"tree: {tree}")
    print(f"      {all_files} files, {so_files} named *.so; packages: {' '.join(PACKAGES)}")
    print()
    print(f"| {'tool':<28} | {'runs':>4} | {'min s':>7} | {'median s':>8} | {'max s':>7} |")
    print(f"|{'-' * 30}|{'-' * 6}|{'-' * 9}|{'-' * 10}|{'-' * 9}|")
    for name, times in (
        ("find-libdeps (ours)", ours_times),
        ("ldd pipeline (reference)", ref_times),
        ("  python -I -S -c pass", start_times),
        ("  find-libdeps --help", help_times),
    ):
        print(
            f"| {name:<28} | {len(times):>4} | {min(times):>7.3f} | "
            f"{statistics.median(times):>8.3f} | {max(times):>7.3f} |"
        )
    print()
    print(f"speed-up (median): {ref_med / ours_med:.1f}x")
    fixed = statistics.median(help_times)
    print(
        f"of our median: {statistics.median(start_times) * 1000:.0f} ms interpreter start, "
        f"{fixed * 1000:.0f} ms until --help is printed (start + compiling the script), "
        f"{(ours_med - fixed) * 1000:.0f} ms scanning"
    )
    print(f"exit status: ours {ours.returncode}, reference {reference.returncode}")
    if ours.stderr.strip():
        print("our stderr:", *ours.stderr.strip().splitlines(), sep="\n  ")
    print()
    print(f"| {'ours':<24} | {'reference':<24} |")
    print(f"|{'-' * 26}|{'-' * 26}|")
    for package in sorted(ours_set | ref_set):
        left = package if package in ours_set else ""
        right = package if package in ref_set else ""
        print(f"| {left:<24} | {right:<24} |")
    print()
    differences = sorted(ours_set ^ ref_set)
    if not differences:
        print("no differences")
        return 0
    closure = depends_closure(ours_set)
    print("differences:")
    for package in differences:
        if package in ours_set:
            print(f"  + {package} (ours only): {explain_ours_only(package, data)}")
        else:
            print(f"  - {package} (reference only): {explain_reference_only(package, closure)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

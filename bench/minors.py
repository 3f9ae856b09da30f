"""Every CPython minor of the family built on jammy from a tarball the package archives
carry, and each image smoke-tested.

    .venv/bin/python bench/minors.py [--minors 3.8,3.13t,...] [--namespace sp-bench-minors]
        [--no-cache] [--keep] [-v]

Drives the command line as a user would: `images build base` once, then for each case
`images build TAG --minors X.Y --cpython VERSION` (a quick build: SNAKEPACKER_QUICK=1),
and runs the image's smoke test: its python3 and pythonX.Y, read-only as nobody,
import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, decimal and uuid; the GIL is
off in a free-threaded image and on in the others; find-libdeps finds every library
the interpreter's ELF files need (the prefix of a source build, lib-dynload of the
distro's). Prints one table: route, exact version, build seconds and size of the
image itself (its parents are rows of their own when this run built them), and the
smoke test's result or the one line that says why a case failed. 3.7 is tried like
the others: its tarballs are fetched before anything is built, so where none answers
the row says so within seconds. With the build cache (the default) a case built
before shows the seconds of a cached build; --no-cache rebuilds every step (base too).
Images go under --namespace and are removed at the end unless --keep is given. Expect
six to eight minutes a source-built minor on 2 shared cores, more for `all` and
`all-pillow` (which 3.14t-pillow stands on). Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

from snakepacker.engine import Engine, find_engine
from snakepacker.family.cpython import base_minor, is_free_threaded
from snakepacker.family.images import Family
from snakepacker.options import FamilyOptions

NAMESPACE = "sp-bench-minors"
# The grade of every build: quick. One place to change should the switch be renamed.
QUICK_ENV = {"SNAKEPACKER_QUICK": "1"}
NOBODY = "65534:65534"


@dataclass(frozen=True)
class Case:
    """One image to build: TAG of the family narrowed to MINOR, from tarball VERSION
    (None: the distro's own packages)."""

    minor: str
    tag: str
    version: str | None
    route: str = ""  # forced route, e.g. "source" for jammy's own 3.10

    @property
    def label(self) -> str:
        return f"{self.tag} ({self.route})" if self.route else self.tag

    def args(self) -> list[str]:
        args = [self.tag, "--minors", self.minor]
        if self.version:
            args += ["--cpython", f"{self.minor}={self.version}"]
        if self.route:
            args += ["--route", f"{self.minor}={self.route}"]
        return args


# The newest tarball of each minor that the package archives served here (see
# /work/shared/data/README.md, "Seen answering"); 3.7's newest listed one is tried too.
CASES = (
    Case("3.7", "3.7", "3.7.5"),
    Case("3.8", "3.8", "3.8.10"),
    Case("3.9", "3.9", "3.9.5"),
    Case("3.10", "3.10", None),  # jammy ships 3.10: the distro route
    Case("3.10", "3.10", "3.10.12", route="source"),
    Case("3.11", "3.11", "3.11.2"),
    Case("3.12", "3.12", "3.12.3"),
    Case("3.13", "3.13", "3.13.15"),
    Case("3.13t", "3.13t", "3.13.15"),
    Case("3.14", "3.14", "3.14.4"),
    Case("3.14t", "3.14t", "3.14.4"),
    Case("3.14t", "3.14t-pillow", "3.14.4"),
)

# What the build's progress says when an image is done: "[2/3] 3.12: 61.2 MB in 301s".
DONE = re.compile(r"\[\d+/\d+\] (?P<tag>\S+): (?P<mb>[\d.]+) MB in (?P<s>\d+)s$")

# Run in the image by its interpreter: the exact version, whether the GIL is on, the
# modules that failed to import, and where its compiled modules are.
PROBE = r"""
import importlib, json, platform, sys, sysconfig
failed = []
for name in ("ssl", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "readline", "decimal", "uuid"):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append("%s (%s)" % (name, exc))
print(json.dumps({
    "version": platform.python_version(),
    "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
    "failed": failed,
    "prefix": sys.prefix,
    "dynload": sysconfig.get_config_var("DESTSHARED"),
}))
"""


@dataclass
class Row:
    label: str
    route: str = "-"
    version: str = "-"
    seconds: float | None = None
    mb: float | None = None
    smoke: str = "-"
    why: str = ""


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def cli(args: list[str], verbose: bool) -> tuple[int, list[str]]:
    """Run the command line with a quick build; return its exit code and its lines."""
    env = {**os.environ, **QUICK_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "snakepacker", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if verbose or DONE.search(line.rstrip()):
            log(line.rstrip())
    return proc.wait(), lines


def reason(lines: list[str]) -> str:
    """The line that says why a command failed: its `error:` line, else its last one."""
    errors = [line for line in lines if "error" in line.lower()]
    said = (errors or lines or ["no output"])[-1].strip()
    said = re.sub(r"\w+://[^/\s]+", "MIRROR", said)  # a table names no host
    return said if len(said) <= 240 else said[:237] + "..."


def probe(engine: Engine, ref: str, python: str) -> dict | str:
    """PROBE's record from PYTHON in REF, run read-only as nobody; or why it failed."""
    proc = engine.run(["--rm", "--read-only", "--user", NOBODY, "--entrypoint", python, ref,
                       "-c", PROBE], check=False)
    if proc.returncode != 0:
        return f"{python}: " + reason((proc.stderr or proc.stdout).splitlines())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def smoke(engine: Engine, ref: str, case: Case) -> tuple[str, str, str]:
    """(exact version, result, why) of REF's smoke test."""
    minor = base_minor(case.minor)
    records = [probe(engine, ref, python) for python in ("python3", f"python{case.minor}")]
    failures = [r for r in records if isinstance(r, str)]
    if failures:
        return "-", "fail", "; ".join(failures)
    record = records[0]
    problems = list(record["failed"])
    if records[1] != record:
        problems.append(f"python3 and python{case.minor} differ")
    if not record["version"].startswith(minor + "."):
        problems.append(f"python3 is {record['version']}, not {minor}")
    if record["gil"] == is_free_threaded(case.minor):
        problems.append(f"GIL {'on' if record['gil'] else 'off'}")
    where = record["prefix"] if record["prefix"] != "/usr" else record["dynload"]
    libs = engine.run(["--rm", "--read-only", "--entrypoint", "find-libdeps", ref, where],
                      check=False)
    if libs.returncode != 0:
        problems.append("find-libdeps: " + reason(libs.stderr.splitlines()))
    return record["version"], "fail" if problems else "ok", "; ".join(problems)


def base_row(lines: list[str]) -> Row:
    done = [d for d in map(DONE.search, (line.strip() for line in lines)) if d]
    return Row("base", seconds=float(done[-1]["s"]), mb=float(done[-1]["mb"]))


def run_case(engine: Engine, case: Case, namespace: str, cache: list[str],
             verbose: bool, rows: dict[str, Row], made: dict[str, str | None]) -> None:
    """Build CASE through the command line and smoke-test it; add its rows (and its
    parents', the first time this run built them) to ROWS, and what it tagged to MADE
    (family tag -> interpreter version, for its patch tag)."""
    print(f"building {case.label}", file=sys.stderr, flush=True)
    started = time.monotonic()
    code, lines = cli(["images", "build", *case.args(), "--namespace", namespace, *cache],
                      verbose)
    for line in lines:
        done = DONE.search(line.strip())
        if done and done["tag"] != case.tag and done["tag"] not in rows:
            rows[done["tag"]] = Row(done["tag"], seconds=float(done["s"]),
                                    mb=float(done["mb"]), smoke="(built for " + case.label + ")")
            made[done["tag"]] = None
    ref = f"{namespace}/python:{case.tag}"
    row = Row(case.label, route=case.route or ("source" if case.version else "distro"))
    rows[case.label] = row
    if code != 0:
        row.smoke, row.why = "not built", reason(lines)
        row.seconds = time.monotonic() - started
        return
    done = [DONE.search(line.strip()) for line in lines]
    mine = [d for d in done if d and d["tag"] == case.tag]
    if mine:
        row.seconds, row.mb = float(mine[-1]["s"]), float(mine[-1]["mb"])
    row.version, row.smoke, row.why = smoke(engine, ref, case)
    made[case.tag] = None if row.version == "-" else row.version


def names(namespace: str, made: dict[str, str | None]) -> list[str]:
    """Every local name the command line gave the images MADE."""
    family = Family(FamilyOptions(namespace=namespace))
    refs: list[str] = []
    for tag, version in made.items():
        refs += family.local_names(tag)
        if version:
            refs += family.local_names_of(family.patch_tag(tag, version))
    return refs


def table(rows: dict[str, Row]) -> list[str]:
    lines = ["| image | route | version | build s | MB | smoke test | why not |",
             "|---|---|---|---:|---:|---|---|"]
    for row in rows.values():
        seconds = f"{row.seconds:.0f}" if row.seconds is not None else "-"
        mb = f"{row.mb:.1f}" if row.mb is not None else "-"
        lines.append(f"| {row.label} | {row.route} | {row.version} | {seconds} | {mb} | "
                     f"{row.smoke} | {row.why} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minors", default="",
                        help="comma-separated minors to build, in this order (default: every case: "
                             + ", ".join(dict.fromkeys(c.minor for c in CASES)) + ")")
    parser.add_argument("--namespace", default=NAMESPACE,
                        help="where the images go (a shared engine: your own)")
    parser.add_argument("--no-cache", action="store_true",
                        help="build every step again (base too, for every case)")
    parser.add_argument("--keep", action="store_true", help="keep the images made")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every build line")
    args = parser.parse_args()
    wanted = [m for m in args.minors.split(",") if m]
    unknown = set(wanted) - {c.minor for c in CASES}
    if unknown:
        parser.error(f"no case for {', '.join(sorted(unknown))}")
    # In the order asked for, so that what matters most is measured first.
    cases = [c for m in dict.fromkeys(wanted) for c in CASES if c.minor == m] or list(CASES)
    engine = find_engine()
    cache = ["--no-cache"] if args.no_cache else []
    rows: dict[str, Row] = {}
    made: dict[str, str | None] = {}
    try:
        print("building base", file=sys.stderr, flush=True)
        code, lines = cli(["images", "build", "base", "--namespace", args.namespace, *cache],
                          args.verbose)
        if code != 0:
            print(f"base failed: {reason(lines)}", file=sys.stderr)
            return 1
        made["base"] = None
        rows["base"] = base_row(lines)
        for case in cases:
            run_case(engine, case, args.namespace, cache, args.verbose, rows, made)
            print("\n".join(table(rows)), file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            engine.remove(names(args.namespace, made))
    print(f"jammy, quick builds, {os.cpu_count()} cores; build s and MB: the image alone")
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

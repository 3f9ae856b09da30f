"""Benchmark `snakepacker pack` against a naive single-stage build and the floor.

    .venv/bin/python bench/pack.py [--only NAME ...] [--skip-naive]
    .venv/bin/python bench/pack.py --loop [--code-changes N] [--only NAME ...]

For ipython, black, a small Flask app and a Pillow app it prints one row each:

- pack: the packed image's size; floor: the size report's floor (base + interpreter +
  system libraries + venv without build tools); naive: the same app built in one stage
  on the family's base (distro python3 + pip + build-essential + pip install), as a
  Dockerfile written without care would do it;
- cold: a pack whose layers are all new (a venv path no earlier run used), with the
  installer's download cache as it is; warm: a pack after a one-line change to the
  project's own code (projects only);
- start: median wall time, inside the container, of `python -c 'import MOD'` on a
  read-only root file system, and the same in a writable container where the .pyc
  files are present; their ratio.

With --loop it compares instead pack's edit-rebuild loop with uv's own Docker recipe
(bench/uvrecipe.py: the uv guide's multistage recipe on a slim CPython 3.12 built here
the official image's way) for a Flask app, an IPython app and a numpy app, each a
pyproject project locked with uv.lock (so both sides install the same versions, pack
through its uv.lock route), packed with CPython 3.12:

- cold: every step built again (the engine's --no-cache), the download caches warm;
- code: rebuild after a one-line change to the project's module;
- deps: rebuild after one dependency is added (six) and the lock written again;
- code MB / deps MB: bytes of the layers of the rebuilt image that the image before it
  did not have (what a push would upload);
- layers, MB: the final image's layer count and size;
- start ro: median wall time of `python -c 'import MOD'` in a read-only container, as
  the image's own user.

With --code-changes N, a second table: per app N rebuilds after a one-line change, the
recipe's and pack's in turn, their medians (min to max) and the median of the pairs'
ratios.

Times are wall times of `docker build` (recipe) and of the whole `snakepacker pack`
command (pack: its start-up, the build, tagging and its size report).

Extra CA certificates come from SNAKEPACKER_CA_CERTS, as for the tests. Not a test:
nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import uvrecipe  # bench/uvrecipe.py, beside this file

from snakepacker.engine import Engine, find_engine


def pyproject(module: str, dependencies: list[str], requires_python: str | None = None) -> str:
    """A setuptools project named after MODULE, whose console script runs MODULE:main."""
    name = module.replace("_", "-")
    requires = f'requires-python = "{requires_python}"\n' if requires_python else ""
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\n'
        'build-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n{requires}'
        f"dependencies = {json.dumps(dependencies)}\n"
        f'[project.scripts]\n{name} = "{module}:main"\n'
    )


FLASK_APP = {
    "pyproject.toml": pyproject("hello_flask", ["flask>=3"]),
    "hello_flask.py": """\
        from flask import Flask

        app = Flask(__name__)


        @app.get("/")
        def index():
            return "hello"


        def main():
            print(app.test_client().get("/").data.decode())
    """,
}
PILLOW_APP = {
    "pyproject.toml": pyproject("thumbs", ["pillow>=10"]),
    "thumbs.py": """\
        from PIL import Image


        def main():
            image = Image.new("RGB", (640, 480), "navy")
            image.thumbnail((64, 64))
            print(image.size)
    """,
}


@dataclass(frozen=True)
class Case:
    name: str
    source: str | dict[str, str]  # a requirement, or the files of a project
    module: str  # what `import` measures
    code_file: str | None = None  # the file the warm rebuild changes


CASES = (
    Case("ipython", "ipython", "IPython"),
    Case("black", "black", "black"),
    Case("flask app", FLASK_APP, "hello_flask", "hello_flask.py"),
    Case("pillow app", PILLOW_APP, "thumbs", "thumbs.py"),
)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pack(source: str, tag: str, *extra: str) -> tuple[float, dict[str, float]]:
    # snakepacker as a user has it: pip compiles an installed package's bytecode, so
    # its modules are not compiled again on every run, whatever this shell asks.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "snakepacker", "pack", source, "-t", tag,
                           *extra], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"pack {source} failed:\n{proc.stderr[-3000:]}")
    sizes = {}
    for line in proc.stdout.splitlines():
        label, _, value = line.strip().rpartition(" ")
        if value == "MB":
            label, _, value = label.rpartition(" ")
            sizes[label.strip().split(" (")[0]] = float(value)
    return seconds, sizes


def naive(engine: Engine, case: Case, context: Path, tag: str) -> float:
    """Size (MB) of a single-stage build on the family's base."""
    install = "/app" if isinstance(case.source, dict) else f"'{case.source}'"
    copy = "COPY . /app\n" if isinstance(case.source, dict) else ""
    (context / "Dockerfile.naive").write_text(textwrap.dedent(f"""\
        FROM snakepacker/python:base
        RUN apt-get update && apt-get install -y python3 python3-pip build-essential
        {copy}RUN --mount=type=secret,id=ca-certs,target=/ca.pem \\
            if [ -s /ca.pem ]; then export PIP_CERT=/ca.pem; fi; pip install {install}
        CMD ["python3"]
    """))
    args = [engine.client, "build", "-q", "-t", tag, "-f", str(context / "Dockerfile.naive")]
    certs = os.environ.get("SNAKEPACKER_CA_CERTS", "").split(os.pathsep)[0]
    if certs:
        args += ["--secret", f"id=ca-certs,src={certs}"]
    proc = subprocess.run([*args, str(context)], env=engine.env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        say(f"naive build of {case.name} failed: {proc.stderr[-1500:]}")
        return float("nan")
    return (engine.image_size(tag) or 0) / 1e6


START = (
    "import statistics, subprocess, sys, time\n"
    "runs = []\n"
    "for _ in range(15):\n"
    "    t = time.perf_counter()\n"
    "    subprocess.run([sys.executable, '-c', 'import {module}'], check=True)\n"
    "    runs.append(time.perf_counter() - t)\n"
    "print(statistics.median(runs[3:]))\n"
)


def start_time(engine: Engine, tag: str, module: str, read_only: bool) -> float:
    options = ["--read-only", "--tmpfs", "/tmp"] if read_only else ["--user", "0"]
    proc = engine.run(["--rm", *options, "--entrypoint", "python", tag, "-c",
                       START.format(module=module)], check=False)
    if proc.returncode != 0:
        say(f"start time of {tag} failed: {proc.stderr[-800:]}")
        return float("nan")
    return float(proc.stdout.strip())


# -- the edit-rebuild loop against uv's recipe (--loop) ----------------------------------

LOOP_APPS: dict[str, tuple[str, list[str], str]] = {
    # name: (module, dependencies, the module's code)
    "flask app": ("hello_flask", ["flask>=3"], FLASK_APP["hello_flask.py"]),
    "ipython app": ("hello_ipython", ["ipython"], """\
        import IPython


        def main():
            print(IPython.__version__)
    """),
    "numpy app": ("hello_numpy", ["numpy"], """\
        import numpy as np


        def main():
            print(np.linalg.det(np.eye(3)))
    """),
}
LOOP_MINOR = "3.12"
CHANGED_DEPENDENCY = "six"


def loop_project(folder: Path, module: str, dependencies: list[str], code: str) -> None:
    (folder / "pyproject.toml").write_text(pyproject(module, dependencies, f">={LOOP_MINOR}"))
    (folder / f"{module}.py").write_text(textwrap.dedent(code))


def new_layer_bytes(engine: Engine, before: str, after: str) -> float:
    """MB of AFTER's layers that BEFORE does not have; NaN when the history cannot be
    matched with the layers."""
    old = set(uvrecipe.layers(engine, before))
    new = uvrecipe.layers(engine, after)
    sizes = uvrecipe.layer_sizes(engine, after)
    if len(sizes) != len(new):
        return float("nan")
    return sum(size for layer, size in zip(new, sizes, strict=True) if layer not in old) / 1e6


@dataclass
class LoopRow:
    app: str
    tool: str
    cold: float = float("nan")
    code: float = float("nan")
    deps: float = float("nan")
    code_mb: float = float("nan")
    deps_mb: float = float("nan")
    layers: int = 0
    size: float = float("nan")
    start: float = float("nan")


def loop_case(engine: Engine, name: str) -> list[LoopRow]:
    module, dependencies, code = LOOP_APPS[name]
    slug = name.replace(" ", "-")
    rows = []
    with tempfile.TemporaryDirectory(prefix="snakepacker-loop-") as tmp:
        folder = Path(tmp) / slug
        folder.mkdir()
        loop_project(folder, module, dependencies, code)
        uvrecipe.lock(folder, LOOP_MINOR, engine=engine)
        script = [module.replace("_", "-")]

        def recipe(tag: str, *extra: str) -> float:
            return uvrecipe.build_recipe(folder, tag, cmd=script, minor=LOOP_MINOR,
                                         engine=engine, extra=extra).seconds

        def packed(tag: str, *extra: str) -> float:
            return pack(str(folder), tag, "--python", LOOP_MINOR, *extra)[0]

        for tool, build in (("uv recipe", recipe), ("pack", packed)):
            tag = f"snakepacker-bench/loop-{slug}:{tool.split()[-1]}"
            row = LoopRow(name, tool)
            say(f"{name}, {tool}: cold build")
            row.cold = build(f"{tag}-0", "--no-cache")
            build(f"{tag}-0")  # the cache as a developer's: this source's steps in it
            say(f"{name}, {tool}: rebuild after a code change")
            path = folder / f"{module}.py"
            original = path.read_text()
            path.write_text(original + f"# changed {uuid.uuid4().hex}\n")
            row.code = build(f"{tag}-1")
            row.code_mb = new_layer_bytes(engine, f"{tag}-0", f"{tag}-1")
            say(f"{name}, {tool}: rebuild after a dependency change")
            loop_project(folder, module, [*dependencies, CHANGED_DEPENDENCY], code)
            path.write_text(original)
            uvrecipe.lock(folder, LOOP_MINOR, engine=engine)
            row.deps = build(f"{tag}-2")
            row.deps_mb = new_layer_bytes(engine, f"{tag}-0", f"{tag}-2")
            row.layers = len(uvrecipe.layers(engine, f"{tag}-0"))
            row.size = (engine.image_size(f"{tag}-0") or 0) / 1e6
            row.start = start_time(engine, f"{tag}-0", module, read_only=True)
            # Back to the first state for the other tool.
            loop_project(folder, module, dependencies, code)
            uvrecipe.lock(folder, LOOP_MINOR, engine=engine)
            engine.remove([f"{tag}-1", f"{tag}-2"])
            rows.append(row)
    return rows


@dataclass
class CodeChangeRow:
    app: str
    recipe: list[float]
    pack: list[float]

    def ratio(self) -> float:
        """The median of the pairs' ratios (each pack over the recipe run before it)."""
        return statistics.median(p / r for p, r in zip(self.pack, self.recipe, strict=True))


def code_changes(engine: Engine, name: str, runs: int) -> CodeChangeRow:
    """RUNS rebuilds after a one-line change, the recipe's and pack's in turn (A B A B:
    the machine's drift falls on both), each after a change of its own."""
    module, dependencies, code = LOOP_APPS[name]
    slug = name.replace(" ", "-")
    row = CodeChangeRow(name, [], [])
    with tempfile.TemporaryDirectory(prefix="snakepacker-loop-") as tmp:
        folder = Path(tmp) / slug
        folder.mkdir()
        loop_project(folder, module, dependencies, code)
        uvrecipe.lock(folder, LOOP_MINOR, engine=engine)
        path = folder / f"{module}.py"
        original = path.read_text()
        builds = {
            "recipe": lambda: uvrecipe.build_recipe(
                folder, f"snakepacker-bench/loop-{slug}:recipe-code", engine=engine,
                cmd=[module.replace("_", "-")], minor=LOOP_MINOR).seconds,
            "pack": lambda: pack(str(folder), f"snakepacker-bench/loop-{slug}:pack-code",
                                 "--python", LOOP_MINOR)[0],
        }
        for build in builds.values():
            build()  # the cache as a developer's: this source's steps in it
        say(f"{name}: {runs} code changes, the recipe and pack in turn")
        for _ in range(runs):
            for tool, build in builds.items():
                path.write_text(original + f"# changed {uuid.uuid4().hex}\n")
                getattr(row, tool).append(build())
    return row


def print_code_changes(rows: list[CodeChangeRow]) -> None:
    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({min(values):.2f} to {max(values):.2f})"

    print("| app | uv recipe code s | pack code s | pack / recipe |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r.app} | {spread(r.recipe)} | {spread(r.pack)} | {r.ratio():.2f} |")


def print_loop(rows: list[LoopRow]) -> None:
    header = ("app", "tool", "cold s", "code s", "deps s", "code MB", "deps MB", "layers",
              "MB", "start ro ms")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join([
            r.app, r.tool, f"{r.cold:.1f}", f"{r.code:.1f}", f"{r.deps:.1f}",
            f"{r.code_mb:.3f}", f"{r.deps_mb:.1f}", str(r.layers), f"{r.size:.1f}",
            f"{r.start * 1000:.0f}",
        ]) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="run only these cases (by name)")
    parser.add_argument("--skip-naive", action="store_true", help="no naive builds")
    parser.add_argument("--loop", action="store_true",
                        help="the edit-rebuild loop against uv's Docker recipe")
    parser.add_argument("--code-changes", type=int, default=0, metavar="N",
                        help="with --loop: then N code changes each, the recipe's and "
                             "pack's rebuilds in turn, as a second table of medians")
    args = parser.parse_args()
    engine = find_engine()
    if args.loop:
        uvrecipe.build_uv(LOOP_MINOR, engine=engine)
        names = [name for name in LOOP_APPS if not args.only or name in args.only]
        loop_rows = [row for name in names for row in loop_case(engine, name)]
        changes = [code_changes(engine, name, args.code_changes)
                   for name in names if args.code_changes > 0]
        print_loop(loop_rows)
        if changes:
            print()
            print_code_changes(changes)
        return 0
    rows = []
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        slug = case.name.replace(" ", "-")
        tag = f"snakepacker-bench/{slug}:pack"
        with tempfile.TemporaryDirectory(prefix="snakepacker-bench-") as tmp:
            context = Path(tmp)
            if isinstance(case.source, dict):
                for name, text in case.source.items():
                    (context / name).write_text(textwrap.dedent(text))
                source = str(context)
            else:
                source = case.source
            say(f"{case.name}: cold pack")
            venv = f"/usr/share/python3/bench-{uuid.uuid4().hex[:8]}"
            cold, _ = pack(source, f"{tag}-cold", "--venv-path", venv)
            engine.remove([f"{tag}-cold"])
            say(f"{case.name}: pack")
            _, sizes = pack(source, tag)
            warm = float("nan")
            if case.code_file:
                say(f"{case.name}: warm rebuild after a one-line change")
                path = context / case.code_file
                path.write_text(path.read_text() + f"# changed {uuid.uuid4().hex}\n")
                warm, _ = pack(source, tag)
            size = (engine.image_size(tag) or 0) / 1e6
            naive_size = float("nan")
            if not args.skip_naive:
                say(f"{case.name}: naive single-stage build")
                naive_dir = context / "naive"
                naive_dir.mkdir()
                if isinstance(case.source, dict):
                    for name in case.source:
                        shutil.copy(context / name, naive_dir / name)
                naive_size = naive(engine, case, naive_dir, f"snakepacker-bench/{slug}:naive")
            ro = start_time(engine, tag, case.module, read_only=True)
            rw = start_time(engine, tag, case.module, read_only=False)
        rows.append((case.name, size, sizes.get("floor", float("nan")), naive_size, cold, warm,
                     ro, rw))

    header = ("app", "pack MB", "floor MB", "pack/floor", "naive MB", "pack/naive",
              "cold s", "warm s", "start ro ms", "start rw ms", "ro/rw")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, size, floor, naive_size, cold, warm, ro, rw in rows:
        print(" | ".join([
            name, f"{size:.1f}", f"{floor:.1f}", f"{size / floor:.3f}", f"{naive_size:.1f}",
            f"{size / naive_size:.2f}", f"{cold:.0f}",
            "-" if warm != warm else f"{warm:.1f}",
            f"{ro * 1000:.0f}", f"{rw * 1000:.0f}", f"{ro / rw:.2f}",
        ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

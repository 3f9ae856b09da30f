"""Sizes of `snakepacker pack`, `snakepacker pack --distroless` and the uv guide's
multistage recipe on a slim Python, per app.

    .venv/bin/python bench/distroless.py [--only NAME ...] [--prefix REPO] [--no-recipe]

For a small Flask app (3.12), a numpy computation (3.10, the distro's Python) and the
example project (psycopg2 from its sdist, Pillow; 3.12-pillow) it packs both ways and
prints one row each: the image size, its compressed size (`docker save | gzip -c`,
bytes counted), and the number of distro packages in it as `snakepacker sbom` reports
them (from dpkg's database in the ordinary image, from the status.d fragment in the
distroless one). 1 MB = 10^6 bytes.

The recipe column is bench/uvrecipe.py's: a slim Python built here the way the
official slim image is (bookworm, CPython from its tarball in /usr/local), and the uv
guide's multistage, non-editable recipe on it. The recipe installs a locked
pyproject project, at 3.12 (the slim image built here): the numpy app is given a
pyproject.toml naming numpy for it, so its recipe row is on 3.12 where the packs are on
3.10; the example project has none (psycopg2's sdist needs a compiler and libpq's
headers, which the recipe's slim builder does not have). Extra CA certificates come
from SNAKEPACKER_CA_CERTS. Not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from snakepacker.engine import Engine, find_engine

ROOT = Path(__file__).resolve().parents[1]
RECIPE_MINOR = "3.12"

APPS: dict[str, tuple[dict[str, str] | None, tuple[str, ...]]] = {
    "flask": ({
        "pyproject.toml": """\
            [project]
            name = "hello-web"
            version = "1.0"
            requires-python = ">=3.10"
            dependencies = ["flask>=3"]
            [project.scripts]
            hello-web = "hello_web:main"
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"
        """,
        "hello_web.py": """\
            import flask
            app = flask.Flask(__name__)

            @app.get("/")
            def index():
                return "hello"

            def main():
                app.run(host="0.0.0.0", port=8000)
        """,
    }, ("--python", "3.12")),
    "numpy": ({
        "requirements.txt": "numpy\n",
        "compute.py": "import numpy as np\nprint(np.linalg.det(np.eye(3)))\n",
    }, ("--python", "3.10", "--entrypoint", "python compute.py")),
    "demo-app": (None, ("--pillow",)),
}
# What the recipe builds for each app: (files added for it, its CMD); None: no row.
RECIPES: dict[str, tuple[dict[str, str], list[str]] | None] = {
    "flask": ({}, ["hello-web"]),
    "numpy": ({"pyproject.toml": """\
        [project]
        name = "compute"
        version = "1.0"
        requires-python = ">=3.10"
        dependencies = ["numpy"]
    """}, ["python", "compute.py"]),
    "demo-app": None,
}


def run(engine: Engine, *args: str) -> str:
    return subprocess.run([engine.client, *args], env=engine.env, capture_output=True,
                          text=True, check=True).stdout


def compressed(engine: Engine, tag: str) -> int:
    save = subprocess.Popen([engine.client, "save", tag], env=engine.env,
                            stdout=subprocess.PIPE)
    gzip = subprocess.run(["gzip", "-c"], stdin=save.stdout, capture_output=True, check=True)
    assert save.stdout is not None
    save.stdout.close()
    save.wait()
    return len(gzip.stdout)


def packages(tag: str) -> int:
    """Distro packages in TAG, as `snakepacker sbom` finds them."""
    proc = subprocess.run([sys.executable, "-m", "snakepacker", "sbom", tag],
                          capture_output=True, text=True, check=True)
    return sum(1 for c in json.loads(proc.stdout)["components"]
               if c.get("purl", "").startswith("pkg:deb/"))


def pack(source: Path, tag: str, argv: tuple[str, ...]) -> None:
    proc = subprocess.run([sys.executable, "-m", "snakepacker", "pack", str(source), "-t", tag,
                           *argv], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"pack {source} failed:\n{proc.stderr[-3000:]}")


def measure(engine: Engine, tag: str) -> tuple[float, float, int]:
    size = int(run(engine, "image", "inspect", "--format", "{{.Size}}", tag))
    return size / 1e6, compressed(engine, tag) / 1e6, packages(tag)


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (folder / file).write_text(textwrap.dedent(text))


def recipe_row(engine: Engine, name: str, source: Path,
               prefix: str) -> tuple[float, float, int] | None:
    recipe = RECIPES[name]
    if recipe is None:
        return None
    from uvrecipe import build_recipe, build_uv  # bench/uvrecipe.py, beside this file

    build_uv(RECIPE_MINOR, engine=engine)  # the slim and uv images as the recipe has them now
    extra, cmd = recipe
    write(source, extra)
    tag = f"{prefix}-{name}:recipe"
    build_recipe(source, tag, cmd=cmd, minor=RECIPE_MINOR, engine=engine)
    return measure(engine, tag)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(APPS))
    parser.add_argument("--prefix", default="snakepacker-bench/distroless")
    parser.add_argument("--no-recipe", action="store_true", help="leave the recipe out")
    args = parser.parse_args()
    engine = find_engine("auto")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or list(APPS):
            files, argv = APPS[name]
            source = ROOT / "examples" / "demo-app"
            if files is not None:
                source = Path(tmp) / name
                write(source, files)
            measured = []
            for distroless in (False, True):
                tag = f"{args.prefix}-{name}:{'distroless' if distroless else 'normal'}"
                pack(source, tag, (*argv, *(("--distroless",) if distroless else ())))
                measured.append(measure(engine, tag))
            recipe = None if args.no_recipe or files is None else \
                recipe_row(engine, name, source, args.prefix)
            rows.append((name, *measured, recipe))
    print("| app | pack MB | --distroless MB | recipe MB | --distroless / recipe "
          "| pack gz MB | --distroless gz MB | recipe gz MB "
          "| pack pkgs | --distroless pkgs | recipe pkgs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (n_mb, n_gz, n_pkg), (d_mb, d_gz, d_pkg), recipe in rows:
        r_mb, r_gz, r_pkg = (f"{recipe[0]:.1f}", f"{recipe[1]:.1f}", str(recipe[2])) \
            if recipe else ("-", "-", "-")
        ratio = f"{d_mb / recipe[0]:.2f}" if recipe else "-"
        print(f"| {name} | {n_mb:.1f} | {d_mb:.1f} | {r_mb} | {ratio} | {n_gz:.1f} "
              f"| {d_gz:.1f} | {r_gz} | {n_pkg} | {d_pkg} | {r_pkg} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sizes of `snakepacker pack` against `snakepacker pack --distroless`, per app.

    .venv/bin/python bench/distroless.py [--only NAME ...] [--prefix REPO]

For a small Flask app (3.12), a numpy computation (3.10, the distro's Python) and the
example project (psycopg2 from its sdist, Pillow; 3.12-pillow) it packs both ways and
prints one row each: the image size, its compressed size (`docker save | gzip -c`,
bytes counted), and the number of distro packages in it (dpkg's database in the
ordinary image, the status.d fragment in the distroless one). 1 MB = 10^6 bytes.

The issue's third column, the uv guide's multistage recipe on a slim Python image,
is not built: that recipe starts from an official Python image, which no registry
serves here. Extra CA certificates come from SNAKEPACKER_CA_CERTS. Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from snakepacker.engine import Engine, find_engine

ROOT = Path(__file__).resolve().parents[1]

APPS: dict[str, tuple[dict[str, str] | None, tuple[str, ...]]] = {
    "flask": ({
        "pyproject.toml": """\
            [project]
            name = "hello-web"
            version = "1.0"
            dependencies = ["flask>=3"]
            [project.scripts]
            hello-web = "hello_web:main"
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


def packages(engine: Engine, tag: str, distroless: bool) -> int:
    if distroless:
        out = run(engine, "run", "--rm", "--entrypoint", "python", tag, "-c",
                  "import os; print(len(os.listdir('/var/lib/dpkg/status.d')))")
        return int(out)
    out = run(engine, "run", "--rm", "--entrypoint", "dpkg-query", tag, "-W", "-f",
              "${db:Status-Abbrev}\\n")
    return sum(1 for line in out.splitlines() if line.startswith("ii"))


def pack(source: Path, tag: str, argv: tuple[str, ...]) -> None:
    proc = subprocess.run([sys.executable, "-m", "snakepacker", "pack", str(source), "-t", tag,
                           *argv], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"pack {source} failed:\n{proc.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(APPS))
    parser.add_argument("--prefix", default="snakepacker-bench/distroless")
    args = parser.parse_args()
    engine = find_engine("auto")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or list(APPS):
            files, argv = APPS[name]
            source = ROOT / "examples" / "demo-app"
            if files is not None:
                source = Path(tmp) / name
                source.mkdir()
                for file, text in files.items():
                    (source / file).write_text(textwrap.dedent(text))
            row: list[object] = [name]
            sizes = []
            for distroless in (False, True):
                tag = f"{args.prefix}-{name}:{'distroless' if distroless else 'normal'}"
                pack(source, tag, (*argv, *(("--distroless",) if distroless else ())))
                size = int(run(engine, "image", "inspect", "--format", "{{.Size}}", tag))
                sizes.append((size, compressed(engine, tag), packages(engine, tag, distroless)))
            (n_size, n_gz, n_pkg), (d_size, d_gz, d_pkg) = sizes
            row += [n_size / 1e6, d_size / 1e6, d_size / n_size, n_gz / 1e6, d_gz / 1e6,
                    n_pkg, d_pkg]
            rows.append(row)
    print("| app | pack MB | --distroless MB | ratio | pack gz MB | --distroless gz MB "
          "| pack pkgs | --distroless pkgs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.2f} | {r[4]:.1f} | {r[5]:.1f} "
              f"| {r[6]} | {r[7]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`snakepacker pack --distroless` on a real engine: three apps, packed both ways.

The example project (psycopg2 built from its sdist against libpq, Pillow; on the
3.12-pillow image, source-built CPython), a Flask app answering HTTP (3.12), and a
numpy computation (3.10, the distro's own Python). Each runs read-only as the non-root
user and prints what its ordinary pack prints; every ELF file in the image is loaded
(shared objects with ctypes, everything through the loader's --list) by the image's
own Python; no shell, apt, dpkg or perl is there.
"""

from __future__ import annotations

import json
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import DEMO, FAMILY_ARGS, NAMESPACE, SHIP_SLICE, Docker, snakepacker

pytestmark = pytest.mark.engine

PREFIX = "sptest-dl-distroless"
RUN = ("--read-only", "--tmpfs", "/tmp")

WEBAPP = {
    "pyproject.toml": """\
        [project]
        name = "hello-web"
        version = "1.0"
        requires-python = ">=3.10"
        dependencies = ["flask>=3"]

        [project.scripts]
        hello-web = "hello_web:main"
    """,
    "hello_web.py": """\
        import math, os, platform, ssl, sys
        import flask

        app = flask.Flask(__name__)

        @app.get("/")
        def index():
            capath = ssl.get_default_verify_paths().capath  # where OpenSSL looks
            hashed = [n for n in os.listdir(capath) if n.endswith(".0")]
            return {"flask": flask.__version__, "python": platform.python_version(),
                    "sqrt2": math.sqrt(2), "cas": len(hashed) > 50}

        def main():
            if sys.argv[1:] == ["--once"]:
                with app.test_client() as client:
                    print(client.get("/").get_data(as_text=True).strip())
                return
            app.run(host="0.0.0.0", port=8000)
    """,
}

NUMPY = {
    "requirements.txt": "numpy\n",
    "compute.py": """\
        import numpy as np
        a = np.arange(1, 10, dtype=float).reshape(3, 3) + np.eye(3)
        print("det", round(float(np.linalg.det(a)), 6))
        print("solve", np.round(np.linalg.solve(a, np.ones(3)), 6).tolist())
        print("fft", np.round(np.abs(np.fft.fft(np.arange(8.0))), 6).tolist())
    """,
}

# Run by the image's own Python: every ELF file under / (one file system, this
# machine's architecture) goes through the loader's --list, shared objects also
# through ctypes.CDLL. Prints one JSON object: counts and failures (libc's libmemusage
# prints its summary on stderr when the process ends).
ELF_CHECK = r"""
import ctypes, json, os, struct, subprocess, sys
def header(path):
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return None
    return struct.unpack_from("<HH", head, 16)  # e_type, e_machine
me = header(os.path.realpath(sys.executable))
loader = "/lib64/ld-linux-x86-64.so.2" if me[1] == 62 else None
for cand in ("/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-armhf.so.3"):
    if loader is None and os.path.exists(cand):
        loader = cand
listed = loaded = 0
bad = []
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    for name in files:
        path = os.path.join(top, name)
        if os.path.islink(path):
            continue
        h = header(path)
        if h is None or h[1] != me[1] or h[0] not in (2, 3):
            continue
        out = subprocess.run([loader, "--list", path], capture_output=True, text=True)
        text = out.stdout + out.stderr
        if "not found" in text or (out.returncode != 0 and "statically linked" not in text
                                   and "not a dynamic executable" not in text):
            bad.append(("list", path, text.strip()[-300:]))
        listed += 1
        # libthread_db is the debugger's side of threads: the symbols it needs
        # (ps_pdread, ...) are the debugger's own, never a library's.
        if ".so" in name and not name.startswith("libthread_db"):
            try:
                ctypes.CDLL(path)
                loaded += 1
            except OSError as exc:
                bad.append(("dlopen", path, str(exc)[-300:]))
print(json.dumps({"listed": listed, "loaded": loaded, "bad": bad}))
"""

ABSENT = ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/apt", "/usr/bin/apt-get",
          "/usr/bin/dpkg", "/usr/bin/perl", "/usr/bin/ls", "/bin/ls")


# A tiny app for the arm64 pack: no dependency to build under emulation.
TINY = {
    "pyproject.toml": """\
        [project]
        name = "hello-arm"
        version = "1.0"

        [project.scripts]
        hello-arm = "hello_arm:main"
    """,
    "hello_arm.py": """\
        import json, platform, sqlite3, ssl

        def main():
            try:
                import readline  # noqa: F401  (left out by --distroless)
                left_out = ""
            except ImportError as exc:
                left_out = str(exc)
            print(json.dumps({"machine": platform.machine(),
                              "python": platform.python_version(),
                              "sqlite": sqlite3.sqlite_version_info >= (3,),
                              "ssl": ssl.OPENSSL_VERSION.startswith("OpenSSL"),
                              "readline": left_out}))
    """,
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def pack_both(docker: Docker, name: str, *argv: str) -> tuple[str, str]:
    tags = (f"{PREFIX}-{name}:normal", f"{PREFIX}-{name}:distroless")
    for tag, extra in zip(tags, ((), ("--distroless",)), strict=True):
        proc = snakepacker("pack", *argv, "-t", tag, *extra)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return tags


@pytest.fixture(scope="module")
def apps(family_images: dict[str, str], docker: Docker,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    root = tmp_path_factory.mktemp("distroless")
    web = write(root / "web", WEBAPP)
    numpy = write(root / "numpy", NUMPY)
    return {
        "demo": pack_both(docker, "demo", str(DEMO), "--pillow"),
        "web": pack_both(docker, "web", str(web), "--python", "3.12", "--healthcheck", "8000"),
        "numpy": pack_both(docker, "numpy", str(numpy), "--python", "3.10",
                           "--entrypoint", "python compute.py"),
    }


def py(docker: Docker, image: str, code: str, *options: str) -> str:
    return docker.run(image, ["-c", code], *RUN, "--entrypoint", "python", *options).stdout


@pytest.mark.parametrize("app", ["demo", "web", "numpy"])
def test_same_output_read_only_non_root(docker: Docker, apps: dict[str, tuple[str, str]],
                                        app: str) -> None:
    normal, distroless = apps[app]
    args = ["--once"] if app == "web" else []
    outputs = [docker.run(tag, args, *RUN).stdout for tag in (normal, distroless)]
    assert outputs[0] == outputs[1]
    assert outputs[1].strip()
    if app == "web":
        assert json.loads(outputs[1])["cas"] is True
    who = py(docker, distroless, "import os, pwd; print(os.getuid(), "
                                 "pwd.getpwuid(os.getuid()).pw_name)")
    assert who.split() == ["10001", "app"]


@pytest.mark.parametrize("app", ["demo", "web", "numpy"])
def test_every_elf_file_loads_and_no_tools(docker: Docker, apps: dict[str, tuple[str, str]],
                                           app: str) -> None:
    image = apps[app][1]
    result = json.loads(py(docker, image, ELF_CHECK))
    assert result["bad"] == []
    assert result["listed"] > 20 and result["loaded"] > 10
    present = py(docker, image, f"import os; print([p for p in {ABSENT!r} if os.path.lexists(p)])")
    assert present.strip() == "[]"
    # Shipped packages are named for scanners; the tools are not among them.
    names = set(py(docker, image, "import os; print(' '.join(os.listdir("
                                  "'/var/lib/dpkg/status.d')))").split())
    assert {"libc6", "dumb-init", "ca-certificates", "tzdata"} <= names
    assert not names & {"dpkg", "apt", "bash", "dash", "perl-base", "coreutils"}
    if app == "demo":
        assert "libpq5" in names  # psycopg2, built from its sdist, links it
    # Most iconv modules are left out; the Unicode forms and Latin-1 stay.
    iconv = py(docker, image, "import ctypes; libc = ctypes.CDLL('libc.so.6'); "
               "libc.iconv_open.restype = ctypes.c_ssize_t; "
               "print([e for e in ('UTF-16', 'UTF-32', 'ISO-8859-1', 'UTF-8') "
               "if libc.iconv_open(b'UTF-8', e.encode()) == -1])")
    assert iconv.strip() == "[]"


def test_web_app_answers_and_turns_healthy(docker: Docker,
                                           apps: dict[str, tuple[str, str]]) -> None:
    """Over a real socket from the host; the HEALTHCHECK is wait-for-port run by the
    interpreter, since there is no shell for its first lines."""
    normal, distroless = apps["web"]
    bodies = []
    for tag in (normal, distroless):
        name = tag.replace(":", "-").replace("/", "-")
        docker("rm", "--force", name, check=False)
        try:
            docker("run", "-d", "--name", name, *RUN, "-p", "127.0.0.1::8000", tag)
            port = docker("port", name, "8000").stdout.split(":")[-1].strip()
            body = None
            for _ in range(60):  # polled, at most about a minute; time is not tested
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                        body = json.loads(r.read())
                    break
                except OSError:
                    time.sleep(1)
            assert body is not None, docker("logs", name, check=False).stderr[-2000:]
            bodies.append(body)
            status = ""
            for _ in range(60):
                status = docker("inspect", "--format", "{{.State.Health.Status}}",
                                name).stdout.strip()
                if status == "healthy":
                    break
                time.sleep(1)
            assert status == "healthy"
        finally:
            docker("rm", "--force", name, check=False)
    assert bodies[0] == bodies[1]
    assert bodies[1]["cas"] is True and bodies[1]["python"].startswith("3.12.")


def test_distroless_is_smaller(docker: Docker, apps: dict[str, tuple[str, str]]) -> None:
    for normal, distroless in apps.values():
        sizes = [int(docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)
                 for tag in (normal, distroless)]
        assert sizes[1] < sizes[0]


def test_ruff_distroless_app_image_checks_a_tree(docker: Docker, family_images: dict[str, str],
                                                 tmp_path: Path) -> None:
    """The app image, built through its recipe: a linter needs no shell."""
    proc = snakepacker("images", "build", "ruff-distroless", *FAMILY_ARGS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    image = f"{NAMESPACE}/python:ruff-distroless"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "module.py").write_text("import os\n")
    tree.chmod(0o777)
    failed = docker.run(image, ["."], *RUN, "--user", "1234:1234", "-v", f"{tree}:/app",
                        check=False)
    assert failed.returncode == 1 and "F401" in failed.stdout + failed.stderr
    present = docker.run(image, ["-c", f"import os; print([p for p in {ABSENT!r} "
                                       "if os.path.lexists(p)])"],
                         "--entrypoint", "python").stdout
    assert present.strip() == "[]"


def test_sbom_sees_the_shipped_packages(docker: Docker, apps: dict[str, tuple[str, str]]) -> None:
    """`snakepacker sbom` reads the status fragment: every shipped package, no other."""
    image = apps["web"][1]
    proc = snakepacker("sbom", image)
    assert proc.returncode == 0, proc.stderr[-2000:]
    debs = {c["name"] for c in json.loads(proc.stdout)["components"]
            if c.get("purl", "").startswith("pkg:deb/")}
    shipped = set(py(docker, image, "import os; print(' '.join(os.listdir("
                                    "'/var/lib/dpkg/status.d')))").split())
    assert debs == shipped and "libc6" in debs
    # The goal for a small web app: the soname closure, without the modules for
    # terminals and legacy databases, is at most 15 packages; no data-only Depends.
    assert len(debs) <= 15, sorted(debs)
    assert not debs & {"gcc-12-base", "readline-common", "libtirpc-common", "libncursesw6",
                       "libreadline8", "libnsl2", "libgdbm6", "libkrb5-3"}
    message = py(docker, image, "try:\n    import curses\nexcept ImportError as exc:\n"
                                "    print(exc)")
    assert "--distroless-keep _curses" in message


def test_distroless_for_arm64_runs_emulated(chain: str, docker: Docker, tmp_path: Path) -> None:
    """--distroless with --platform linux/arm64 on the bookworm chain (the distro's
    3.11): the image is arm64, runs under qemu read-only as non-root, every ELF file in
    it loads, and there is no shell."""
    app = write(tmp_path / "arm", TINY)
    tag = f"{PREFIX}-arm:distroless"
    proc = snakepacker("pack", str(app), "--python", "3.11", *SHIP_SLICE, "--platform",
                       "linux/arm64", "--distroless", "-t", tag)
    assert proc.returncode == 0, proc.stderr[-4000:]
    image = f"{tag}-arm64"  # a foreign platform's local tag carries its suffix
    arm = ("--platform", "linux/arm64")
    assert docker("image", "inspect", "--format", "{{.Architecture}}",
                  image).stdout.strip() == "arm64"
    out = json.loads(docker.run(image, [], *RUN, *arm).stdout)
    assert out["machine"] == "aarch64" and out["python"].startswith("3.11.")
    assert out["sqlite"] is True and out["ssl"] is True
    assert "--distroless-keep readline" in out["readline"]
    result = json.loads(py(docker, image, ELF_CHECK, *arm))
    assert result["bad"] == []
    assert result["listed"] > 20 and result["loaded"] > 10
    present = py(docker, image, f"import os; print([p for p in {ABSENT!r} "
                                "if os.path.lexists(p)])", *arm)
    assert present.strip() == "[]"
    who = py(docker, image, "import os; print(os.getuid())", *arm)
    assert who.strip() == "10001"

"""Application images on a real engine: each one's smoke check, read-only, non-root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import FAMILY_ARGS, NAMESPACE, Docker, snakepacker

pytestmark = pytest.mark.engine

APPS = ("ruff", "black", "ipython", "jupyterlab", "uv")
CALLER = "1234:1234"  # an unprivileged uid that exists in no image, as `$(id -u)` would be
READ_ONLY = ("--read-only", "--tmpfs", "/tmp")


@pytest.fixture(scope="module")
def app_images(family_images: dict[str, str]) -> dict[str, str]:
    proc = snakepacker("images", "build", *APPS, *FAMILY_ARGS)
    if proc.returncode != 0:
        pytest.fail(f"building {', '.join(APPS)} failed:\n{proc.stderr[-5000:]}")
    return {app: f"{NAMESPACE}/python:{app}" for app in APPS}


def tree(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "module.py").write_text(text)
    folder.chmod(0o777)
    (folder / "module.py").chmod(0o666)
    return folder


@pytest.mark.parametrize(
    ("app", "bad", "expect"),
    [
        ("ruff", "import os\n", "F401"),
        ("black", "x = {  'a':1 }\n", "would reformat"),
    ],
)
def test_checkers_fail_a_bad_tree_and_pass_a_clean_one(
    docker: Docker, app_images: dict[str, str], tmp_path: Path, app: str, bad: str,
    expect: str,
) -> None:
    image = app_images[app]
    dirty = tree(tmp_path, "dirty", bad)
    clean = tree(tmp_path, "clean", 'X = {"a": 1}\n')
    failed = docker.run(image, ["."], *READ_ONLY, "--user", CALLER, "-v", f"{dirty}:/app",
                        check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert expect in failed.stdout + failed.stderr
    passed = docker.run(image, ["."], *READ_ONLY, "--user", CALLER, "-v", f"{clean}:/app",
                        check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert (dirty / "module.py").read_text() == bad  # checked, not rewritten


def test_ipython_runs_read_only_as_non_root(docker: Docker, app_images: dict[str, str]) -> None:
    for user in ((), ("--user", "65534:65534")):
        out = docker.run(app_images["ipython"], ["-c", "import os; print(6 * 7, os.getuid())"],
                         *READ_ONLY, *user).stdout.split()
        assert out[0] == "42" and out[1] != "0"


def test_uv_locks_a_mounted_project_read_only_as_the_caller(
    docker: Docker, app_images: dict[str, str], tmp_path: Path
) -> None:
    """uv resolves against the index with the image's CPython and writes the lock
    into the mounted tree; its cache goes to /tmp. The container trusts this machine's
    CA bundle (SNAKEPACKER_CA_CERTS), as build stages do, to reach the index."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "locked"\nversion = "1"\nrequires-python = ">=3.12"\n'
        'dependencies = ["six"]\n')
    project.chmod(0o777)
    certs = next((p for p in os.environ.get("SNAKEPACKER_CA_CERTS", "").split(os.pathsep)
                  if p), None)
    trust = ["-v", f"{certs}:/tmp/ca.pem:ro", "-e", "SSL_CERT_FILE=/tmp/ca.pem"] if certs else []
    image = app_images["uv"]
    version = docker.run(image, ["--version"], *READ_ONLY, "--user", CALLER).stdout
    assert version.startswith("uv ")
    proc = docker.run(image, ["lock"], *READ_ONLY, "--user", CALLER, "-v", f"{project}:/app",
                      *trust, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lock = (project / "uv.lock").read_text()
    assert 'name = "six"' in lock and 'requires-python = ">=3.12"' in lock
    # No Python is fetched: `uv run` takes the image's own.
    ran = docker.run(image, ["run", "--no-project", "--offline", "python", "-c",
                             "import sys; print('%d.%d' % sys.version_info[:2])"],
                     *READ_ONLY, "--user", CALLER).stdout
    assert ran.split() == ["3.12"]


def test_jupyterlab_answers_http_on_a_published_port(
    docker: Docker, app_images: dict[str, str]
) -> None:
    image = app_images["jupyterlab"]
    name = f"snakepacker-jupyter-{int(time.time())}"
    docker("run", "-d", "--name", name, *READ_ONLY, "-p", "127.0.0.1::8888", image)
    try:
        port = docker("port", name, "8888/tcp").stdout.split()[0].rsplit(":", 1)[1]
        wait = subprocess.run(
            [sys.executable, "-m", "snakepacker.tools.wait_for_port", "-t", "90",
             f"127.0.0.1:{port}"], capture_output=True, text=True,
        )
        assert wait.returncode == 0, wait.stderr + docker("logs", name).stderr[-2000:]
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5) as r:
                    answer = json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert "version" in answer
        uid = docker("exec", name, "id", "-u").stdout.strip()
        assert uid not in ("", "0")
    finally:
        docker("rm", "-f", name, check=False)

"""pack under bad input, faults and signals, on a real engine (the reliability issue).

Each test is the issue's reproduction: a project whose packages are named build/ and
dist/, --env values with `$`, a packed HTTP server stopped by `docker stop`, signals
mid-pack with an index URL that holds a password, a changed index, a bad tag, an
entry point that does not exist.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import Docker, exists, snakepacker, untag, write

pytestmark = pytest.mark.engine

PREFIX = "snakepacker-test/faults"


def server_project(folder: Path) -> Path:
    """An app whose package has a `build` subpackage and a `static/dist` bundle."""
    return write(folder, {
        "pyproject.toml": """\
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "srv"
            version = "1.0"
            scripts = {srv = "srv:main"}
            [tool.setuptools.packages.find]
            where = ["src"]
            [tool.setuptools.package-data]
            srv = ["static/dist/*"]
        """,
        "src/srv/__init__.py": """\
            import http.server, pathlib, sys
            from srv.build import steps

            def main():
                if sys.argv[1:] == ["check"]:
                    bundle = pathlib.Path(__file__).parent / "static" / "dist" / "app.js"
                    print(steps(), bundle.read_text().strip())
                    return
                http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler,
                                 port=8000, bind="0.0.0.0")
        """,
        "src/srv/build/__init__.py": "def steps():\n    return 'build-subpackage'\n",
        "src/srv/static/dist/app.js": "bundle-js\n",
        "build/stale.txt": "the root's build output\n",
        "notes/private.txt": "left out by .dockerignore\n",
        ".dockerignore": "notes\n",
        ".env": "TOKEN=hunter2\n",
    })


@pytest.fixture(scope="module")
def server(family_images: dict[str, str], docker: Docker, tmp_path_factory) -> str:
    tag = f"{PREFIX}-srv:pytest"
    untag(docker, tag)
    project = server_project(tmp_path_factory.mktemp("srv"))
    proc = snakepacker("pack", str(project), "-t", tag, "--python", "3.12",
                       "--env", "A=$HOME/x", "--env", "B=pa$$w0rd",
                       "--env", "C=line1\nline2 \\ \"q\" `id` ${X}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "left out as credentials: .env" in proc.stderr
    assert "left out by its .dockerignore: notes" in proc.stderr
    return tag


def test_nested_build_and_dist_directories_are_packed(docker: Docker, server: str) -> None:
    out = docker.run(server, ["check"], "--read-only").stdout.split()
    assert out == ["build-subpackage", "bundle-js"]


def test_credentials_and_ignored_files_stay_out(docker: Docker, server: str) -> None:
    found = docker.run(server, ["sh", "-c", "grep -rl --exclude-dir=proc --exclude-dir=sys "
                                "--exclude-dir=dev hunter2 / 2>/dev/null; "
                                "ls -a /usr/src /app 2>/dev/null; true"],
                       "--entrypoint", "").stdout
    assert "hunter2" not in found and ".env" not in found and "private.txt" not in found


def test_env_values_arrive_byte_for_byte(docker: Docker, server: str) -> None:
    env = json.loads(docker("image", "inspect", "--format", "{{json .Config.Env}}",
                            server).stdout)
    assert "A=$HOME/x" in env and "B=pa$$w0rd" in env
    assert "C=line1\nline2 \\ \"q\" `id` ${X}" in env
    printed = docker.run(server, ["python3", "-c",
                                  "import os; print(repr(os.environ['C']))"],
                         "--entrypoint", "").stdout.strip()
    assert printed == repr("line1\nline2 \\ \"q\" `id` ${X}")


def test_a_packed_server_stops_on_sigterm(docker: Docker, server: str) -> None:
    """Under dumb-init the server gets SIGTERM and ends with it (143); a Python PID 1
    would ignore it until `docker stop` kills it (137) after the grace period."""
    name = f"sp-stop-{os.getpid()}"
    docker("run", "-d", "--name", name, "--read-only", server)
    try:
        for _ in range(100):
            probe = docker("exec", name, "python3", "-c",
                           "import socket; socket.create_connection(('127.0.0.1', 8000), 1)",
                           check=False)
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the packed server never listened")
        docker("stop", "-t", "60", name)
        state = json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)
        assert state["ExitCode"] == 143 and not state["OOMKilled"]
    finally:
        docker("rm", "-f", name, check=False)


def test_a_missing_entry_point_fails_the_pack(docker: Docker,
                                              family_images: dict[str, str]) -> None:
    tag = f"{PREFIX}-noentry:pytest"
    untag(docker, tag)
    proc = snakepacker("pack", "six", "-t", tag, "--python", "3.12",
                       "--entrypoint", "nosuchcmd")
    assert proc.returncode == 4
    assert "the entry point nosuchcmd is not in the image" in proc.stderr
    assert not exists(docker, tag)


def test_one_bad_tag_means_no_tag_and_no_build(docker: Docker,
                                               family_images: dict[str, str]) -> None:
    good = f"{PREFIX}-good:pytest"
    untag(docker, good)
    proc = snakepacker("pack", "six", "-t", good, "-t", "Bad Tag", "--python", "3.12",
                       "--entrypoint", "python3")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "not a valid image name" in proc.stderr
    assert not exists(docker, good)


def _index() -> str:
    """The package index this machine's pip uses by default (no host named here)."""
    from pip._internal.models.index import PyPI  # the test environment has pip

    return PyPI.simple_url


def _resolve_step_cached(stderr: str) -> bool:
    """Whether the build step that installs the requirement came from the cache, in the
    first build of the command (the probed build stage, when there is one: the final
    build after it finds that step cached, and numbers its steps alike)."""
    lines = stderr.split("[2/2] final image", 1)[0].splitlines()
    step = next(line.split(" ", 1)[0] for line in lines
                if line.startswith("#") and "RUN --mount=type=cache" in line
                and "uv pip install" in line)
    return any(line == f"{step} CACHED" for line in lines)


def test_a_changed_index_resolves_again_without_leaking(docker: Docker,
                                                        family_images: dict[str, str]) -> None:
    tag = f"{PREFIX}-index:pytest"
    index = _index()
    scheme, rest = index.split("://", 1)
    secret = f"sp-{os.getpid()}-pw"
    with_password = f"{scheme}://snakepacker:{secret}@{rest}"
    argv = ("pack", "six==1.16.0", "-t", tag, "--python", "3.12", "--entrypoint", "python3",
            "-v")
    first = snakepacker(*argv, "--index-url", index)
    assert first.returncode == 0, first.stderr[-3000:]
    again = snakepacker(*argv, "--index-url", index)
    assert again.returncode == 0 and _resolve_step_cached(again.stderr)
    changed = snakepacker(*argv, "--index-url", with_password)
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert not _resolve_step_cached(changed.stderr)
    assert secret not in changed.stdout + changed.stderr
    config = docker("image", "inspect", tag).stdout
    history = docker("history", "--no-trunc", tag).stdout
    saved = subprocess.run([docker.engine.client, "save", tag], capture_output=True,
                           env=docker.engine.env, check=True).stdout
    assert secret not in config and secret not in history
    assert secret.encode() not in saved
    # The probed build stage (built alone to read the version) is not left behind.
    stage = next(line.split("writing image ", 1)[1].split()[0]
                 for line in changed.stderr.splitlines() if "writing image sha256:" in line)
    final = docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    assert stage != final and not exists(docker, stage)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("when", ["start", "build"])
def test_a_signal_mid_pack_leaves_no_secret_and_no_build(
    docker: Docker, family_images: dict[str, str], tmp_path: Path, sig: signal.Signals,
    when: str
) -> None:
    secret = f"sp-{os.getpid()}-{sig.name}-{when}"
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    tag = f"{PREFIX}-sig:pytest"
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakepacker", "pack", "six", "-t", tag, "--python", "3.12",
         "--entrypoint", "python3", "-v",
         "--index-url", f"http://user:{secret}@127.0.0.1:9/simple"],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        # As from a terminal: a shell's background job would have SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    marker = "packing " if when == "start" else "#"
    for line in proc.stderr:
        if line.startswith(marker):
            break
    proc.send_signal(sig)  # to snakepacker's pid alone, not its process group
    proc.wait(timeout=120)
    assert proc.returncode == 128 + sig  # each stopping signal exits with its own code
    leftovers = [p for p in temp.rglob("*") if p.is_file()
                 and secret.encode() in p.read_bytes()]
    assert leftovers == []
    assert not any(temp.iterdir()), sorted(temp.rglob("*"))
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert secret not in ps and str(temp) not in ps


def test_a_wheel_with_binaries_for_another_machine_packs(docker: Docker,
                                                        family_images: dict[str, str]) -> None:
    """adafruit-blinka ships ARM helper programs beside its pure-Python code: they are
    not for this machine, so find-libdeps skips them instead of failing the pack."""
    tag = f"{PREFIX}-blinka:pytest"
    untag(docker, tag)
    proc = snakepacker("pack", "adafruit-blinka", "-t", tag, "--python", "3.12",
                       "--entrypoint", "python3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = docker.run(tag, ["-c", "import importlib.metadata as m; "
                           "print(m.version('adafruit-blinka'))"]).stdout
    assert out.strip()

"""The engine package's own logic, without an engine: choosing a client, a daemon that is
down or hung, reading each builder's output, podman's history words and run limits."""

from __future__ import annotations

import os
import resource
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.engine import buildlog, find_engine
from snakepacker.engine.base import Timeouts
from snakepacker.engine.podman import dockerfile_words, ulimit_flags
from snakepacker.errors import EngineError, UsageError
from tests.helpers import (
    cli_with,
    snakepacker,
)


def test_an_unknown_engine_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="choose docker, podman or auto"):
        find_engine("containerd", env={})


def test_auto_keeps_to_docker_when_the_user_configured_docker() -> None:
    """A broken docker the user pointed at is reported, not replaced by podman."""
    env = {"SNAKEPACKER_DOCKER": "/nonexistent/docker", "PATH": "/usr/bin:/bin"}
    with pytest.raises(EngineError, match="/nonexistent/docker: does not run"):
        find_engine(None, env=env)
    with pytest.raises(EngineError, match="does not run"):
        find_engine("auto", env=env)


def test_the_environment_names_the_engine_when_no_option_does() -> None:
    env = {"SNAKEPACKER_ENGINE": "podman", "SNAKEPACKER_PODMAN": "/nonexistent/podman"}
    with pytest.raises(EngineError, match="podman"):
        find_engine(None, env=env)
    with pytest.raises(EngineError, match="/nonexistent/docker"):
        find_engine("docker", env={**env, "SNAKEPACKER_DOCKER": "/nonexistent/docker"})


def test_quick_calls_have_a_limit_and_builds_have_none() -> None:
    default = Timeouts.from_env({})
    assert default.quick == 30 and default.build is None
    assert Timeouts.from_env({"SNAKEPACKER_ENGINE_TIMEOUT": "2.5"}).quick == 2.5
    with pytest.raises(UsageError):
        Timeouts.from_env({"SNAKEPACKER_ENGINE_TIMEOUT": "soon"})


BUILDKIT_FAILURE = """\
#5 [1/2] FROM snakepacker/python:base
#5 DONE 0.0s
#6 [2/2] RUN echo first-line && exit 7
#6 0.251 first-line
#6 ERROR: executor failed running [/bin/sh -c echo first-line && exit 7]: exit code: 7
------
 > [2/2] RUN echo first-line && exit 7:
------
error: failed to solve: executor failed running [/bin/sh -c echo first-line && exit 7]
""".splitlines()

BUILDAH_FAILURE = """\
[1/2] STEP 1/2: FROM snakepacker/python:all AS build
[1/2] STEP 2/2: RUN echo fine
fine
--> 1b2c3d4e5f6
[2/2] STEP 1/3: FROM snakepacker/python:3.10
[2/2] STEP 2/3: RUN echo first-line && exit 7
first-line
Error: building at STEP "RUN echo first-line && exit 7": while running runtime: exit status 7
""".splitlines()


def test_buildkit_output_names_the_step_marked_error() -> None:
    head, *tail = buildlog.failure_message("demo", buildlog.read(BUILDKIT_FAILURE),
                                           1).splitlines()
    # The step, its cause as printed, and the step's own exit code (buildlog.py).
    assert head == ("building demo failed at [2/2] RUN echo first-line && exit 7: first-line "
                    "(exit code 7)")
    assert [line.strip() for line in tail] == ["first-line"]


def test_buildah_output_names_the_last_step_and_its_cause_as_buildkits_does() -> None:
    """One reader of failures for both engines: podman's message names the step, the
    cause its command printed and the exit code, like docker's."""
    failure = buildlog.read_buildah(BUILDAH_FAILURE)
    head, *tail = buildlog.failure_message("demo", failure, 1).splitlines()
    assert head == ("building demo failed at [2/2 2/3] RUN echo first-line && exit 7: "
                    "first-line (exit code 7)")
    assert [line.strip() for line in tail] == ["first-line"]


def test_buildah_history_is_put_in_dockerfile_words() -> None:
    assert dockerfile_words("/bin/sh -c #(nop) COPY dir:abc in /usr/share/python3/app ") \
        == "COPY dir:abc in /usr/share/python3/app"
    assert dockerfile_words("/bin/sh -c apt-install libpq5") == "RUN /bin/sh -c apt-install libpq5"
    assert dockerfile_words("") == ""


def test_podman_runs_ask_for_no_more_than_this_process_may_give() -> None:
    flags = ulimit_flags()
    values = dict(flag.split("=") for flag in flags[1::2])
    assert flags[0::2] == ["--ulimit"] * len(values)
    soft, hard = (int(n) for n in values["nofile"].split(":"))
    assert soft == hard <= resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert int(values["nproc"].split(":")[1]) <= pid_max


def test_a_client_that_does_not_run_is_named() -> None:
    proc = cli_with({"SNAKEPACKER_DOCKER": "/nonexistent/docker"}, "images", "build", "base")
    assert proc.returncode == 3
    expected = "no docker client that can build with BuildKit: /nonexistent/docker: does not run"
    assert expected in proc.stderr


def docker_client(folder: Path, version: str, buildx: bool) -> Path:
    """A docker client of VERSION (with a daemon that answers), with or without the
    buildx plugin; every command it is given is noted in FOLDER/asked."""
    plugin = ("echo 'github.com/docker/buildx v0.12.1'" if buildx else
              "echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1")
    client = folder / "docker"
    client.write_text(f"""#!/bin/sh
echo "$*" >> {folder}/asked
case "$1" in
    version) echo "{version} {version}" ;;
    buildx) {plugin} ;;
    *) exit 1 ;;
esac
""")
    client.chmod(0o755)
    return client


def test_a_new_client_without_buildx_is_refused(tmp_path: Path) -> None:
    """Since 23.0 `docker build` is buildx's: without the plugin the client falls back
    to the legacy builder, so such a client is refused, whatever this machine has."""
    client = docker_client(tmp_path, "25.0.3", buildx=False)
    proc = cli_with({"SNAKEPACKER_DOCKER": str(client)}, "images", "build", "base")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == (f"snakepacker: error: no docker client that can build with "
                           f"BuildKit: {client}: client 25.0.3 needs the buildx plugin for "
                           "BuildKit, and it is missing\n")
    assert "buildx version" in (tmp_path / "asked").read_text().splitlines()


def test_a_client_found_unfit_is_not_asked_again_until_it_or_its_plugins_change(
    tmp_path: Path
) -> None:
    """A buildx-less Docker first on PATH cost two client runs on every pack of the
    loop: the finding is remembered, keyed by the very program and its plugin folders."""
    client = docker_client(tmp_path, "25.0.3", buildx=False)
    home = tmp_path / "home"
    env = {**os.environ, "SNAKEPACKER_DOCKER": str(client), "HOME": str(home)}
    asked = tmp_path / "asked"
    refused = r"client 25\.0\.3 needs the buildx plugin for BuildKit, and it is missing"
    for _ in range(2):
        with pytest.raises(EngineError, match=refused):
            find_engine("docker", env=env)
    assert asked.read_text().splitlines() == ["version --format {{.Client.Version}} "
                                              "{{.Server.Version}}", "buildx version"]
    (home / ".docker" / "cli-plugins").mkdir(parents=True)  # a plugin folder appears
    with pytest.raises(EngineError, match=refused):
        find_engine("docker", env=env)
    assert len(asked.read_text().splitlines()) == 4  # asked again
    client.write_text(client.read_text().replace("25.0.3", "26.1.5"))  # another client
    with pytest.raises(EngineError, match=r"client 26\.1\.5 needs"):
        find_engine("docker", env=env)


@pytest.mark.parametrize(("version", "buildx"), [("25.0.3", True), ("20.10.24", False)])
def test_a_client_that_builds_with_buildkit_is_taken(
    tmp_path: Path, version: str, buildx: bool
) -> None:
    """A new client with buildx, and an old one (BuildKit built in) without asking."""
    client = docker_client(tmp_path, version, buildx=buildx)
    env = {"SNAKEPACKER_DOCKER": str(client), "PATH": "/usr/bin:/bin"}
    engine = find_engine("docker", env=env)
    assert (engine.client, engine.version) == (str(client), version)
    asked = (tmp_path / "asked").read_text().splitlines()
    assert ("buildx version" in asked) is (version == "25.0.3")


@pytest.fixture
def hung_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket that accepts every connection and never answers."""
    path = tmp_path / "hung.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield path
    server.close()
    for conn in held:
        conn.close()


@pytest.mark.skipif(shutil.which("docker") is None and not Path("/usr/bin/docker").exists(),
                    reason="needs a docker client")
def test_a_hung_daemon_is_one_line_and_exit_3(hung_socket: Path) -> None:
    proc = snakepacker(
        "images", "build", "base", timeout=120,
        env={"DOCKER_HOST": f"unix://{hung_socket}", "SNAKEPACKER_ENGINE_TIMEOUT": "2"},
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("snakepacker: error: `docker")
    assert "did not answer within 2 s: the engine looks hung" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_timeout_that_is_not_a_number_is_a_usage_error() -> None:
    proc = cli_with({"SNAKEPACKER_ENGINE_TIMEOUT": "soon"}, "images", "build", "base")
    assert proc.returncode == 2
    assert "SNAKEPACKER_ENGINE_TIMEOUT must be a number of seconds" in proc.stderr


def test_an_unknown_engine_is_a_usage_error() -> None:
    proc = cli_with({"SNAKEPACKER_ENGINE": "containerd"}, "images", "build", "base")
    assert proc.returncode == 2
    assert "unknown engine 'containerd'" in proc.stderr



"""The engine package's own logic, without an engine: choosing one, reading each
builder's output, podman's history words and run limits, the platforms list."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from snakepacker.engine import find_engine
from snakepacker.engine.base import Timeouts, emulated_platforms, native_platform
from snakepacker.engine.common import CliEngine
from snakepacker.engine.docker import DockerEngine
from snakepacker.engine.docker import _failure as docker_failure
from snakepacker.engine.podman import PodmanEngine, dockerfile_words, ulimit_flags
from snakepacker.engine.podman import _failure as podman_failure
from snakepacker.errors import EngineError, UsageError


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
    head, *tail = docker_failure("demo", BUILDKIT_FAILURE, 1).splitlines()
    # The step, its cause as printed, and the step's own exit code (buildlog.py).
    assert head == ("building demo failed at [2/2] RUN echo first-line && exit 7: first-line "
                    "(exit code 7)")
    assert [line.strip() for line in tail] == ["first-line"]


def test_buildah_output_names_the_last_step_and_keeps_its_lines() -> None:
    head, *tail = podman_failure("demo", BUILDAH_FAILURE, 7).splitlines()
    assert head == "building demo failed at [2/2 2/3] RUN echo first-line && exit 7 (exit code 7)"
    assert [line.strip() for line in tail] == [
        "first-line",
        'Error: building at STEP "RUN echo first-line && exit 7": while running runtime: '
        "exit status 7",
    ]


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


def test_platforms_are_native_then_the_enabled_emulators(tmp_path: Path) -> None:
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64\n")
    (tmp_path / "qemu-arm").write_text("disabled\n")
    (tmp_path / "qemu-s390x").write_text("enabled\n")
    native = native_platform("linux", "x86_64")
    assert native == "linux/amd64"
    assert emulated_platforms(native, tmp_path) == ["linux/arm64", "linux/s390x"]
    assert native_platform("linux", "arm") == "linux/arm/v7"


@pytest.mark.parametrize(("engine_class", "asked", "answer", "native"), [
    (DockerEngine, "version --format {{.Server.Os}} {{.Server.Arch}}", "linux amd64",
     "linux/amd64"),
    (PodmanEngine, "info --format {{.Host.OS}} {{.Host.Arch}}", "linux arm", "linux/arm/v7"),
])
def test_each_engine_asks_its_own_command_for_its_platform(
    tmp_path: Path, engine_class: type[CliEngine], asked: str, answer: str, native: str
) -> None:
    """One platforms() for both engines: each names the command that prints its OS and
    architecture; the answer's words become the native platform, listed first, once."""
    heard = tmp_path / "heard"
    client = tmp_path / "client"
    client.write_text(f'#!/bin/sh\necho "$*" > {heard}\necho "{answer}"\n')
    client.chmod(0o755)
    engine = engine_class(str(client), "1", {"PATH": "/usr/bin:/bin"}, Timeouts())
    platforms = engine.platforms()
    assert heard.read_text().strip() == asked
    assert platforms[0] == native and platforms.count(native) == 1

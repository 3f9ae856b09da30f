"""wait-for-port as PID 1 of a container: `docker stop` ends it at once, whether it is
waiting or running its command."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.helpers import Docker, Port, wait_until
from tests.unit.test_wait_for_port import TOOL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_container(docker: Docker, image: str, *args: str) -> str:
    name = f"sptest-tools-{uuid.uuid4().hex[:12]}"
    docker(
        "run", "-d", "--name", name, "--network", "host",
        "-v", f"{TOOL}:/usr/local/bin/wait-for-port-new:ro",
        "--entrypoint", "/usr/local/bin/wait-for-port-new",
        image, *args,
    )  # fmt: skip
    return name


def stop_and_exit_code(docker: Docker, name: str) -> int:
    docker("stop", "-t", "10", name, timeout=120)
    return int(docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip())


@pytest.mark.engine
def test_container_stops_at_once_running_the_command(
    docker: Docker, family_images: dict[str, str], port: Port
) -> None:
    port.open()
    http = free_port()
    server = ["python3", "-m", "http.server", str(http), "--bind", "127.0.0.1"]
    name = run_container(docker, family_images["3.12"], port.endpoint, "--", *server)
    try:

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", http), timeout=1):
                    return True
            except OSError:
                return False

        wait_until(answers, "the web server answers", tries=600)
        # http.server dies of the forwarded SIGTERM: 143, and no SIGKILL (137).
        assert stop_and_exit_code(docker, name) == 143
    finally:
        docker("rm", "-f", name, check=False)


@pytest.mark.engine
def test_container_stops_at_once_while_waiting(
    docker: Docker, family_images: dict[str, str], port: Port
) -> None:
    name = run_container(
        docker, family_images["3.12"], "-v", "-t", "600", port.endpoint, "--", "true"
    )
    try:
        wait_until(
            lambda: "not up yet" in docker("logs", name).stderr, "the wait started", tries=600
        )
        assert stop_and_exit_code(docker, name) == 143
    finally:
        docker("rm", "-f", name, check=False)

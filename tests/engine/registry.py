"""A real, throwaway registry for tests that push: Debian's docker-registry on loopback.

Each use gets its own storage directory and a free port on 127.0.0.1 (the engine
treats loopback registries as insecure, so no TLS is needed). The fixture waits until
``/v2/`` answers, yields ``127.0.0.1:PORT``, and stops the registry afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CONFIG = """version: 0.1
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    readonly:
      enabled: {read_only}
http:
  addr: {address}
"""
_START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def _answers(address: str) -> bool:
    try:
        with _DIRECT.open(f"http://{address}/v2/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_registry(read_only: bool = False) -> Iterator[str]:
    """Start a registry; yield its address; stop it and drop its storage. A READ_ONLY
    one answers reads and refuses every write (a registry that stops taking pushes)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("no docker-registry (scripts/setup installs it)")
    with tempfile.TemporaryDirectory(prefix="snakepacker-registry-") as tmp:
        work = Path(tmp)
        address = f"127.0.0.1:{free_port()}"
        config = work / "config.yml"
        config.write_text(CONFIG.format(storage=work / "storage", address=address,
                                        read_only=str(read_only).lower()))
        log = (work / "registry.log").open("wb")
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + _START_TIMEOUT
            while not _answers(address):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (work / "registry.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"docker-registry did not answer on {address}:\n{tail}")
                time.sleep(0.1)
            yield address
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """The address (127.0.0.1:PORT) of a fresh registry for this test module."""
    with running_registry() as address:
        yield address

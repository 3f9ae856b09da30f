"""Pushing to a real registry (Debian's docker-registry on 127.0.0.1) with docker and
podman: push returns the digest the registry then serves for the tag."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.engine import find_engine

pytestmark = pytest.mark.engine

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a registry of our own, on loopback, storing under a temp dir."""
    server = shutil.which("docker-registry")
    if server is None:
        pytest.skip("needs Debian's docker-registry (scripts/setup installs it)")
    folder = tmp_path_factory.mktemp("registry")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder}/data\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([server, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        proc.wait()


def served_digest(registry: str, name: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{registry}/v2/{name}/manifests/{tag}",
                                     headers={"Accept": MANIFEST_TYPES}, method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


@pytest.mark.parametrize("engine_name", ["docker", "podman"])
def test_push_returns_the_digest_the_registry_serves(
    engine_name: str, registry: str, tmp_path: Path
) -> None:
    engine = find_engine(engine_name)
    tarball = tmp_path / "tiny.tar"
    with tarfile.open(tarball, "w") as tar:
        data = uuid.uuid4().hex.encode()  # a new image, never pushed before
        info = tarfile.TarInfo("etc/sptest-push")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    name = f"sptest-push/{engine_name}"
    ref = f"{registry}/{name}:1"
    try:
        engine.import_tarball(tarball, ref)
        digest = engine.push(ref)
        assert digest.startswith("sha256:") and len(digest) == 71
        assert served_digest(registry, name, "1") == digest
    finally:
        engine.remove([ref])

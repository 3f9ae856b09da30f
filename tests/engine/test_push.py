"""Pushing to a real registry (Debian's docker-registry on 127.0.0.1) with docker and
podman: push returns the digest the registry then serves for the tag.

The registry is the shared fixture (tests/engine/registry.py): it hands out an address
only once the registry answers, and fails the test when it never does."""

from __future__ import annotations

import io
import tarfile
import urllib.request
import uuid
from pathlib import Path

import pytest

from snakepacker.engine import find_engine

pytestmark = pytest.mark.engine

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def served_digest(registry: str, name: str, tag: str) -> str:
    request = urllib.request.Request(f"http://{registry}/v2/{name}/manifests/{tag}",
                                     headers={"Accept": MANIFEST_TYPES}, method="HEAD")
    with _DIRECT.open(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


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

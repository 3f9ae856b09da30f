"""SBOMs stored beside pushed images in a real registry, and read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from snakepacker.engine import skopeo
from snakepacker.errors import EngineError
from snakepacker.ship import attach
from tests.helpers import Docker

pytestmark = pytest.mark.engine


@pytest.fixture
def pushed(registry: str, docker: Docker, tmp_path: Path) -> tuple[str, str]:
    """A tiny image in the registry: (repository, digest)."""
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    ref = f"{registry}/sptest/attach:one"
    docker.build(str(tmp_path), "-t", ref)
    try:
        digest = registry_push(docker, ref)
    finally:
        docker("image", "rm", "--force", ref, check=False)
    return f"{registry}/sptest/attach", digest


def registry_push(docker: Docker, ref: str) -> str:
    return docker.engine.push(ref)


def test_an_sbom_is_stored_under_cosigns_tag_and_read_back(pushed: tuple[str, str]) -> None:
    repository, digest = pushed
    document = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6"}).encode()
    where = attach.attach(repository, digest, document, "application/vnd.cyclonedx+json")
    assert where == f"{repository}:sha256-{digest.split(':')[1]}.sbom"
    stored = attach.fetch(repository, digest)
    assert stored == attach.Stored("application/vnd.cyclonedx+json", document)
    manifest = json.loads(subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{where}"],
        capture_output=True, text=True, check=True).stdout)
    assert manifest["layers"][0]["mediaType"] == "application/vnd.cyclonedx+json"
    assert manifest["config"]["mediaType"] == attach.EMPTY_CONFIG


def test_no_sbom_is_one_clear_error(pushed: tuple[str, str]) -> None:
    repository, _digest = pushed
    with pytest.raises(EngineError, match="holds no SBOM"):
        attach.fetch(repository, "sha256:" + "0" * 64)


def test_sbom_command_reads_the_stored_document_from_the_registry(
        pushed: tuple[str, str]) -> None:
    from tests.helpers import snakepacker

    repository, digest = pushed
    document = b'{"bomFormat": "CycloneDX"}\n'
    attach.attach(repository, digest, document, "application/vnd.cyclonedx+json")
    proc = snakepacker("sbom", f"{repository}@{digest}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.encode() == document
    wrong = snakepacker("sbom", f"{repository}@{digest}", "--format", "spdx")
    assert wrong.returncode == 2 and "not application/spdx+json" in wrong.stderr


@pytest.fixture
def cosign_tool() -> str:
    """cosign: scripts/setup provides it on Debian (Debian 12 gets Debian 13's binary), so
    there, where the engine tests are required (scripts/test, CI), its absence is a
    failure; elsewhere (Ubuntu has no package) the signing test is skipped."""
    tool = shutil.which("cosign")
    if tool is None:
        on_debian = "\nID=debian\n" in "\n" + Path("/etc/os-release").read_text()
        if os.environ.get("SNAKEPACKER_REQUIRE_ENGINE") and on_debian:
            pytest.fail("cosign is missing: run scripts/setup")
        pytest.skip("cosign is not on this machine (scripts/setup provides it)")
    return tool


def test_sign_verify_and_a_tampered_tag_fails(pushed: tuple[str, str], docker: Docker,
                                              tmp_path: Path, cosign_tool: str) -> None:
    """Keyed and offline, as on a machine with no transparency log to reach: a loopback
    registry over plain HTTP, signatures beside the digests they sign."""
    from snakepacker.ship import signing
    from tests.helpers import snakepacker

    repository, digest = pushed
    env = {**os.environ, "COSIGN_PASSWORD": ""}
    subprocess.run([cosign_tool, "generate-key-pair"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    document = b'{"bomFormat": "CycloneDX"}\n'
    where = attach.attach(repository, digest, document, "application/vnd.cyclonedx+json")
    signing.sign(f"{repository}@{digest}", tmp_path / "cosign.key")
    signing.sign(f"{repository}@{skopeo.remote_digest(where)}", tmp_path / "cosign.key")
    good = snakepacker("verify", f"{repository}:one", "--key", str(tmp_path / "cosign.pub"))
    assert good.returncode == 0, good.stderr
    assert good.stdout == f"{repository}@{digest}: image and SBOM signed by " \
        f"{tmp_path / 'cosign.pub'}\n"
    # The signature is cosign's own, where any cosign user looks for it.
    assert skopeo.remote_digest(f"{repository}:{digest.replace(':', '-')}.sig")
    # Another key does not verify them.
    (tmp_path / "other").mkdir()
    subprocess.run([cosign_tool, "generate-key-pair"], cwd=tmp_path / "other", env=env,
                   check=True, capture_output=True)
    stranger = snakepacker("verify", f"{repository}:one", "--key",
                           str(tmp_path / "other" / "cosign.pub"))
    assert stranger.returncode == 3 and stranger.stderr.count("\n") == 1, stranger.stderr

    # Another image pushed under the same tag: not signed, so verification fails.
    (tmp_path / "other.txt").write_text("other\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY other.txt /\n")
    docker.build(str(tmp_path), "-t", f"{repository}:one")
    registry_push(docker, f"{repository}:one")
    bad = snakepacker("verify", f"{repository}:one", "--key", str(tmp_path / "cosign.pub"))
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1, bad.stderr
    assert "no signatures found" in bad.stderr and digest not in bad.stderr, bad.stderr

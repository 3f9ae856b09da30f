"""Signed pushes on a real registry with the real cosign: each image signed, its SBOM
and SLSA provenance attested, the list signed; `verify` passes on every name, `sbom`
reads the attested document back; and each kind of tampering makes `verify` fail in one
line: an attestation replaced by another key's or removed, a member nobody signed, a
list nobody signed.

Tiny images FROM scratch (a dpkg status, an os-release and the labels a family image
carries), one per platform: no family image is built, nothing of them runs.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker import refs
from snakepacker.engine import Engine, skopeo
from snakepacker.platforms import Platform, get_platform, native_platform
from snakepacker.ship import signing
from snakepacker.ship.shipping import (
    EngineRegistry,
    Shipment,
    push_platforms,
    signed_publish,
    write_lists,
)
from snakepacker.supply.provenance import provenance_json
from snakepacker.supply.sbom import read_image, sbom_for
from tests.helpers import Docker, key_pair, snakepacker

pytestmark = pytest.mark.engine

AMD64, ARM64 = get_platform("linux/amd64"), get_platform("linux/arm64")
STATUS = """\
Package: sptest-tool
Status: install ok installed
Architecture: {arch}
Version: 1.0-1
Description: a package that is only a record
"""
REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def keys(cosign_tool: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Our private key, and a stranger's."""
    top = tmp_path_factory.mktemp("keys")
    return key_pair(cosign_tool, top / "ours"), key_pair(cosign_tool, top / "stranger")


def pub(key: Path) -> str:
    return str(key.with_suffix(".pub"))


@pytest.fixture(scope="module")
def images(docker: Docker, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[dict[str, str]]:
    """Local tiny images: 'amd64' and 'arm64', and a 'stray' arm64 one nobody signs."""
    stem = f"sptest-attest-{uuid.uuid4().hex[:8]}"
    made = {}
    try:
        for name, platform in (("amd64", AMD64), ("arm64", ARM64), ("stray", ARM64)):
            context = tmp_path_factory.mktemp(name)
            arch = platform.name.split("/")[1]
            (context / "status").write_text(STATUS.format(arch=arch))
            (context / "os-release").write_text("ID=debian\nVERSION_ID=12\n"
                                                "VERSION_CODENAME=bookworm\n")
            (context / "who").write_text(f"{name} {stem}\n")
            record = json.dumps({"distro": "bookworm", "grade": "quick"})
            (context / "Dockerfile").write_text(
                "FROM scratch\nCOPY status /var/lib/dpkg/status\n"
                "COPY os-release /etc/os-release\nCOPY who /\n"
                f"LABEL org.opencontainers.image.title=sptest-attest "
                f"org.opencontainers.image.revision={REVISION} "
                f"io.snakepacker.build='{record}'\n")
            made[name] = f"{stem}:{name}"
            docker.build(str(context), "--platform", platform.name, "-t", made[name])
        yield made
    finally:
        if made:
            docker("image", "rm", *made.values(), check=False)


def signed_push(engine: Engine, registry: str, images: dict[str, str], name: str,
                key: Path) -> tuple[str, str, dict[Platform, str]]:
    """The amd64 and arm64 images pushed as `images push --sign` does, under
    REGISTRY/sptest/NAME:1 and a second name; (the first name, the list's digest, each
    platform's digest)."""
    names = (f"{registry}/sptest/{name}:1", f"{registry}/sptest/{name}/copy:1")
    shipment = Shipment("1", {AMD64: images["amd64"], ARM64: images["arm64"]}, names,
                        python=False)
    publisher, heard = EngineRegistry(engine), []
    pushed = push_platforms(engine, publisher, [shipment], heard.append,
                            signed_publish(engine, key))
    digests = {p: pushed["1", p] for p in (AMD64, ARM64)}
    shipped = write_lists(publisher, shipment, digests, heard.append, key)
    assert len(shipped.moved) == 2, heard
    return names[0], shipped.digest, digests


def verify(ref: str, key: Path) -> subprocess.CompletedProcess[str]:
    return snakepacker("verify", ref, "--key", pub(key))


def fails(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """VERIFY failed (exit 3) in one line saying WORDS."""
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr
    assert all(word in proc.stderr for word in words), proc.stderr


def test_a_signed_push_verifies_on_every_name_and_its_sbom_reads_back(
        engine: Engine, registry: str, images: dict[str, str], keys: tuple[Path, Path]) -> None:
    ours, stranger = keys
    ref, list_digest, digests = signed_push(engine, registry, images, "good", ours)
    home = refs.repository(ref)
    for name in (ref, f"{registry}/sptest/good/copy:1"):
        proc = verify(name, ours)
        assert proc.returncode == 0, proc.stderr
        repo = refs.repository(name)
        first, *members = proc.stdout.splitlines()
        assert first == f"{repo}@{list_digest}: list of 2 signed by {pub(ours)}"
        assert sorted(members) == sorted(
            f"{repo}@{digests[p]}: image signed, SBOM (cyclonedx) and provenance "
            f"attested by {pub(ours)}" for p in (AMD64, ARM64))
    # Where any cosign user finds them: cosign's own tags beside each digest.
    assert skopeo.remote_digest(f"{home}:{signing.cosign_tags(list_digest)[0]}")
    assert skopeo.remote_digest(f"{home}:{signing.cosign_tags(digests[ARM64])[1]}")
    fails(verify(ref, stranger), "the list", "is not signed by", pub(stranger))

    # `sbom REF` prints the attested document: this machine's platform's SBOM, the one
    # made from the image itself; with --key only when that key attested it.
    native = images[native_platform().suffix]
    made = json.loads(sbom_for(engine, native))
    for extra in ((), ("--key", pub(ours))):
        proc = snakepacker("sbom", ref, *extra)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == made
    fails(snakepacker("sbom", ref, "--key", pub(stranger)), "cyclonedx attestation")
    fails(snakepacker("sbom", ref, "--format", "spdx"), "spdxjson attestation")
    # The provenance comes back as it was made: cosign reads it into SLSA's structure,
    # which drops what it does not know; nothing was dropped (it adds an empty metadata).
    member = f"{home}@{digests[ARM64]}"
    (provenance,) = signing.verified_predicates(member, signing.PROVENANCE, pub_key(ours))
    assert provenance["runDetails"].pop("metadata", {}) == {}
    assert provenance == json.loads(provenance_json(*read_image(engine, images["arm64"])))
    assert provenance["buildDefinition"]["externalParameters"]["platform"] == "linux/arm64"
    assert {"name": "source", "digest": {"gitCommit": REVISION}} in \
        provenance["buildDefinition"]["resolvedDependencies"]


def pub_key(key: Path) -> Path:
    return key.with_suffix(".pub")


def test_an_attestation_replaced_or_removed_fails(
        engine: Engine, registry: str, images: dict[str, str], keys: tuple[Path, Path],
        cosign_tool: str, tmp_path: Path) -> None:
    ours, stranger = keys
    ref, _list_digest, digests = signed_push(engine, registry, images, "att", ours)
    home = refs.repository(ref)
    arm, amd = f"{home}@{digests[ARM64]}", f"{home}@{digests[AMD64]}"
    assert verify(ref, ours).returncode == 0
    # The arm64 image's SBOM replaced by one a stranger signed.
    forged = signing.Predicate("cyclonedx", b'{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    signing.attest(arm, forged, stranger)
    fails(verify(ref, ours), arm, "has no SBOM attestation signed by")
    signing.attest(arm, forged, ours)  # our key again: what failed was the stranger's
    assert verify(ref, ours).returncode == 0
    # The amd64 image's attestations deleted from the registry.
    attestations = f"{home}:{signing.cosign_tags(digests[AMD64])[1]}"
    subprocess.run(["skopeo", "delete", "--tls-verify=false", f"docker://{attestations}"],
                   check=True, capture_output=True)
    assert skopeo.remote_digest(attestations) is None
    fails(verify(ref, ours), amd, "has no SBOM attestation signed by")


def test_a_member_nobody_signed_fails(
        engine: Engine, registry: str, images: dict[str, str], keys: tuple[Path, Path]) -> None:
    """A list we signed (say, our key misused) that names an image nobody signed."""
    ours, _stranger = keys
    ref, _list_digest, digests = signed_push(engine, registry, images, "member", ours)
    home = refs.repository(ref)
    stray = f"{home}:stray"
    engine.tag(images["stray"], [stray])
    try:
        stray_digest = engine.push(stray)
    finally:
        engine.remove([stray])
    tampered = engine.make_list(ref, [f"{home}@{digests[AMD64]}", f"{home}@{stray_digest}"])
    signing.sign(f"{home}@{tampered}", ours)
    fails(verify(ref, ours), f"the image {home}@{stray_digest} is not signed by")


def test_a_list_nobody_signed_fails(
        engine: Engine, registry: str, images: dict[str, str], keys: tuple[Path, Path]) -> None:
    """Signed images put together into a list of someone else's making, and a single
    unsigned image pushed over the tag."""
    ours, _stranger = keys
    ref, list_digest, digests = signed_push(engine, registry, images, "list", ours)
    home = refs.repository(ref)
    made_up = engine.make_list(ref, [f"{home}@{digests[ARM64]}"])
    assert made_up != list_digest
    fails(verify(ref, ours), f"the list {home}@{made_up} is not signed by")
    engine.tag(images["stray"], [ref])
    try:
        single = engine.push(ref)
    finally:
        engine.remove([ref])
    fails(verify(ref, ours), f"the image {home}@{single} is not signed by")

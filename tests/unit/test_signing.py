"""Signing, attesting and verifying with cosign: what happens without it, bad input,
reading cosign's envelopes, and verify's decisions on a scripted registry (each thing
missing fails, in one line, before anything after it is asked)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from snakepacker.errors import EngineError, UsageError
from snakepacker.ship import signing
from snakepacker.ship.signing import Predicate
from snakepacker.ship.verifying import verify
from tests.helpers import cli_with, snakepacker

REPO = "127.0.0.1:9/x/y"
LIST, AMD, ARM = ("sha256:" + c * 64 for c in "abc")
KEY = Path("cosign.pub")
EVERYTHING = ("cyclonedx", "slsaprovenance1")


def test_verify_needs_a_key() -> None:
    proc = snakepacker("verify", "127.0.0.1:9/x/y:z")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--key FILE" in proc.stderr


def test_without_cosign_it_is_one_clear_line(tmp_path: Path) -> None:
    bare = tmp_path / "bin"  # a PATH without cosign, on any machine
    bare.mkdir()
    proc = cli_with({"PATH": str(bare)}, "verify", "127.0.0.1:9/x/y:z", "--key", "k.pub")
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1
    assert "cosign is not installed" in proc.stderr and "apt-get install cosign" in proc.stderr


def test_only_digests_are_signed_or_attested(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="name a digest, not a tag"):
        signing.sign("127.0.0.1:9/x/y:latest", tmp_path / "k.key")
    with pytest.raises(UsageError, match="name a digest, not a tag"):
        signing.attest("127.0.0.1:9/x/y:latest", Predicate("cyclonedx", b"{}"),
                       tmp_path / "k.key")


def _envelope(predicate_type: str, predicate: object) -> str:
    statement = {"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicate_type,
                 "subject": [{"name": REPO, "digest": {"sha256": "a" * 64}}],
                 "predicate": predicate}
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload,
                       "signatures": [{"keyid": "", "sig": "MEUC"}]})


def test_cosigns_envelopes_give_the_predicates_of_the_type_asked_for() -> None:
    out = "\n".join([_envelope("https://cyclonedx.org/bom", {"bomFormat": "CycloneDX"}),
                     _envelope("https://slsa.dev/provenance/v1", {"runDetails": {}}), ""])
    assert signing.predicates(out, "cyclonedx") == [{"bomFormat": "CycloneDX"}]
    assert signing.predicates(out, "slsaprovenance1") == [{"runDetails": {}}]
    assert signing.predicates(out, "spdxjson") == []
    with pytest.raises(EngineError, match="no DSSE envelope"):
        signing.predicates("not json\n", "cyclonedx")


def test_cosign_tags_are_by_digest() -> None:
    assert signing.cosign_tags(AMD) == (f"sha256-{'b' * 64}.sig", f"sha256-{'b' * 64}.att")
    with pytest.raises(UsageError):
        signing.cosign_tags("sha256:short")


@dataclass
class Scripted:
    """A registry and cosign that answer from a script: what REF names, which digests
    KEY signed, which predicate kinds KEY attested about which digests."""

    manifest: tuple[str, Sequence[str] | None]
    signed: set[str]
    attested: dict[str, tuple[str, ...]]
    asked: list[tuple[str, str]] = field(default_factory=list)

    def resolve(self, ref: str) -> tuple[str, Sequence[str] | None]:
        self.asked.append(("resolve", ref))
        return self.manifest

    def signature(self, ref: str, key: Path) -> None:
        self.asked.append(("signature", ref))
        if ref.split("@")[1] not in self.signed:
            raise EngineError(f"verifying {ref} failed: Error: no signatures found")

    def predicates(self, ref: str, kind: str, key: Path) -> list[dict[str, Any]]:
        self.asked.append((kind, ref))
        if kind not in self.attested.get(ref.split("@")[1], ()):
            raise EngineError(f"verifying the {kind} attestation of {ref} failed: Error: "
                              "none of the attestations matched the predicate type")
        return [{"from": kind}]


def whole() -> Scripted:
    return Scripted((LIST, (AMD, ARM)), {LIST, AMD, ARM}, {AMD: EVERYTHING, ARM: EVERYTHING})


def test_a_whole_signed_list_verifies_list_first_then_each_image() -> None:
    checks = whole()
    lines = verify(checks, f"{REPO}:1", KEY)
    assert lines == [
        f"{REPO}@{LIST}: list of 2 signed by {KEY}",
        f"{REPO}@{AMD}: image signed, SBOM (cyclonedx) and provenance attested by {KEY}",
        f"{REPO}@{ARM}: image signed, SBOM (cyclonedx) and provenance attested by {KEY}"]
    # The tag is read once; everything after is by digest.
    assert checks.asked[0] == ("resolve", f"{REPO}:1")
    assert all("@sha256:" in ref for _what, ref in checks.asked[1:])
    assert checks.asked[1] == ("signature", f"{REPO}@{LIST}")


def fails(checks: Scripted, match: str) -> str:
    with pytest.raises(EngineError, match=match) as caught:
        verify(checks, f"{REPO}:1", KEY)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_unsigned_list_fails_before_any_image_is_asked() -> None:
    checks = whole()
    checks.signed.discard(LIST)
    message = fails(checks, "the list .* is not signed by cosign.pub")
    assert LIST in message and "no signatures found" in message
    assert checks.asked == [("resolve", f"{REPO}:1"), ("signature", f"{REPO}@{LIST}")]


def test_an_unsigned_member_fails() -> None:
    checks = whole()
    checks.signed.discard(ARM)
    assert ARM in fails(checks, "the image .* is not signed")


@pytest.mark.parametrize("missing", EVERYTHING)
def test_a_missing_attestation_fails(missing: str) -> None:
    checks = whole()
    checks.attested[ARM] = tuple(k for k in EVERYTHING if k != missing)
    what = "SBOM" if missing == "cyclonedx" else "SLSA provenance"
    assert ARM in fails(checks, f"has no {what} attestation signed by cosign.pub")


def test_an_spdx_sbom_is_an_sbom() -> None:
    checks = whole()
    checks.attested[AMD] = ("spdxjson", "slsaprovenance1")
    assert "SBOM (spdxjson)" in verify(checks, f"{REPO}:1", KEY)[1]


def test_cosign_finding_nothing_is_no_attestation() -> None:
    """cosign exits 0 but no statement of the type is in its answer: not verified."""
    checks = whole()
    checks.predicates = lambda ref, kind, key: []  # type: ignore[method-assign]
    fails(checks, "has no SBOM attestation")


def test_an_empty_list_fails() -> None:
    fails(Scripted((LIST, ()), {LIST}, {}), "names no image")


def test_a_single_image_is_checked_as_itself() -> None:
    checks = Scripted((AMD, None), {AMD}, {AMD: EVERYTHING})
    assert verify(checks, f"{REPO}@{AMD}", KEY) == [
        f"{REPO}@{AMD}: image signed, SBOM (cyclonedx) and provenance attested by {KEY}"]
    checks.signed.clear()
    fails(checks, "the image .* is not signed")

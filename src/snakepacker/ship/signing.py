"""Signatures and attestations on pushed images, with cosign.

snakepacker does not hold keys or talk to a transparency log itself: it calls cosign,
which stores each signature in the registry beside the digest it signs (its
``sha256-<hex>.sig`` tag scheme) and each attestation beside it too (``.att``: in-toto
statements about the digest, each signed as one DSSE envelope). An image's SBOM and its
SLSA provenance go up as such attestations, where any cosign user verifies them. With a
key file, signing and verifying stay offline (no transparency log).

Debian 13 ships cosign; Debian 12 does not: without it, asking to sign or verify is
one clear line, and nothing is pushed half-signed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snakepacker import refs
from snakepacker.engine import skopeo
from snakepacker.errors import EngineError, UsageError

INSTALL_HINT = ("cosign is not installed: Debian 13 and later ship it (apt-get install "
                "cosign); elsewhere install a release of sigstore's cosign")

# cosign's names for the statements snakepacker makes (`--type`), and the predicate
# type each one gets in the statement.
PREDICATE_TYPES = {
    "cyclonedx": "https://cyclonedx.org/bom",
    "spdxjson": "https://spdx.dev/Document",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
}
SBOM_TYPES = {"cyclonedx": "cyclonedx", "spdx": "spdxjson"}  # by `sbom --format`
PROVENANCE = "slsaprovenance1"


@dataclass(frozen=True)
class Predicate:
    """What one attestation says about an image: cosign's --type, and the JSON."""

    kind: str  # a key of PREDICATE_TYPES
    document: bytes


def cosign() -> str:
    tool = shutil.which("cosign")
    if tool is None:
        raise EngineError(INSTALL_HINT)
    return tool


def _check_key(key: Path, what: str) -> None:
    if not key.is_file():
        raise UsageError(f"{what} {key}: no such key file")


def _flags(ref: str) -> list[str]:
    # A loopback registry speaks plain HTTP; every other one TLS.
    return ["--allow-insecure-registry", "--allow-http-registry"] if refs.is_loopback(
        ref) else []


def _pinned(ref: str, what: str) -> None:
    if "@sha256:" not in ref:
        raise UsageError(f"{what} {ref}: name a digest, not a tag (a tag can move)")


# cosign talks to the registry: a few requests, never minutes of them.
COSIGN_SECONDS = 600.0


def _run(args: list[str], what: str, data: bytes | None = None) -> str:
    env = {**os.environ, "COSIGN_PASSWORD": os.environ.get("COSIGN_PASSWORD", "")}
    try:
        # DATA (a predicate) on stdin; else an empty one: cosign never waits on input.
        proc = subprocess.run(args, capture_output=True, env=env, timeout=COSIGN_SECONDS,
                              input=data or b"")
    except subprocess.TimeoutExpired:
        raise EngineError(f"{what}: cosign did not finish within {COSIGN_SECONDS:g} s") from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace")
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        last = lines[-1].removeprefix("error during command execution: ").rstrip(": ") \
            if lines else f"exit code {proc.returncode}"
        raise EngineError(f"{what} failed: {last}")
    return proc.stdout.decode(errors="replace")


def sign(ref: str, key: Path) -> None:
    """Sign REF (pinned by digest), offline: no transparency-log upload."""
    _pinned(ref, "sign")
    _check_key(key, "--sign")
    _run([cosign(), "sign", "--yes", "--key", str(key), "--tlog-upload=false", *_flags(ref),
          ref], f"signing {ref}")


def attest(ref: str, predicate: Predicate, key: Path) -> None:
    """Attest PREDICATE about REF (pinned by digest), signed with KEY, offline. It takes
    the place of an earlier attestation of the same type: a push made again leaves one."""
    _pinned(ref, "attest")
    _check_key(key, "--sign")
    _run([cosign(), "attest", "--yes", "--key", str(key), "--tlog-upload=false",
          "--replace", "--type", predicate.kind, "--predicate", "-", *_flags(ref), ref],
         f"attesting the {predicate.kind} of {ref}", predicate.document)


def verify(ref: str, key: Path) -> str:
    """Check REF's signature against KEY; return cosign's report. EngineError when the
    signature is missing or does not match."""
    _check_key(key, "--key")
    return _run([cosign(), "verify", "--key", str(key), "--insecure-ignore-tlog=true",
                 *_flags(ref), ref], f"verifying {ref}")


def verified_predicates(ref: str, kind: str, key: Path) -> list[dict[str, Any]]:
    """The predicates of REF's KIND attestations that KEY signed; EngineError when there
    is none (cosign checks each statement's subject is REF's digest)."""
    _check_key(key, "--key")
    out = _run([cosign(), "verify-attestation", "--key", str(key), "--type", kind,
                "--insecure-ignore-tlog=true", *_flags(ref), ref],
               f"verifying the {kind} attestation of {ref}")
    return predicates(out, kind)


def stored_predicates(ref: str, kind: str) -> list[dict[str, Any]]:
    """The predicates of REF's KIND attestations as the registry holds them, unverified."""
    out = _run([cosign(), "download", "attestation", "--predicate-type",
                PREDICATE_TYPES[kind], *_flags(ref), ref],
               f"reading the {kind} attestation of {ref}")
    return predicates(out, kind)


def predicates(out: str, kind: str) -> list[dict[str, Any]]:
    """The KIND predicates in cosign's output: one DSSE envelope per line, whose payload
    (base64) is an in-toto statement."""
    found = []
    for line in out.splitlines():
        if not line.strip():
            continue
        try:
            envelope = json.loads(line)
            statement = json.loads(base64.b64decode(envelope["payload"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError(f"cosign gave an attestation that is no DSSE envelope "
                              f"({exc})") from None
        if (isinstance(statement, dict) and statement.get("predicateType")
                == PREDICATE_TYPES[kind] and isinstance(statement.get("predicate"), dict)):
            found.append(statement["predicate"])
    return found


def cosign_tags(digest: str) -> tuple[str, str]:
    """The tags cosign keeps DIGEST's signatures and attestations under."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise UsageError(f"{digest!r} is not a sha256 digest")
    return f"sha256-{hexdigest}.sig", f"sha256-{hexdigest}.att"


def copy_signatures(source: str, destination: str, digests: Sequence[str]) -> int:
    """Copy what cosign stored for DIGESTS in repository SOURCE (signatures,
    attestations) to repository DESTINATION, byte for byte; return how many. A name
    that is a copy of another (skopeo.copy_all) verifies as the original then."""
    copied = 0
    for digest in digests:
        for tag in cosign_tags(digest):
            origin = f"{refs.repository(source)}:{tag}"
            if skopeo.remote_digest(origin) is not None:
                skopeo.copy_all(origin, f"{refs.repository(destination)}:{tag}")
                copied += 1
    return copied

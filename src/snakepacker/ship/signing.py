"""Signatures on pushed images and their SBOMs, with cosign.

snakepacker does not hold keys or talk to a transparency log itself: it calls cosign,
which stores each signature in the registry beside the digest it signs (its
``sha256-<hex>.sig`` tag scheme, the same any cosign user verifies against). With a
key file, signing and verifying stay offline (no transparency log); in CI, cosign's
keyless mode uses the job's OIDC identity instead (see .github/workflows/).

Debian 13 ships cosign; Debian 12 does not: without it, asking to sign or verify is
one clear line, and nothing is pushed half-signed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from snakepacker import refs
from snakepacker.errors import EngineError, UsageError

INSTALL_HINT = ("cosign is not installed: Debian 13 and later ship it (apt-get install "
                "cosign); elsewhere install a release of sigstore's cosign")


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


# cosign talks to the registry: a few requests, never minutes of them.
COSIGN_SECONDS = 600.0


def _run(args: list[str], what: str) -> str:
    env = {**os.environ, "COSIGN_PASSWORD": os.environ.get("COSIGN_PASSWORD", "")}
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env,
                              timeout=COSIGN_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EngineError(f"{what}: cosign did not finish within {COSIGN_SECONDS:g} s") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise EngineError(f"{what} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout


def sign(ref: str, key: Path) -> None:
    """Sign REF (pinned by digest), offline: no transparency-log upload."""
    if "@sha256:" not in ref:
        raise UsageError(f"sign {ref}: sign a digest, not a tag (a tag can move)")
    _check_key(key, "--sign")
    _run([cosign(), "sign", "--yes", "--key", str(key), "--tlog-upload=false", *_flags(ref),
          ref], f"signing {ref}")


def verify(ref: str, key: Path) -> str:
    """Check REF's signature against KEY; return cosign's report. EngineError when the
    signature is missing or does not match."""
    _check_key(key, "--key")
    return _run([cosign(), "verify", "--key", str(key), "--insecure-ignore-tlog=true",
                 *_flags(ref), ref], f"verifying {ref}")

"""`verify REF`: every signature and attestation a signed push leaves, or a failure.

A multi-platform list is checked first (its own signature: a list made up of older,
still-signed images does not pass), then each image it names: its signature, an SBOM
attestation (CycloneDX or SPDX) and the SLSA provenance attestation, each signed by the
key. The tag is read once; everything after is by digest, so a tag moved meanwhile
cannot mix two lists. The first thing missing or signed by another key fails, in one
line: nothing is taken on trust.

What a signature cannot tell is whether a tag was rolled back to an older list that
was signed too: that needs a record of which list is the newest, kept elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from snakepacker import refs
from snakepacker.engine import skopeo
from snakepacker.errors import EngineError
from snakepacker.ship import signing
from snakepacker.ship.signing import PROVENANCE, SBOM_TYPES


class Checks(Protocol):
    """What verifying asks of the registry and cosign; tests give a scripted one."""

    def resolve(self, ref: str) -> tuple[str, Sequence[str] | None]:
        """REF's digest, and its members' digests when it is a list."""
        ...

    def signature(self, ref: str, key: Path) -> None:
        """EngineError unless KEY signed REF."""
        ...

    def predicates(self, ref: str, kind: str, key: Path) -> list[dict[str, Any]]:
        """The KIND predicates about REF that KEY signed; EngineError when none is."""
        ...


@dataclass(frozen=True)
class Cosign:
    """The real checks: skopeo reads the manifest, cosign the signatures."""

    def resolve(self, ref: str) -> tuple[str, Sequence[str] | None]:
        return skopeo.resolve(ref)

    def signature(self, ref: str, key: Path) -> None:
        signing.verify(ref, key)

    def predicates(self, ref: str, kind: str, key: Path) -> list[dict[str, Any]]:
        return signing.verified_predicates(ref, kind, key)


def _cause(exc: EngineError) -> str:
    return str(exc).rsplit(" failed: ", 1)[-1]


def _signed(checks: Checks, ref: str, key: Path, what: str) -> None:
    try:
        checks.signature(ref, key)
    except EngineError as exc:
        raise EngineError(f"{what} {ref} is not signed by {key} ({_cause(exc)})") from None


def _attested(checks: Checks, ref: str, kinds: Sequence[str], key: Path,
              what: str) -> str:
    """The first of KINDS attested about REF by KEY; EngineError when none is (saying
    why the first kind, the usual one, was not)."""
    causes = []
    for kind in kinds:
        try:
            if checks.predicates(ref, kind, key):
                return kind
            causes.append("none found")
        except EngineError as exc:
            causes.append(_cause(exc))
    raise EngineError(f"{ref} has no {what} attestation signed by {key} ({causes[0]})")


def verify_image(checks: Checks, ref: str, key: Path) -> str:
    """REF (by digest): signed, its SBOM and its provenance attested, all by KEY."""
    _signed(checks, ref, key, "the image")
    sbom = _attested(checks, ref, tuple(SBOM_TYPES.values()), key, "SBOM")
    _attested(checks, ref, (PROVENANCE,), key, "SLSA provenance")
    return f"{ref}: image signed, SBOM ({sbom}) and provenance attested by {key}"


def verify(checks: Checks, ref: str, key: Path) -> list[str]:
    """Every check REF needs, in order; one line of report each for the list and each
    image. EngineError at the first that fails."""
    home = refs.repository(ref)
    digest, members = checks.resolve(ref)
    lines = []
    if members is not None:
        _signed(checks, f"{home}@{digest}", key, "the list")
        if not members:
            raise EngineError(f"the list {home}@{digest} names no image")
        lines.append(f"{home}@{digest}: list of {len(members)} signed by {key}")
    for member in members if members is not None else (digest,):
        lines.append(verify_image(checks, f"{home}@{member}", key))
    return lines

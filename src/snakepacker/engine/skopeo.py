"""Registries read and copied with skopeo: manifests, lists, platforms, whole copies.

skopeo talks to registries only, never to the engine: it reads back what a registry
holds (a manifest's bytes and digest, a list's entries, an image's platform) and copies
an image or a whole list to another name byte for byte, with the same login store as
the engine's client. Registries on loopback (see snakepacker.refs) are spoken to
without TLS; every other one with it. Every call has a time limit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from snakepacker.errors import EngineError, UsageError
from snakepacker.platforms import Platform
from snakepacker.refs import by_digest, is_loopback

_LIST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass(frozen=True)
class ListEntry:
    digest: str
    platform: str  # os/architecture[/variant]
    media_type: str


# A manifest read answers in seconds; a copy moves whole images.
READ_SECONDS = 120.0
COPY_SECONDS = 3600.0


def _skopeo_run(args: Sequence[str], what: str,
                timeout: float) -> subprocess.CompletedProcess[bytes]:
    """skopeo ARGS, output captured, within TIMEOUT seconds (EngineError past it)."""
    try:
        return subprocess.run([_skopeo(), *args], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EngineError(f"{what}: skopeo did not finish within {timeout:g} s") from None


def _run(args: Sequence[str], what: str, timeout: float = COPY_SECONDS) -> str:
    proc = _skopeo_run(args, what, timeout)
    if proc.returncode != 0:
        raise EngineError(f"{what} failed: {_last_error(proc.stderr.decode(errors='replace'))}")
    return proc.stdout.decode()


def _skopeo() -> str:
    tool = shutil.which("skopeo")
    if tool is None:
        raise EngineError("reading a registry needs skopeo: apt-get install skopeo")
    return tool


def _tls(ref: str, flag: str = "--tls-verify") -> list[str]:
    return [f"{flag}=false"] if is_loopback(ref) else []


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no answer"
    # skopeo's fatal lines look like: time=... level=fatal msg="Error ...: the cause"
    if 'msg="' in last:
        last = last.split('msg="', 1)[1].rstrip('"').replace('\\"', '"')
    return last


def _raw_or_none(ref: str) -> bytes | None:
    proc = _skopeo_run(["inspect", "--raw", *_tls(ref), f"docker://{ref}"],
                       f"reading {ref}", READ_SECONDS)
    if proc.returncode == 0:
        return proc.stdout
    detail = _last_error(proc.stderr.decode(errors="replace"))
    if "manifest unknown" in detail or "name unknown" in detail.lower():
        return None
    raise EngineError(f"reading {ref} failed: {detail}")


def raw_manifest(ref: str) -> bytes:
    """REF's manifest (or list) exactly as the registry serves it."""
    raw = _raw_or_none(ref)
    if raw is None:
        raise EngineError(f"reading {ref} failed: the registry has no such manifest")
    return raw


def remote_digest(ref: str) -> str | None:
    """The digest REF names in its registry, or None when the registry has no such tag
    (how an immutable tag such as 3.12.3 is checked before it is pushed). A registry that
    does not answer is an EngineError, never "absent"."""
    raw = _raw_or_none(ref)
    return None if raw is None else "sha256:" + hashlib.sha256(raw).hexdigest()


def manifest_digest(ref: str) -> str:
    """The digest the registry gives REF: the sha256 of its manifest's bytes."""
    return "sha256:" + hashlib.sha256(raw_manifest(ref)).hexdigest()


def _is_list(manifest: dict[str, object]) -> bool:
    return manifest.get("mediaType") in _LIST_TYPES or "manifests" in manifest


def _platform_name(fields: dict[str, str]) -> str:
    return "/".join(p for p in (fields.get("os"), fields.get("architecture"),
                                fields.get("variant")) if p)


def _entries(manifest: dict[str, Any]) -> tuple[ListEntry, ...]:
    return tuple(
        ListEntry(item["digest"], _platform_name(item.get("platform", {})),
                  item.get("mediaType", ""))
        for item in manifest["manifests"]
    )


def list_entries(ref: str) -> tuple[ListEntry, ...]:
    """The entries of the list REF names; EngineError when REF is a single image."""
    manifest = json.loads(raw_manifest(ref))
    if not _is_list(manifest):
        raise EngineError(f"{ref} is a single image, not a multi-platform list")
    return _entries(manifest)


def image_platform(ref: str) -> str:
    """os/architecture[/variant] from the config of the single image REF names."""
    out = _run(["inspect", "--config", *_tls(ref), f"docker://{ref}"],
               f"reading the config of {ref}", READ_SECONDS)
    return _platform_name(json.loads(out))


def platform_digest(ref: str, platform: Platform) -> str:
    """The digest of PLATFORM's image behind REF, checked.

    BuildKit here picks a list's entry by --platform, but takes a single image named by
    tag or digest whatever its platform and stamps the build's platform on the result:
    an x86_64 parent would come out labelled arm64. So a FROM for a foreign platform
    names REPO@(this digest), found here from the list's entry or from the single
    image's own config, and refused when the platforms differ.
    """
    raw = raw_manifest(ref)
    manifest = json.loads(raw)
    if _is_list(manifest):
        for entry in _entries(manifest):
            if entry.platform == platform.name:
                return entry.digest
        raise UsageError(f"{ref} has no image for {platform.name}")
    found = image_platform(ref)
    if found != platform.name:
        raise UsageError(f"{ref} is a {found} image, not {platform.name}")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def copy_all(source: str, destination: str) -> None:
    """Copy an image or a whole list, byte for byte (same digests), to another name.

    This is how one pushed list becomes its other names: registry to registry, with no
    pull into the engine, and the entries keep their digests.
    """
    _run(["copy", "--all", "--preserve-digests",
          *_tls(source, "--src-tls-verify"), *_tls(destination, "--dest-tls-verify"),
          f"docker://{source}", f"docker://{destination}"],
         f"copying {source} to {destination}")


def copy_by_digest(source: str, digest: str, destination_repo: str) -> str:
    """Copy the image SOURCE's repository holds at DIGEST into DESTINATION_REPO, tagging
    nothing there (push by digest, for a CI matrix whose lists are made later); return
    the reference it now has: DESTINATION_REPO@DIGEST."""
    target = f"{destination_repo}@{digest}"
    _run(["copy", "--preserve-digests",
          *_tls(source, "--src-tls-verify"), *_tls(target, "--dest-tls-verify"),
          f"docker://{by_digest(source, digest)}", f"docker://{target}"],
         f"copying {source} to {target}")
    return target


def resolve(ref: str) -> tuple[str, tuple[str, ...] | None]:
    """The digest REF names, read once, and the digests of its entries when it is a
    multi-platform list (None when it is a single image)."""
    raw = raw_manifest(ref)
    manifest = json.loads(raw)
    members = tuple(e.digest for e in _entries(manifest)) if _is_list(manifest) else None
    return "sha256:" + hashlib.sha256(raw).hexdigest(), members

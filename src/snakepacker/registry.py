"""Pushing images and making multi-platform lists, with the docker CLI and skopeo.

A multi-platform tag is a manifest list whose entries are per-platform images, named by
digest. On a 20.10 engine without buildx the pieces are: ``docker push`` for each
platform's image (it prints the digest it pushed), ``docker manifest create`` +
``docker manifest push`` for the list (its entries must be in the list's registry; the
client mounts them into the list's repository itself), and skopeo to read back what a
registry holds and to copy a whole list to another name without touching the engine.

The functions that drive docker take its client's path and environment (``client``,
``env``); the docker engine's ``make_list`` is this module's, podman's client makes
lists with other words (engine/podman.py). The skopeo functions talk to registries
only. Registries on loopback are spoken to without TLS (``--insecure``,
``--tls-verify=false``); every other one with it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from snakepacker.errors import EngineError, UsageError
from snakepacker.platforms import Platform

_PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64}) size: \d+")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_LIST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass(frozen=True)
class ListEntry:
    digest: str
    platform: str  # os/architecture[/variant]
    media_type: str


def is_loopback(ref: str) -> bool:
    """Whether REF names a registry on this machine (spoken to without TLS)."""
    host = ref.split("/", 1)[0]
    return host.startswith(("127.", "localhost:", "[::1]")) or host == "localhost"


def repository(ref: str) -> str:
    """REF without its tag or digest: 127.0.0.1:5000/snakepacker/python."""
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def tag_of(ref: str) -> str:
    """REF's tag: latest when it names none."""
    name = ref.split("@", 1)[0]
    return name[len(repository(name)) + 1:] or "latest"


def registry_host(ref: str) -> str:
    """The registry part of REF (names without one are not meant for lists)."""
    first = ref.split("/", 1)[0]
    return first if "/" in ref and ("." in first or ":" in first or first == "localhost") else ""


def by_digest(ref: str, digest: str) -> str:
    return f"{repository(ref)}@{digest}"


def _run(args: Sequence[str], env: Mapping[str, str] | None, what: str) -> str:
    proc = subprocess.run(list(args), env=dict(env) if env else None,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise EngineError(f"{what} failed: {_last_error(proc.stderr)}")
    return proc.stdout


def push(client: str, env: Mapping[str, str], ref: str) -> str:
    """Push REF (a local tag naming a registry) and return the digest the registry holds.

    `docker push` ends with "TAG: digest: sha256:... size: N", the digest of the
    manifest it uploaded; that is the one to put in a list. RepoDigests is the fallback.
    """
    out = _run([client, "push", ref], env, f"pushing {ref}")
    found = _PUSHED.findall(out)
    if found:
        return str(found[-1])
    digests = _run([client, "image", "inspect", "--format", "{{json .RepoDigests}}", ref],
                   env, f"reading the digest of {ref}")
    repo = repository(ref)
    for item in json.loads(digests) or []:
        name, _, digest = item.partition("@")
        if name == repo:
            return digest
    raise EngineError(f"pushing {ref}: the engine did not say which digest it pushed")


def check_members(list_ref: str, members: Sequence[str]) -> None:
    """UsageError unless every member is pinned by digest in LIST_REF's registry: what
    both engines' clients need to make a list there (they read each member's platform
    from the registry, and a list names its members by digest only)."""
    host = registry_host(list_ref)
    for member in members:
        if "@" not in member or registry_host(member) != host:
            raise UsageError(
                f"list member {member} must be pinned by digest in the registry {host}"
            )


def make_list(client: str, env: Mapping[str, str], list_ref: str,
              members: Sequence[str]) -> str:
    """Push a manifest list LIST_REF of MEMBERS (refs by digest in LIST_REF's registry);
    return the list's digest. On failure the registry's previous list stays as it was.

    Members from another repository of the same registry are mounted into LIST_REF's
    by the client; the client refuses members from another registry.
    """
    check_members(list_ref, members)
    insecure = ["--insecure"] if is_loopback(list_ref) else []
    # The client keeps lists it is making under ~/.docker/manifests; start from none.
    subprocess.run([client, "manifest", "rm", list_ref], env=dict(env), capture_output=True)
    try:
        _run([client, "manifest", "create", *insecure, list_ref, *members], env,
             f"making the list {list_ref}")
        out = _run([client, "manifest", "push", *insecure, "--purge", list_ref], env,
                   f"pushing the list {list_ref}")
    finally:
        subprocess.run([client, "manifest", "rm", list_ref], env=dict(env), capture_output=True)
    found = _DIGEST.findall(out)
    if not found:
        raise EngineError(f"pushing the list {list_ref}: no digest in the client's answer")
    return str(found[-1])


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
    proc = subprocess.run([_skopeo(), "inspect", "--raw", *_tls(ref), f"docker://{ref}"],
                          capture_output=True)
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
    proc = subprocess.run([_skopeo(), "inspect", "--config", *_tls(ref), f"docker://{ref}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise EngineError(f"reading the config of {ref} failed: {_last_error(proc.stderr)}")
    return _platform_name(json.loads(proc.stdout))


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
    _run([_skopeo(), "copy", "--all", "--preserve-digests",
          *_tls(source, "--src-tls-verify"), *_tls(destination, "--dest-tls-verify"),
          f"docker://{source}", f"docker://{destination}"],
         None, f"copying {source} to {destination}")


def copy_by_digest(source: str, digest: str, destination_repo: str) -> str:
    """Copy the image SOURCE's repository holds at DIGEST into DESTINATION_REPO, tagging
    nothing there (push by digest, for a CI matrix whose lists are made later); return
    the reference it now has: DESTINATION_REPO@DIGEST."""
    target = f"{destination_repo}@{digest}"
    _run([_skopeo(), "copy", "--preserve-digests",
          *_tls(source, "--src-tls-verify"), *_tls(target, "--dest-tls-verify"),
          f"docker://{by_digest(source, digest)}", f"docker://{target}"],
         None, f"copying {source} to {target}")
    return target


def platform_tag(tag: str, platform: Platform) -> str:
    """The per-platform tag an image is pushed under before the list names it: 3.12-arm64."""
    return f"{tag}-{platform.suffix}"


def skopeo_copy(source: str, destination: str, *flags: str) -> None:
    """`skopeo copy` between any two transports (docker://, oci:DIR:NAME), as is."""
    _run([_skopeo(), "copy", "--quiet", "--preserve-digests", *flags, source, destination],
         None, f"copying {source} to {destination}")


def image_digests(ref: str) -> tuple[str, ...]:
    """The digests of the images REF names: each platform's, for a list; its own else."""
    manifest = json.loads(raw_manifest(ref))
    if "manifests" in manifest:
        return tuple(str(item["digest"]) for item in manifest["manifests"])
    return (manifest_digest(ref),)

"""SBOMs stored beside pushed images, in a way any registry can hold.

Registries without the OCI referrers API (distribution 2.8, and many in use) cannot
say what refers to a digest, so the document goes under the tag scheme cosign uses:
``REPO:sha256-<hex of the image's digest>.sbom``. There it is an OCI image manifest
whose one layer is the document (``application/vnd.cyclonedx+json`` or
``application/spdx+json``) and whose config is the OCI empty descriptor, which is what
cosign's and oras's readers expect. snakepacker writes it as an OCI layout directory
and copies it with skopeo, so credentials come from the same login store as pushes;
reading it back is the same copy the other way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from snakepacker import refs
from snakepacker.engine import skopeo
from snakepacker.errors import EngineError, UsageError
from snakepacker.platforms import Platform
from snakepacker.tempdirs import temporary_directory

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
SBOM_ARTIFACT = "application/vnd.snakepacker.sbom"  # the manifest's artifactType
_REF_NAME = "sbom"


@dataclass(frozen=True)
class Stored:
    media_type: str
    document: bytes


def sbom_ref(repository: str, digest: str) -> str:
    """Where the SBOM of REPOSITORY@DIGEST is stored."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise UsageError(f"{digest!r} is not a sha256 digest")
    return f"{refs.repository(repository)}:sha256-{hexdigest}.sbom"


def _blob(folder: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    path = folder / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}", len(data)


def write_layout(folder: Path, document: bytes, media_type: str, subject: str) -> None:
    """An OCI layout in FOLDER holding one manifest: DOCUMENT as its only layer."""
    config_digest, config_size = _blob(folder, b"{}")
    layer_digest, layer_size = _blob(folder, document)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": SBOM_ARTIFACT,
        "config": {"mediaType": EMPTY_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": media_type, "digest": layer_digest, "size": layer_size}],
        "annotations": {"io.snakepacker.sbom.subject": subject},
    }
    data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest, manifest_size = _blob(folder, data)
    (folder / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": MANIFEST, "digest": manifest_digest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": _REF_NAME}}]}
    (folder / "index.json").write_text(json.dumps(index))


def attach(repository: str, digest: str, document: bytes, media_type: str) -> str:
    """Store DOCUMENT as the SBOM of REPOSITORY@DIGEST; return where it went."""
    target = sbom_ref(repository, digest)
    with temporary_directory(prefix="snakepacker-sbom-") as tmp:
        write_layout(Path(tmp), document, media_type, f"{refs.repository(repository)}"
                                                      f"@{digest}")
        tls = ["--dest-tls-verify=false"] if refs.is_loopback(target) else []
        skopeo.skopeo_copy(f"oci:{tmp}:{_REF_NAME}", f"docker://{target}", *tls)
    return target


def fetch(repository: str, digest: str) -> Stored:
    """The SBOM stored for REPOSITORY@DIGEST; EngineError when there is none."""
    source = sbom_ref(repository, digest)
    if skopeo.remote_digest(source) is None:
        raise EngineError(f"the registry holds no SBOM for {refs.repository(repository)}"
                          f"@{digest} (looked for {source})")
    with temporary_directory(prefix="snakepacker-sbom-") as tmp:
        tls = ["--src-tls-verify=false"] if refs.is_loopback(source) else []
        skopeo.skopeo_copy(f"docker://{source}", f"oci:{tmp}:{_REF_NAME}", *tls)
        folder = Path(tmp)
        index = json.loads((folder / "index.json").read_text())
        manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
        manifest = json.loads((folder / "blobs/sha256" / manifest_digest).read_bytes())
        layer = manifest["layers"][0]
        data = (folder / "blobs/sha256" / layer["digest"].split(":", 1)[1]).read_bytes()
    return Stored(layer["mediaType"], data)


def fetch_for(ref: str, platform: Platform) -> Stored:
    """The SBOM of the image REF names for PLATFORM (REF may name a multi-platform list)."""
    return fetch(ref, skopeo.platform_digest(ref, platform))

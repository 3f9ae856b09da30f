"""Build secrets: the extra CA certificates, the package index URL, and the archive
mirrors' logins in apt's auth.conf format.

They reach the RUN steps that download as BuildKit secrets, never as layers or image
config. On the host they live in a private temporary directory only while a build
runs; every exit path (an error, Ctrl-C, SIGTERM, SIGHUP: the command line turns
those into exceptions) removes it, since the index URL may carry a password.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

from snakepacker.cachedir import cache_dir
from snakepacker.engine.base import Secret
from snakepacker.family.options import NetworkOptions
from snakepacker.tempdirs import temporary_directory


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@contextlib.contextmanager
def network_secrets(network: NetworkOptions) -> Iterator[list[Secret]]:
    with temporary_directory(prefix="snakepacker-secrets-") as tmp:
        secrets: list[Secret] = []
        if network.ca_certs:
            bundle = Path(tmp) / "ca-certs.pem"
            _write_private(bundle, b"\n".join(p.read_bytes().strip()
                                              for p in network.ca_certs) + b"\n")
            secrets.append(Secret("ca-certs", bundle))
        if network.index_url:
            index = Path(tmp) / "index-url"
            _write_private(index, network.index_url.encode())
            secrets.append(Secret("index-url", index))
        if network.apt_auth:
            auth = Path(tmp) / "apt-auth"
            _write_private(auth, network.apt_auth.encode())
            secrets.append(Secret("apt-auth", auth))
        yield secrets


def _salt() -> bytes:
    """A random key of this machine's, so the digest below cannot be used to guess a
    password offline."""
    path = cache_dir() / "network-salt"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            _write_private(path, os.urandom(32))
        return path.read_bytes()


def network_fingerprint(network: NetworkOptions) -> str:
    """A keyed digest of the index and the CA bundle: a build argument of the steps that
    resolve packages, so a changed index re-resolves instead of reusing the cached
    step (secrets are not part of BuildKit's cache key). Only the digest is recorded,
    in the build stage, never in the final image."""
    if not network.index_url and not network.ca_certs:
        return "none"
    digest = hmac.new(_salt(), digestmod=hashlib.sha256)
    digest.update((network.index_url or "").encode())
    for cert in network.ca_certs:
        digest.update(b"\0" + cert.read_bytes())
    return digest.hexdigest()[:16]

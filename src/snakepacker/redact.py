"""Secrets snakepacker knows, kept out of everything it prints.

The package index URL may carry a password or a token, and so may a CPython or
archive mirror's URL; an installer that fails prints the URL it could not reach, and
``-v`` prints every line of a build. Each such value is registered here when it is
read, and the command line writes its output through ``text``, which puts ``***`` in
the place of every part of a registered value that is a credential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from snakepacker.tools.pack_layer import credentials

# A path segment that may be an access token: long, of the characters tokens use.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}")

MASK = "***"
_known: set[str] = set()
# Machine settings that may hold a mirror's URL with a login.
MIRROR_VARIABLES = ("SNAKEPACKER_UBUNTU_MIRROR", "SNAKEPACKER_UBUNTU_PORTS_MIRROR",
                    "SNAKEPACKER_DEBIAN_MIRROR", "SNAKEPACKER_UBUNTU_SECURITY_MIRROR",
                    "SNAKEPACKER_DEBIAN_SECURITY_MIRROR")


def register_url(url: str | None) -> None:
    """Keep URL's credentials out of output: its password or a token in its user part,
    path segments that look like tokens (some indexes take them there), and the URL
    itself."""
    if not url:
        return
    _known.update(part.decode("utf-8", "replace") for part in credentials(url))
    for segment in urlsplit(url).path.split("/"):
        if _TOKEN.fullmatch(segment) and any(c.isdigit() for c in segment) \
                and any(c.isalpha() for c in segment):
            _known.add(segment)
    register(url.strip().rstrip("/"))


def register(secret: str | None) -> None:
    if secret and len(secret) >= 4:
        _known.add(secret)


def register_environment(env: Iterable[tuple[str, str]] | None = None) -> None:
    """The mirror URLs and cosign's key password this machine is set up with."""
    values = dict(env if env is not None else os.environ.items())
    for name in MIRROR_VARIABLES:
        register_url(values.get(name))
    register(values.get("COSIGN_PASSWORD"))


def text(value: str) -> str:
    """VALUE with every known secret masked (the longest first, so none shows in part)."""
    for secret in sorted(_known, key=len, reverse=True):
        if secret in value:
            value = value.replace(secret, MASK)
    return value


def forget() -> None:
    """Forget every registered secret (for tests)."""
    _known.clear()

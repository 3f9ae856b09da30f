"""Where snakepacker keeps what it may reuse between runs (downloads, small records).

Its own module, at the bottom of the house plan, so that pack's plan (which remembers
the project tables it has validated), its size report, the engine's choice of client
and the orchestration (tarballs, the network salt) share one answer.

A record is a small text file named by a digest of everything its content depends on:
it is never updated, only written whole (renamed into place) or found missing. The
cache is a saving, never a requirement: a record that cannot be read or written is
taken as absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("SNAKEPACKER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "snakepacker"
    )
    return Path(root)


def record_path(kind: str, key: object) -> Path:
    """The record of KIND for KEY (anything JSON can write)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir() / kind / digest


def recall(path: Path) -> str | None:
    """The record's text, or None when it is missing or cannot be read."""
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def remember(path: Path, text: str) -> None:
    """Write the record whole; a cache that cannot be written is left as it is."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)

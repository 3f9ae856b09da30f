"""Where snakepacker keeps what it may reuse between runs (downloads, small records).

Its own module, at the bottom of the house plan, so that pack's plan (which remembers
the project tables it has validated) and the orchestration (tarballs, the network
salt) share one answer.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("SNAKEPACKER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "snakepacker"
    )
    return Path(root)

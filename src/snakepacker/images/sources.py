"""CPython source tarballs: where to download them, a cache, and sha256 verification.

A tarball is used only after its sha256 matches the releases table, whether it came
from python.org, a Debian or Ubuntu archive's pool, a mirror directory or a local file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from snakepacker.cachedir import cache_dir
from snakepacker.errors import NetworkError, UsageError
from snakepacker.family.cpython import Release, releases
from snakepacker.images.mirrors import archive_mirror
from snakepacker.tempdirs import temporary_directory

PYTHON_ORG_FTP = "https://www.python.org/ftp/python"
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def release_of_file(path: Path) -> Release:
    """The release a local tarball is, recognised by its sha256."""
    if not path.is_file():
        raise UsageError(f"CPython tarball not found: {path}")
    digest = sha256_of(path)
    for release in releases():
        if release.sha256 == digest:
            return release
    raise UsageError(f"{path}: sha256 {digest} matches no known CPython release")


def candidate_urls(release: Release, mirror: str | None) -> list[str]:
    """Where RELEASE may be had, most specific first."""
    urls: list[str] = []
    if mirror:
        base = mirror.rstrip("/")
        urls += [f"{base}/{release.file}", f"{base}/{release.version}/{release.file}"]
    if release.on_python_org:
        urls.append(f"{PYTHON_ORG_FTP}/{release.version}/{release.file}")
    else:
        assert release.vendor is not None
        urls.append(f"{archive_mirror(release.vendor)}/{release.pool_path}{release.file}")
    return urls


def fetch(
    release: Release,
    *,
    mirror: str | None = None,
    local: Path | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> Path:
    """A verified copy of RELEASE's tarball in the cache; downloads it when missing."""
    target = cache_dir() / "cpython" / release.file
    if local is not None:
        _verify(local, release, str(local))
        return local
    if target.exists() and sha256_of(target) == release.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for url in candidate_urls(release, mirror):
        try:
            _download(url, target, progress)
        except (OSError, urllib.error.URLError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        _verify(target, release, url)
        return target
    raise NetworkError(
        f"could not download CPython {release.version} ({release.file}): " + "; ".join(errors)
    )


def _download(url: str, target: Path, progress: Callable[[str], None]) -> None:
    progress(f"downloading {url}")
    local = not url.startswith(("http://", "https://", "file://"))
    if local and not Path(url).is_file():
        raise FileNotFoundError(f"no such file: {url}")
    # Written in a directory of its own beside the target and renamed into place whole:
    # a copy cut short, by an error or a signal, leaves no part of it behind.
    with temporary_directory(dir=target.parent, prefix=".download-") as tmp:
        part = Path(tmp, target.name)
        if local:
            shutil.copyfile(url, part)
        else:
            with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
                missing = getattr(response, "length", None)  # HTTP's, not file:'s
                if missing:  # what Content-Length promised and never came
                    raise OSError(f"cut short, {missing} bytes missing")
        os.replace(part, target)


def _verify(path: Path, release: Release, origin: str) -> None:
    digest = sha256_of(path)
    if digest != release.sha256:
        if path.parent == cache_dir() / "cpython":
            path.unlink(missing_ok=True)
        raise NetworkError(
            f"sha256 mismatch for CPython {release.version} from {origin}: "
            f"expected {release.sha256}, got {digest}"
        )

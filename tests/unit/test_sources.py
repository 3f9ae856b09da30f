"""CPython tarballs: candidate URLs, the cache, and sha256 verification."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from pathlib import Path

import pytest

from snakepacker.errors import NetworkError, UsageError
from snakepacker.family.cpython import find_release
from snakepacker.images import sources
from snakepacker.images.sources import candidate_urls, fetch, release_of_file


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SNAKEPACKER_CACHE", str(cache))
    return cache


def test_urls_prefer_the_mirror_then_python_org_or_the_archive_pool() -> None:
    org = find_release("3.12.13")
    assert candidate_urls(org, None) == [
        "https://www.python.org/ftp/python/3.12.13/Python-3.12.13.tar.xz"
    ]
    assert candidate_urls(org, "/srv/py/")[:2] == [
        "/srv/py/Python-3.12.13.tar.xz", "/srv/py/3.12.13/Python-3.12.13.tar.xz"
    ]
    pool = candidate_urls(find_release("3.12.3"), None)[0]
    assert pool.endswith("/pool/main/p/python3.12/python3.12_3.12.3.orig.tar.xz")
    assert pool.startswith("http")


def test_a_tarball_whose_sha256_differs_is_refused_and_not_cached(
    tmp_path: Path, private_cache: Path
) -> None:
    release = find_release("3.12.3")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / release.file).write_bytes(b"not a tarball")
    with pytest.raises(NetworkError, match=r"sha256 mismatch for CPython 3\.12\.3"):
        fetch(release, mirror=str(mirror))
    assert not (private_cache / "cpython" / release.file).exists()


def test_a_mirror_directory_with_the_right_bytes_is_used(tmp_path: Path) -> None:
    """The python.org default's bytes are unknown here, so forge a release table row."""
    payload = b"pretend tarball"
    release = find_release("3.12.3")
    forged = type(release)(**{**release.__dict__, "sha256": hashlib.sha256(payload).hexdigest()})
    mirror = tmp_path / "mirror"
    (mirror / forged.version).mkdir(parents=True)
    (mirror / forged.version / forged.file).write_bytes(payload)
    path = fetch(forged, mirror=str(mirror))
    assert path.read_bytes() == payload
    assert fetch(forged, mirror=str(tmp_path / "empty")) == path  # served from the cache
    path.unlink()
    assert fetch(forged, mirror=mirror.as_uri()).read_bytes() == payload  # a file: URL
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_local_files_are_recognised_by_sha256(tmp_path: Path) -> None:
    junk = tmp_path / "Python-3.12.3.tar.xz"
    junk.write_bytes(b"junk")
    with pytest.raises(UsageError, match="matches no known CPython release"):
        release_of_file(junk)


class _ShortBody(http.server.BaseHTTPRequestHandler):
    """Promises a whole tarball and sends a few bytes of it, then hangs up."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.write(b"partial")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


def test_a_download_cut_short_is_a_network_error_and_leaves_nothing_behind(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real server on loopback that hangs up mid-body, as the only place to look:
    fetch says the download was cut short (urllib itself returns the short body
    without a word), and the cache holds neither the tarball nor any part of it."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _ShortBody)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/Python-3.12.3.tar.xz"
    monkeypatch.setattr(sources, "candidate_urls", lambda _release, _mirror: [url])
    try:
        with pytest.raises(NetworkError, match=r"could not download CPython 3\.12\.3 .*: "
                           + re.escape(url) + ": cut short, 999993 bytes missing$"):
            fetch(find_release("3.12.3"))
    finally:
        server.shutdown()
        server.server_close()
    assert list((private_cache / "cpython").iterdir()) == []

"""An image's files as data: one pass over its exported file system.

Both the SBOM and `images diff` look at an image from outside, without running anything
of it: the engine exports the image's flattened file system (or, for a reader that
knows where its files are, copies out just those paths) as a tar stream, and one
pass over it records every path (kind, mode, owner, size, link target, and the sha256
of regular files' contents when asked) and keeps the bytes of the few files a caller
wants. mtimes are not recorded: they are when a layer was built, not what it holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, NamedTuple

from snakepacker.engine import Engine

_CHUNK = 1 << 20
_COPIERS = 2  # containers paths are copied out of side by side
_KINDS = {b"0": "file", b"7": "file", b"5": "dir", b"2": "symlink", b"3": "char",
          b"4": "block", b"6": "fifo"}


@dataclass(frozen=True)
class Entry:
    """One path of an image (a hard link is recorded as the file it shares bytes with)."""

    path: str  # relative to /, no leading slash
    kind: str  # file, dir, symlink, char, block, fifo
    mode: int  # permission bits, with setuid/setgid/sticky
    uid: int
    gid: int
    size: int = 0
    sha256: str = ""  # regular files, when hashed
    target: str = ""  # symlinks
    device: str = ""  # char and block devices: "major,minor"

    @property
    def mode_text(self) -> str:
        return f"{stat.S_IMODE(self.mode):04o}"


@dataclass(frozen=True)
class Snapshot:
    entries: Mapping[str, Entry]  # path -> entry
    files: Mapping[str, bytes]  # the bytes of the files the caller kept


def read_tar(stream: IO[bytes], *, keep: Callable[[str], bool] = lambda _: False,
             hash_files: bool = False, root: str = "") -> Snapshot:
    """Read an exported file system from STREAM, in one pass. ROOT is the folder the
    stream's names are relative to (for a part copied out: its parent folder)."""
    entries: dict[str, Entry] = {}
    files: dict[str, bytes] = {}
    for member in _members(stream):
        path = _under(root, _relative(member.name))
        if member.type == b"1":  # a hard link: the same bytes as a path met earlier
            source = entries.get(_under(root, _relative(member.linkname)))
            entries[path] = Entry(path, "file", member.mode, member.uid, member.gid,
                                  source.size if source else 0, source.sha256 if source else "")
            if source and source.path in files:
                files[path] = files[source.path]
            _skip(stream, member.size)
            continue
        kind = _KINDS.get(member.type, "other")
        digest = ""
        if kind == "file" and path:
            wanted = keep(path)
            digest = _read(stream, member.size, files if wanted else None, path, hash_files)
        else:
            _skip(stream, member.size)
        if not path:
            continue
        entries[path] = Entry(
            path, kind, member.mode, member.uid, member.gid,
            size=member.size if kind == "file" else 0,
            sha256=digest,
            target=member.linkname if kind == "symlink" else "",
            device=member.device if kind in ("char", "block") else "",
        )
    return Snapshot(entries, files)


# -- a small tar reader -----------------------------------------------------------------
# The engine writes POSIX tar (ustar, PAX records for long names and big numbers).
# The standard library's reader costs several times the export itself on a large image
# in stream mode; this one reads headers and skips or hashes data in large blocks.

_BLOCK = 512


class _Member(NamedTuple):  # a tuple: tens of thousands are made per image
    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str
    device: str


def _exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            raise ValueError("the image's tar stream ends in the middle of a record")
        data += more
    return data


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256, for values octal cannot hold
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """PAX extended header records: "LEN key=value\n" each."""
    records: dict[str, str] = {}
    while data:
        length_text, _, _ = data.partition(b" ")
        length = int(length_text)
        record, data = data[:length], data[length:]
        key, _, value = record[len(length_text) + 1:-1].partition(b"=")
        records[key.decode()] = value.decode("utf-8", "surrogateescape")
    return records


def _members(stream: IO[bytes]) -> Iterator[_Member]:
    """The members of a tar stream; the caller reads or skips each one's data."""
    pending: dict[str, str] = {}
    while True:
        header = stream.read(_BLOCK)
        if len(header) < _BLOCK or header == bytes(_BLOCK):
            while stream.read(_CHUNK):  # the end-of-archive padding: read to the end,
                pass  # so the writer is not cut off mid-write
            return
        kind = header[156:157]
        size = _number(header[124:136])
        if kind in (b"x", b"g", b"L", b"K"):
            data = _exact(stream, _padded(size))[:size]
            if kind == b"x":
                pending.update(_pax(data))
            elif kind == b"L":
                pending["path"] = _text(data)
            elif kind == b"K":
                pending["linkpath"] = _text(data)
            continue
        name = _text(header[0:100])
        if header[257:262] == b"ustar" and header[345:500].strip(b"\0"):
            name = _text(header[345:500]) + "/" + name
        yield _Member(
            name=pending.get("path", name),
            type=kind if kind != b"\0" else b"0",
            mode=_number(header[100:108]),
            uid=int(pending.get("uid", _number(header[108:116]))),
            gid=int(pending.get("gid", _number(header[116:124]))),
            size=int(pending.get("size", size)),
            linkname=pending.get("linkpath", _text(header[157:257])),
            device=f"{_number(header[329:337])},{_number(header[337:345])}",
        )
        pending = {}


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def _skip(stream: IO[bytes], size: int) -> None:
    """Skip a member's data of SIZE bytes, with its padding."""
    _discard(stream, _padded(size))


_SINK = memoryview(bytearray(_CHUNK))


def _discard(stream: IO[bytes], left: int) -> None:
    while left:
        got = stream.readinto(_SINK[:min(left, _CHUNK)])  # type: ignore[attr-defined]
        if not got:
            raise ValueError("the image's tar stream ends in the middle of a file")
        left -= got


def _relative(name: str) -> str:
    """A tar member's name as a path relative to /: "./etc/" -> "etc"."""
    while name.startswith(("./", "/")):
        name = name[1:] if name.startswith("/") else name[2:]
    return "" if name == "." else name.rstrip("/")


def _under(root: str, path: str) -> str:
    return f"{root}/{path}" if root and path else path or root


def _read(stream: IO[bytes], size: int, files: dict[str, bytes] | None, path: str,
          hash_files: bool) -> str:
    """Read one member's data (hashing it, keeping it, or both); its digest or ""."""
    if files is None and not hash_files:
        _skip(stream, size)
        return ""
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            raise ValueError("the image's tar stream ends in the middle of a file")
        left -= len(chunk)
        if hash_files:
            digest.update(chunk)
        if files is not None:
            chunks.append(chunk)
    _discard(stream, _padded(size) - size)
    if files is not None:
        files[path] = b"".join(chunks)
    return digest.hexdigest() if hash_files else ""


def snapshot(engine: Engine, ref: str, *, keep: Callable[[str], bool] = lambda _: False,
             hash_files: bool = False) -> Snapshot:
    """REF's files, exported by the engine (nothing of the image runs)."""
    with engine.export(ref) as stream:
        return read_tar(stream, keep=keep, hash_files=hash_files)


@contextlib.contextmanager
def parts_of(engine: Engine, ref: str) -> Iterator[Callable[[Iterable[str]], Snapshot]]:
    """A reader of only some paths of REF (absolute; absent ones are skipped): for
    readers that know where their files are, a fraction of the whole file system's
    export. The engine copies one path at a time out of a container, so the paths
    are shared among a few containers of REF, copied out side by side. REF must
    exist (inspect it first)."""
    with engine.created(ref, _COPIERS) as containers:
        def read(paths: Iterable[str], keep: Callable[[str], bool] = lambda _: False,
                 ) -> Snapshot:
            wanted = sorted(set(paths))
            shares = [(c, wanted[i::len(containers)]) for i, c in enumerate(containers)]
            with ThreadPoolExecutor(max_workers=len(shares)) as pool:
                parts = [p for share in pool.map(lambda s: _copy(engine, keep, *s), shares)
                         for p in share]
            return Snapshot({k: v for part in parts for k, v in part.entries.items()},
                            {k: v for part in parts for k, v in part.files.items()})

        yield read


def _copy(engine: Engine, keep: Callable[[str], bool], container: str,
          paths: list[str]) -> list[Snapshot]:
    found = []
    for path in paths:
        with engine.copy_out(container, path) as stream:
            found.append(read_tar(stream, keep=keep, root=posixpath.dirname(path).strip("/")))
    return found

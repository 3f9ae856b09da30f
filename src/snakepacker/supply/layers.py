"""An image's layers as a push sends them: each one a gzip-compressed tar.

A registry stores, and a pull downloads, every layer compressed; the engine keeps them
uncompressed (docker's overlay2 store) or as they came (docker's containerd store keeps
the compressed blobs it built or pulled). The engine's ``save`` hands over either kind:
a layer that is compressed already (gzip or zstd, by its first bytes) counts as it is,
any other is compressed here with gzip at its default level (6), as a push compresses
it. Another deflate implementation makes a few percent of difference (the demo's
layers: 3% less here than a registry stored after `docker push`, whose deflate is
Go's): a measure of what a push uploads and a pull downloads without a registry, close
enough for a budget with some room.

Which layer is which comes from the archive itself: its manifest lists the layer files
in order, and the image's config names each layer's diff id and, in its history, the
instruction that made it.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from typing import IO, Any

from snakepacker.engine import Engine

_CHUNK = 1 << 20
_SMALL = 1 << 20  # members this small are kept whole: the manifest and the config
_COMPRESSED = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd")  # gzip, zstd
_GZIP_LEVEL = 6


@dataclass(frozen=True)
class Layer:
    diff_id: str  # the digest of the layer's uncompressed tar
    compressed: int  # bytes, as a push sends it
    created_by: str  # the instruction that made it, as the image's history says


def compressed_layers(engine: Engine, ref: str) -> list[Layer]:
    """REF's layers, oldest first, each with its compressed size."""
    with engine.save(ref) as stream:
        return read_archive(stream)


def read_archive(stream: IO[bytes]) -> list[Layer]:
    """The layers of a `save` archive (docker's format, or the OCI layout with docker's
    manifest.json beside it, as docker 25 and podman write it), read in one pass."""
    sizes: dict[str, int] = {}
    kept: dict[str, bytes] = {}
    aliases: dict[str, str] = {}
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = posixpath.normpath(member.name)
            if member.issym():
                aliases[name] = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), member.linkname))
            elif member.islnk():
                aliases[name] = posixpath.normpath(member.linkname)
            elif member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                sizes[name], small = _measure(handle, member.size)
                if small is not None:
                    kept[name] = small
    return _layers(sizes, kept, aliases)


def _measure(handle: IO[bytes], size: int) -> tuple[int, bytes | None]:
    """The compressed size of one member, and its bytes when it is small."""
    first = handle.read(_SMALL)
    small = first if size <= _SMALL else None
    if first.startswith(_COMPRESSED):
        return size, small
    packer = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip stream
    total = len(packer.compress(first))
    while chunk := handle.read(_CHUNK):
        total += len(packer.compress(chunk))
    return total + len(packer.flush()), small


def _layers(sizes: dict[str, int], kept: dict[str, bytes],
            aliases: dict[str, str]) -> list[Layer]:
    def read_json(name: str) -> Any:
        name = aliases.get(posixpath.normpath(name), posixpath.normpath(name))
        return json.loads(kept[name])

    manifest = read_json("manifest.json")[0]
    config = read_json(manifest["Config"])
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    made = [step.get("created_by", "") for step in config.get("history", [])
            if not step.get("empty_layer")]
    layers = []
    for index, name in enumerate(manifest["Layers"]):
        path = posixpath.normpath(name)
        path = aliases.get(path, path)
        layers.append(Layer(diff_ids[index] if index < len(diff_ids) else path,
                            sizes.get(path, 0), made[index] if index < len(made) else ""))
    return layers

"""Image references as text: registry, repository, tag and digest, parsed, never run.

Every layer names images (a FROM, a push target, a list member), so the grammar lives
on the ground floor, apart from the programs that move images (engine/). A registry
is spoken to without TLS only when its host is loopback: ``localhost`` itself or a
loopback address, parsed as an address, never compared by prefix
(``127.attacker.example`` and ``localhost.example`` are ordinary hosts).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from snakepacker.errors import UsageError
from snakepacker.platforms import Platform


def _host_part(ref: str) -> str:
    """The first path component of REF when it names a registry, else ""."""
    first, slash, _ = ref.partition("/")
    if not slash:
        return ""
    return first if ("." in first or ":" in first or first == "localhost") else ""


def split_host(host: str) -> tuple[str, int | None]:
    """HOST[:PORT] (or [V6]:PORT) as the host name or address and the port."""
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return address, int(port) if port.isdigit() else None
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return name, int(port)
    return host, None


def is_loopback_host(host: str) -> bool:
    """Whether HOST[:PORT] is this machine: localhost, or a loopback address."""
    name, _ = split_host(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback(ref: str) -> bool:
    """Whether REF names a registry on this machine (spoken to without TLS)."""
    host = _host_part(ref)
    return bool(host) and is_loopback_host(host)


def registry_host(ref: str) -> str:
    """The registry part of REF ("" for a name without one, which lists cannot hold)."""
    return _host_part(ref)


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


def by_digest(ref: str, digest: str) -> str:
    """REF's repository pinned at DIGEST."""
    return f"{repository(ref)}@{digest}"


def platform_tag(tag: str, platform: Platform) -> str:
    """The per-platform tag an image is pushed under before a list names it: 3.12-arm64."""
    return f"{tag}-{platform.suffix}"


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

"""Where the Debian and Ubuntu package archives are, taken from configuration.

snakepacker writes no archive host names of its own. A mirror comes from, in order:
``SNAKEPACKER_UBUNTU_MIRROR`` / ``SNAKEPACKER_DEBIAN_MIRROR``, then the defaults of the
debootstrap tool installed on this machine.

Debian serves every architecture from one archive. Ubuntu serves amd64 and i386 from
its main archive and the others (arm64, armhf, ...) from a separate "ports" archive,
configured apart as ``SNAKEPACKER_UBUNTU_PORTS_MIRROR``.

A mirror that needs a login is given as ``http://USER:PASSWORD@host/path``. The login
never goes into an argument list or an image's sources.list: the URLs here are
returned without it, and ``auth_conf`` writes it in apt's auth.conf format, which
bootstrap hands to apt in a private file and image builds get as a build secret.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from snakepacker.errors import UsageError

_SCRIPTS = Path("/usr/share/debootstrap/scripts")
_DEBOOTSTRAP = Path("/usr/sbin/debootstrap")


# The architectures Ubuntu's main archive carries; the rest live in its ports archive.
_UBUNTU_MAIN_ARCHES = ("amd64", "i386")


def mirror_variable(vendor: str, arch: str = "amd64") -> str:
    """The environment variable that configures VENDOR's archive for ARCH."""
    if vendor == "ubuntu" and arch not in _UBUNTU_MAIN_ARCHES:
        return "SNAKEPACKER_UBUNTU_PORTS_MIRROR"
    return f"SNAKEPACKER_{vendor.upper()}_MIRROR"


def without_login(url: str) -> str:
    """URL without a user or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _configured_mirrors(env: Mapping[str, str]) -> list[str]:
    names = ("SNAKEPACKER_UBUNTU_MIRROR", "SNAKEPACKER_UBUNTU_PORTS_MIRROR",
             "SNAKEPACKER_DEBIAN_MIRROR", "SNAKEPACKER_UBUNTU_SECURITY_MIRROR",
             "SNAKEPACKER_DEBIAN_SECURITY_MIRROR")
    return [env[name] for name in names if env.get(name)]


def auth_conf(env: Mapping[str, str] | None = None) -> str:
    """apt's auth.conf lines for the configured mirrors that carry a login ("" when
    none does): ``machine SCHEME://HOST[:PORT]/PATH login USER password PASSWORD``
    (with the scheme, since apt matches only https without one)."""
    lines = []
    for url in _configured_mirrors(os.environ if env is None else env):
        parts = urlsplit(url)
        if parts.username is None:
            continue
        machine = without_login(url).rstrip("/")
        user, password = unquote(parts.username), unquote(parts.password or "")
        if any(c.isspace() for c in user + password + machine):
            raise UsageError("a mirror's login cannot hold blanks in apt's auth.conf format")
        lines.append(f"machine {machine} login {user} password {password}\n")
    return "".join(lines)


def archive_mirror(vendor: str, suite: str = "", arch: str = "amd64") -> str:
    """VENDOR's archive for ARCH (for SUITE's default), without a login."""
    variable = mirror_variable(vendor, arch)
    configured = os.environ.get(variable)
    if configured:
        return without_login(configured).rstrip("/")
    found = _debootstrap_default(vendor, suite, arch)
    if not found:
        raise UsageError(
            f"no {vendor} archive mirror known for {arch}: install debootstrap (its defaults "
            f"are used) or set {variable}"
        )
    return found.rstrip("/")


def security_mirror(vendor: str, mirror: str, arch: str = "amd64") -> str:
    """Debian serves its security pocket from a sibling archive; Ubuntu from the same one
    (the ports archive carries the security pocket of the architectures it serves)."""
    if mirror_variable(vendor, arch) == "SNAKEPACKER_UBUNTU_PORTS_MIRROR":
        return mirror
    configured = os.environ.get(f"SNAKEPACKER_{vendor.upper()}_SECURITY_MIRROR")
    if configured:
        return without_login(configured).rstrip("/")
    if vendor == "debian":
        return mirror + "-security"
    return mirror


def _debootstrap_default(vendor: str, suite: str, arch: str) -> str | None:
    if vendor == "ubuntu":
        # The release scripts pick the mirror by architecture and suite: let the
        # script itself say which, stopping at its first default_mirror call.
        script = _SCRIPTS / "gutsy"
        if not script.exists():
            return None
        probe = 'default_mirror() { echo "$1"; exit 0; }; . "$0"'
        proc = subprocess.run(
            ["sh", "-c", probe, str(script)],
            env={"ARCH": arch, "SUITE": suite or "jammy", "PATH": os.environ.get("PATH", "")},
            capture_output=True, text=True,
        )
        return proc.stdout.strip() or None
    if not _DEBOOTSTRAP.exists():
        return None
    match = re.search(r'^DEF_MIRROR="([^"]+)"', _DEBOOTSTRAP.read_text(), re.M)
    return match.group(1) if match else None

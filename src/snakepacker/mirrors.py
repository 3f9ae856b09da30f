"""Where the Debian and Ubuntu package archives are, taken from configuration.

snakepacker writes no archive host names of its own. A mirror comes from, in order:
``SNAKEPACKER_UBUNTU_MIRROR`` / ``SNAKEPACKER_DEBIAN_MIRROR``, then the defaults of the
debootstrap tool installed on this machine.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from snakepacker.errors import UsageError

_SCRIPTS = Path("/usr/share/debootstrap/scripts")
_DEBOOTSTRAP = Path("/usr/sbin/debootstrap")


def archive_mirror(vendor: str, suite: str = "", arch: str = "amd64") -> str:
    configured = os.environ.get(f"SNAKEPACKER_{vendor.upper()}_MIRROR")
    if configured:
        return configured.rstrip("/")
    found = _debootstrap_default(vendor, suite, arch)
    if not found:
        raise UsageError(
            f"no {vendor} archive mirror known: install debootstrap (its defaults are used) "
            f"or set SNAKEPACKER_{vendor.upper()}_MIRROR"
        )
    return found.rstrip("/")


def security_mirror(vendor: str, mirror: str) -> str:
    """Debian serves its security pocket from a sibling archive; Ubuntu from the same one."""
    configured = os.environ.get(f"SNAKEPACKER_{vendor.upper()}_SECURITY_MIRROR")
    if configured:
        return configured.rstrip("/")
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

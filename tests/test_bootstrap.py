"""Bootstrapping a root image from the package archive, with pinned archive keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from snakepacker.bootstrap import PINNED_KEYS, pinned_keyring, sources
from snakepacker.engine import Engine
from snakepacker.errors import SnakepackerError
from snakepacker.family.distros import DISTROS
from tests.helpers import Docker, snakepacker

DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


@pytest.mark.skipif(not DEBIAN_KEYRING.exists(), reason="needs a Debian keyring to refuse")
def test_a_keyring_without_the_pinned_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnakepackerError, match="lacks the pinned archive key"):
        pinned_keyring(DEBIAN_KEYRING, PINNED_KEYS["ubuntu"], tmp_path / "out.gpg")
    assert not (tmp_path / "out.gpg").exists()


def test_sources_name_the_release_updates_and_security_pockets() -> None:
    lines = sources(DISTROS["jammy"], "http://mirror.invalid/ubuntu")
    assert [line.split()[2] for line in lines] == ["jammy", "jammy-updates", "jammy-security"]
    assert all(line.endswith("main universe") for line in lines)
    debian = sources(DISTROS["bookworm"], "http://mirror.invalid/debian")
    assert debian[2] == "deb http://mirror.invalid/debian-security bookworm-security main"


@pytest.mark.engine
@pytest.mark.parametrize(("distro", "keyring"), [
    ("jammy", "ubuntu-archive-keyring.gpg"),
    ("bookworm", "debian-archive-keyring.gpg"),
])
def test_bootstrap_makes_a_trimmed_verified_root(
    engine: Engine, docker: Docker, distro: str, keyring: str
) -> None:
    namespace = "snakepacker-boottest"
    proc = snakepacker("bootstrap", distro, "--namespace", namespace)
    ref = f"{namespace}/root:{distro}"
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip() == ref
        script = f"""
            set -e
            grep -c '^deb ' /etc/apt/sources.list
            grep -q '{distro}-security main' /etc/apt/sources.list
            command -v apt-get >/dev/null
            [ -s /usr/share/keyrings/{keyring} ]
            [ -z "$(find /var/lib/apt/lists /var/cache/apt/archives -type f ! -name lock)" ]
            [ -z "$(find /usr/share/man /usr/share/locale -type f ! -name locale.alias)" ]
            [ -z "$(find /usr/share/doc -type f ! -name copyright)" ]
            [ -L /lib ] && [ -L /bin ]
            ! dpkg -s perl >/dev/null 2>&1  # usrmerge and its perl stay out
            echo ok
        """
        out = docker.sh(ref, script).stdout.split()
        assert out == ["3", "ok"]
    finally:
        engine.remove([ref])

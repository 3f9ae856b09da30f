"""Bootstrapping a root image from the package archive, with pinned archive keys."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.errors import SnakepackerError, UsageError
from snakepacker.family.distros import DISTROS
from snakepacker.images.bootstrap import (
    PINNED_KEYS,
    bootstrap,
    mmdebstrap_cause,
    pinned_keyring,
    root_ref,
    sources,
)
from snakepacker.images.mirrors import archive_mirror
from snakepacker.platforms import PLATFORMS, native_platform


@pytest.fixture
def keyring(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A keyring made here, holding one new signing key: (its file, the fingerprint)."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(*args: str) -> str:
        return subprocess.run(["gpg", "--batch", *args], env=env, check=True,
                              capture_output=True, text=True).stdout

    try:
        gpg("--passphrase", "", "--quick-gen-key", "snakepacker test <test@example.invalid>",
            "ed25519", "sign", "never")
        fingerprint = next(line.split(":")[9] for line in
                           gpg("--with-colons", "--list-keys").splitlines()
                           if line.startswith("fpr:"))
        path = tmp_path / "test-keyring.gpg"
        path.write_bytes(subprocess.run(["gpg", "--batch", "--export"], env=env, check=True,
                                        capture_output=True).stdout)
        yield path, fingerprint
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)


def test_a_keyring_without_the_pinned_keys_is_refused(
        tmp_path: Path, keyring: tuple[Path, str]) -> None:
    path, _fingerprint = keyring
    with pytest.raises(SnakepackerError, match="lacks the pinned archive key"):
        pinned_keyring(path, PINNED_KEYS["ubuntu"], tmp_path / "out.gpg")
    assert not (tmp_path / "out.gpg").exists()


def test_the_pinned_keys_are_exported_alone(tmp_path: Path, keyring: tuple[Path, str]) -> None:
    path, fingerprint = keyring
    out = pinned_keyring(path, (fingerprint,), tmp_path / "out.gpg")
    shown = subprocess.run(["gpg", "--batch", "--with-colons", "--show-keys", str(out)],
                           capture_output=True, text=True, check=True).stdout
    assert [line.split(":")[9] for line in shown.splitlines() if line.startswith("fpr:")] \
        == [fingerprint]


def test_sources_name_the_release_updates_and_security_pockets() -> None:
    lines = sources(DISTROS["jammy"], "http://mirror.invalid/ubuntu")
    assert [line.split()[2] for line in lines] == ["jammy", "jammy-updates", "jammy-security"]
    assert all(line.endswith("main universe") for line in lines)
    debian = sources(DISTROS["bookworm"], "http://mirror.invalid/debian")
    assert debian[2] == "deb http://mirror.invalid/debian-security bookworm-security main"


def test_the_native_root_keeps_its_name_and_others_carry_the_platform() -> None:
    bookworm = DISTROS["bookworm"]
    assert root_ref(bookworm, "sp") == "sp/root:bookworm"
    assert root_ref(bookworm, "sp", native_platform()) == "sp/root:bookworm"
    foreign = [p for p in PLATFORMS.values() if p != native_platform()]
    assert {root_ref(bookworm, "sp", p) for p in foreign} <= {
        "sp/root:bookworm-amd64", "sp/root:bookworm-arm64", "sp/root:bookworm-armv7"
    }
    assert len({root_ref(bookworm, "sp", p) for p in PLATFORMS.values()}) == 3


def test_ubuntu_foreign_arches_come_from_the_ports_mirror(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNAKEPACKER_UBUNTU_MIRROR", "http://main.invalid/ubuntu")
    monkeypatch.setenv("SNAKEPACKER_UBUNTU_SECURITY_MIRROR", "http://security.invalid/ubuntu")
    monkeypatch.setenv("SNAKEPACKER_UBUNTU_PORTS_MIRROR", "http://ports.invalid/ubuntu-ports/")
    assert archive_mirror("ubuntu", "jammy", "amd64") == "http://main.invalid/ubuntu"
    ports = archive_mirror("ubuntu", "jammy", "arm64")
    assert ports == "http://ports.invalid/ubuntu-ports"
    lines = sources(DISTROS["jammy"], ports, "arm64")
    assert all(line.split()[1] == ports for line in lines)  # security too: ports serves it
    assert sources(DISTROS["jammy"], "http://main.invalid/ubuntu", "amd64")[2].split()[1] == (
        "http://security.invalid/ubuntu"
    )
    # Debian serves every architecture from the same archive.
    monkeypatch.setenv("SNAKEPACKER_DEBIAN_MIRROR", "http://deb.invalid/debian")
    assert archive_mirror("debian", "bookworm", "armhf") == "http://deb.invalid/debian"


@pytest.mark.skipif(not Path("/usr/share/debootstrap/scripts/gutsy").exists(),
                    reason="needs debootstrap's release scripts")
def test_the_ports_default_comes_from_debootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAKEPACKER_UBUNTU_MIRROR", raising=False)
    monkeypatch.delenv("SNAKEPACKER_UBUNTU_PORTS_MIRROR", raising=False)
    main, ports = archive_mirror("ubuntu", "jammy"), archive_mirror("ubuntu", "jammy", "arm64")
    assert main != ports and ports.endswith("-ports")
    assert archive_mirror("ubuntu", "jammy", "armhf") == ports


def test_bootstrap_refuses_a_platform_that_cannot_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a qemu handler the refusal comes first: no download, no image."""
    monkeypatch.setattr("snakepacker.platforms.BINFMT_MISC", tmp_path / "unmounted")
    foreign = next(p for p in PLATFORMS.values() if p != native_platform())
    with pytest.raises(UsageError, match=f"{foreign.name} cannot run here: binfmt_misc is not"):
        bootstrap(DISTROS["bookworm"], None, "sp", platform=foreign)  # type: ignore[arg-type]


def test_a_failed_mmdebstrap_is_named_by_its_first_error() -> None:
    """apt's refusal of an index comes first; the lines after it only say that the
    setup hook and mmdebstrap failed in turn."""
    stderr = "\n".join([
        "I: running apt-get update...",
        "Fetched 8754 kB in 7s (1236 kB/s)",
        "E: Failed to fetch http://archive.invalid/debian-security/dists/bookworm-security/"
        "main/binary-armhf/Packages.xz  File has unexpected size (334084 != 351504). "
        "Mirror sync in progress?",
        "   Hashes of expected file:",
        "E: Some index files failed to download. They have been ignored, or old ones used "
        "instead.",
        "E: command failed: /usr/share/mmdebstrap/hooks/maybe-merged-usr/setup00.sh",
        "E: mmdebstrap failed to run",
    ])
    cause = mmdebstrap_cause(stderr)
    assert cause.startswith("Failed to fetch http://archive.invalid/debian-security/")
    assert cause.endswith("File has unexpected size (334084 != 351504). Mirror sync in progress?")
    assert mmdebstrap_cause("I: nothing failed here\n").startswith("no error line")


def test_a_mirror_login_goes_to_apt_auth_conf_never_to_the_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A mirror given with a login: the URLs bootstrap and the images use carry none;
    apt's auth.conf (a private file, put into the root for the bootstrap and taken out
    after) has it, with the scheme, as apt matches only https without one."""
    from snakepacker.images import bootstrap as boot
    from snakepacker.images.mirrors import auth_conf, without_login

    monkeypatch.setenv("SNAKEPACKER_DEBIAN_MIRROR", "http://us%40er:p%2Fw-9x8y@m.invalid:8080/debian/")
    monkeypatch.delenv("SNAKEPACKER_DEBIAN_SECURITY_MIRROR", raising=False)
    mirror = archive_mirror("debian", "bookworm")
    assert mirror == "http://m.invalid:8080/debian"
    lines = sources(DISTROS["bookworm"], mirror)
    assert not any("p%2Fw" in line or "us%40er" in line for line in lines)
    assert auth_conf() == "machine http://m.invalid:8080/debian login us@er password p/w-9x8y\n"
    assert without_login("https://[::1]:5000/x") == "https://[::1]:5000/x"
    hooks = boot._login_hooks(tmp_path)
    assert hooks[0].startswith("--setup-hook=") and "auth.conf.d/snakepacker.conf" in hooks[0]
    assert hooks[1] == '--customize-hook=rm -f "$1/etc/apt/auth.conf.d/snakepacker.conf"'
    assert (tmp_path / "auth.conf").stat().st_mode & 0o777 == 0o600
    assert not any("p/w-9x8y" in hook for hook in hooks)  # the file holds it, not argv
    monkeypatch.setenv("SNAKEPACKER_DEBIAN_MIRROR", "http://m.invalid/debian")
    assert auth_conf() == "" and boot._login_hooks(tmp_path / "none") == []

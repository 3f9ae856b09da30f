"""Bootstrapping a root image from the package archive, with pinned archive keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from snakepacker.bootstrap import (
    PINNED_KEYS,
    bootstrap,
    mmdebstrap_cause,
    pinned_keyring,
    root_ref,
    sources,
)
from snakepacker.engine import Engine
from snakepacker.errors import SnakepackerError, UsageError
from snakepacker.family.distros import DISTROS
from snakepacker.mirrors import archive_mirror
from snakepacker.platforms import PLATFORMS, can_run, native_platform
from snakepacker.registry import by_digest, make_list, push
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


@pytest.mark.engine
def test_bootstrap_for_arm64_makes_a_root_that_builds_and_runs_as_aarch64(
    engine: Engine, docker: Docker, registry: str, tmp_path: Path
) -> None:
    """A real foreign root: mmdebstrap --arch=arm64 under qemu, imported with arm64 in its
    config. It runs as aarch64, and a linux/arm64 build stands on it both by its local
    name and through a registry list that also holds another platform's image."""
    arm64 = PLATFORMS["linux/arm64"]
    if arm64 == native_platform():
        pytest.skip("arm64 is native here")
    ok, why = can_run(arm64)
    if not ok:
        pytest.fail(why)  # scripts/setup registers qemu: a missing handler is a defect
    namespace = "snakepacker-boottest"
    ref = bootstrap(DISTROS["bookworm"], engine, namespace, platform=arm64)
    made = [ref]
    try:
        assert ref == f"{namespace}/root:bookworm-arm64"
        inspect = docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", ref)
        assert inspect.stdout.strip() == "linux/arm64"
        script = "uname -m; dpkg --print-architecture; [ -u /usr/bin/passwd ] && echo suid"
        out = docker.sh(ref, script, "--platform", "linux/arm64").stdout.split()
        assert out == ["aarch64", "arm64", "suid"]

        def build_on(parent: str, name: str) -> str:
            context = tmp_path / name
            context.mkdir()
            (context / "Dockerfile").write_text(f"FROM {parent}\nRUN uname -m > /machine\n")
            docker.build(str(context), "--platform", "linux/arm64", "--tag", name)
            made.append(name)
            return docker.run(name, ["cat", "/machine"], "--platform", "linux/arm64").stdout

        assert build_on(ref, "sptest-boottest-local:arm64").strip() == "aarch64"

        # Through a registry: a list of this root and an armv7 image with no shell (were
        # the wrong entry picked, the RUN step could not start).
        client, env = engine.client, engine.env
        remote = f"{registry}/sptest/root:bookworm-arm64"
        docker("tag", ref, remote)
        made.append(remote)
        root_digest = push(client, env, remote)
        other = tmp_path / "other"
        other.mkdir()
        (other / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
        other_ref = f"{registry}/sptest/root:armv7-noshell"
        docker.build(str(other), "--platform", "linux/arm/v7", "--tag", other_ref)
        made.append(other_ref)
        other_digest = push(client, env, other_ref)
        list_ref = f"{registry}/sptest/root:bookworm"
        make_list(client, env, list_ref,
                  [by_digest(remote, root_digest), by_digest(other_ref, other_digest)])
        assert build_on(list_ref, "sptest-boottest-list:arm64").strip() == "aarch64"
    finally:
        engine.remove(made)


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

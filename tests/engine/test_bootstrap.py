"""Bootstrapping a root image from the package archive, with pinned archive keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from snakepacker.engine import Engine
from snakepacker.family.distros import DISTROS
from snakepacker.images.bootstrap import (
    bootstrap,
)
from snakepacker.platforms import PLATFORMS, can_run, native_platform
from snakepacker.refs import by_digest
from tests.helpers import Docker, snakepacker


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
        remote = f"{registry}/sptest/root:bookworm-arm64"
        docker("tag", ref, remote)
        made.append(remote)
        root_digest = engine.push(remote)
        other = tmp_path / "other"
        other.mkdir()
        (other / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
        other_ref = f"{registry}/sptest/root:armv7-noshell"
        docker.build(str(other), "--platform", "linux/arm/v7", "--tag", other_ref)
        made.append(other_ref)
        other_digest = engine.push(other_ref)
        list_ref = f"{registry}/sptest/root:bookworm"
        engine.make_list(list_ref,
                         [by_digest(remote, root_digest), by_digest(other_ref, other_digest)])
        assert build_on(list_ref, "sptest-boottest-list:arm64").strip() == "aarch64"
    finally:
        engine.remove(made)

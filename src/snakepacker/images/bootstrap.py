"""Make a distro's root image from its package archive, for machines that cannot pull.

mmdebstrap installs a minbase system from the release, updates and security pockets
in one pass (so later layers do not download upgraded libc and friends again), with
apt's signature checks against a keyring whose keys are pinned by fingerprint. Docs,
man pages, translations, apt lists and .debs are left out; the tarball is imported.

A root can be made for another platform (``--arch``, run under qemu). Its image must
say that platform in its config, or the engine will not build on it for that platform:
the engine's ``import_tarball`` sees to that.
"""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from snakepacker.engine import Engine
from snakepacker.errors import NetworkError, SnakepackerError
from snakepacker.family.distros import DPKG_EXCLUDES, Distro
from snakepacker.images.mirrors import archive_mirror, auth_conf, security_mirror
from snakepacker.platforms import Platform, check_runnable, native_platform
from snakepacker.tempdirs import temporary_directory

# The archive signing keys apt must find the Release files signed with.
PINNED_KEYS = {
    "ubuntu": (
        "790BC7277767219C42C86F933B4FE6ACC0B21F32",  # Ubuntu Archive Automatic Signing Key (2012)
        "F6ECB3762474EDA9D21B7022871920D1991BC93C",  # Ubuntu Archive Automatic Signing Key (2018)
    ),
}
KEYRING_PACKAGES = {"ubuntu": "ubuntu-keyring", "debian": "debian-archive-keyring"}
MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/maybe-merged-usr")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_NO_EXTRAS = ('APT::Install-Recommends "false"', 'APT::Install-Suggests "false"')


def root_ref(distro: Distro, namespace: str, platform: Platform | None = None) -> str:
    """The local name of a bootstrapped root image: DISTRO for the native platform,
    DISTRO-SUFFIX (bookworm-arm64, jammy-armv7) for the others."""
    if platform is None or platform == native_platform():
        return f"{namespace}/root:{distro.name}"
    return f"{namespace}/root:{distro.name}-{platform.suffix}"


def pinned_keyring(keyring: Path, fingerprints: tuple[str, ...], out: Path) -> Path:
    """Export exactly the pinned keys from KEYRING to OUT; fail when one is missing."""
    with temporary_directory(prefix="snakepacker-gpg-") as home:
        env = {**os.environ, "GNUPGHOME": home}
        subprocess.run(["gpg", "--batch", "--quiet", "--import", str(keyring)],
                       env=env, capture_output=True, check=False)
        listing = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--list-keys"],
            env=env, capture_output=True, text=True, check=False,
        ).stdout
        present = {line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")}
        missing = [fpr for fpr in fingerprints if fpr not in present]
        if missing:
            raise SnakepackerError(
                f"{keyring.name} lacks the pinned archive key(s) {', '.join(missing)}: "
                "refusing to trust it"
            )
        exported = subprocess.run(
            ["gpg", "--batch", "--export", *fingerprints], env=env, capture_output=True, check=True
        ).stdout
    out.write_bytes(exported)
    out.chmod(0o644)
    return out


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as exc:
        raise NetworkError(f"could not download {url}: {getattr(exc, 'reason', exc)}") from exc


def ubuntu_keyring(mirror: str, suite: str, workdir: Path, arch: str = "amd64") -> Path:
    """The archive keys from the archive's own ubuntu-keyring package, pinned by fingerprint.

    The package is fetched before anything can be verified; only keys whose fingerprints
    match the pinned ones are kept, so a tampered package cannot add trust. MIRROR is the
    archive that serves ARCH (the ports archive for most), so its index is ARCH's.
    """
    index = lzma.decompress(_fetch(f"{mirror}/dists/{suite}/main/binary-{arch}/Packages.xz"))
    filename = None
    for stanza in index.decode("utf-8", "replace").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Package") == "ubuntu-keyring":
            filename = fields["Filename"]
            break
    if filename is None:
        raise SnakepackerError(f"no ubuntu-keyring package in {suite}'s main index")
    deb = workdir / "ubuntu-keyring.deb"
    deb.write_bytes(_fetch(f"{mirror}/{filename}"))
    unpacked = workdir / "ubuntu-keyring"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    keyring = unpacked / "usr/share/keyrings/ubuntu-archive-keyring.gpg"
    return pinned_keyring(keyring, PINNED_KEYS["ubuntu"], workdir / "archive-keys.gpg")


def sources(distro: Distro, mirror: str, arch: str = "amd64") -> list[str]:
    components = " ".join(distro.components)
    release, updates, security = distro.suites
    return [
        f"deb {mirror} {release} {components}",
        f"deb {mirror} {updates} {components}",
        f"deb {security_mirror(distro.vendor, mirror, arch)} {security} {components}",
    ]


def _login_hooks(work: Path) -> list[str]:
    """mmdebstrap hooks that give apt the mirrors' logins for the bootstrap only: the
    auth.conf is put into the new root before apt first runs and taken out at the end,
    so no login is in an argument, a sources.list or the image."""
    text = auth_conf()
    if not text:
        return []
    auth = work / "auth.conf"
    fd = os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    inside = "$1/etc/apt/auth.conf.d/snakepacker.conf"
    return [f'--setup-hook=mkdir -p "$1/etc/apt/auth.conf.d" && install -m 0600 {auth} "{inside}"',
            f'--customize-hook=rm -f "{inside}"']


def mmdebstrap_cause(stderr: str) -> str:
    """The first error mmdebstrap or apt printed: the cause (a download refused, a
    package missing), where the last lines only say that a hook or mmdebstrap failed."""
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("E: "):
            return line[3:]
    return "no error line (its output's tail follows)"


def bootstrap(
    distro: Distro,
    engine: Engine,
    namespace: str,
    progress: Callable[[str], None] = lambda _m: None,
    platform: Platform | None = None,
) -> str:
    """Make and import DISTRO's root image for PLATFORM (default: this machine's);
    return its reference."""
    platform = platform or native_platform()
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise SnakepackerError("bootstrap needs mmdebstrap: apt-get install mmdebstrap")
    if shutil.which("gpg") is None:
        raise SnakepackerError("bootstrap needs gpg to check the archive keys: apt-get install gpg")
    if platform != native_platform():
        check_runnable((platform,))  # the packages' scripts run under qemu
        if shutil.which("arch-test") is None:
            raise SnakepackerError(
                f"bootstrap for {platform.name} needs arch-test: apt-get install arch-test"
            )
    arch = platform.debian_arch
    mirror = archive_mirror(distro.vendor, distro.name, arch)
    started = time.monotonic()
    with temporary_directory(prefix="snakepacker-bootstrap-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # apt reads the keyring as its unprivileged _apt user
        if distro.vendor == "ubuntu":
            progress("fetching the archive keys (ubuntu-keyring, pinned by fingerprint)")
            keyring = ubuntu_keyring(mirror, distro.name, work, arch)
        else:
            if not DEBIAN_KEYRING.exists():
                raise SnakepackerError(
                    f"no {DEBIAN_KEYRING}: apt-get install debian-archive-keyring"
                )
            keyring = DEBIAN_KEYRING
        tarball = work / "root.tar"
        args = [tool, "--variant=minbase", f"--arch={arch}", f"--keyring={keyring}",
                f"--components={','.join(distro.components)}",
                # apt and the archive keys stay in the image: later layers install from
                # the same archive with the same checks. (Ubuntu's apt is not 'required'.)
                f"--include=apt,{KEYRING_PACKAGES[distro.vendor]}"]
        if MERGED_USR_HOOK.is_dir() and not distro.merged_usr_by_base_files:
            # /usr merged by symlinks where the release has usr-is-merged; without this
            # hook Debian 12+ pulls in the usrmerge package and all of perl (45 MB).
            args.append(f"--hook-dir={MERGED_USR_HOOK}")
        args += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
        args += [f"--aptopt={opt}" for opt in APT_NO_EXTRAS]
        args += _login_hooks(work)
        args += [distro.name, str(tarball), *sources(distro, mirror, arch)]
        progress(f"installing {distro.name} minbase for {platform.name} from the release, "
                 "updates and security pockets")
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join("    " + line for line in proc.stderr.strip().splitlines()[-15:])
            raise SnakepackerError(
                f"mmdebstrap failed for {distro.name} on {platform.name}: "
                f"{mmdebstrap_cause(proc.stderr)}\n{tail}"
            )
        ref = root_ref(distro, namespace, platform)
        foreign = None if platform == native_platform() else platform.name
        engine.import_tarball(tarball, ref, changes=[f"ENV PATH={ROOT_PATH}", 'CMD ["/bin/bash"]'],
                              platform=foreign)
    size = engine.image_size(ref) or 0
    progress(f"imported {ref}: {size / 1e6:.1f} MB in {time.monotonic() - started:.0f}s")
    return ref

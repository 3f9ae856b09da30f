"""The image inventory's parsers, on synthetic dpkg status, metadata and os-release."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from snakepacker.family.cpython import CPYTHON_RECORD_SCRIPT
from snakepacker.supply import inventory as inv

STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.35-0ubuntu3.8
Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
Homepage: https://www.gnu.org/software/libc/libc.html

Package: python3.10-minimal
Status: install ok installed
Architecture: amd64
Source: python3.10 (3.10.12-1~22.04.10)
Version: 3.10.12-1~22.04.10
Description: Minimal subset of the Python language (version 3.10)

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2025b-0ubuntu0.22.04
Description: time zone and daylight-saving time data

Package: oldconf
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: halfway
Status: install reinstreq half-installed
Architecture: amd64
Version: 2.0

Package: epoch
Status: hold ok installed
Architecture: arm64
Version: 1:4.2-3
"""


def test_dpkg_status_keeps_installed_packages_with_their_source() -> None:
    packages = {p.name: p for p in inv.parse_dpkg_status(STATUS)}
    assert sorted(packages) == ["epoch", "libc6", "python3.10-minimal", "tzdata"]
    libc = packages["libc6"]
    assert (libc.version, libc.architecture, libc.source, libc.source_version) == (
        "2.35-0ubuntu3.8", "amd64", "glibc", "2.35-0ubuntu3.8")
    assert libc.description == "GNU C Library: Shared libraries"
    py = packages["python3.10-minimal"]
    assert (py.source, py.source_version, py.upstream_version) == (
        "python3.10", "3.10.12-1~22.04.10", "3.10.12")
    assert packages["tzdata"].source == "tzdata"
    assert packages["epoch"].upstream_version == "4.2"
    assert packages["epoch"].architecture == "arm64"


def test_os_release() -> None:
    text = 'PRETTY_NAME="Ubuntu 22.04.5 LTS"\nID=ubuntu\nVERSION_ID="22.04"\n' \
           "VERSION_CODENAME=jammy\n"
    release = inv.parse_os_release(text)
    assert (release.id, release.version_id, release.codename) == ("ubuntu", "22.04", "jammy")
    assert release.purl_distro == "ubuntu-22.04"
    trixie = inv.parse_os_release("ID=debian\nVERSION_CODENAME=forky\n")
    assert trixie.purl_distro == "debian-forky"


METADATA = """\
Metadata-Version: 2.4
Name: Demo_App
Version: 1.2.3
Summary: A demo.
License-Expression: MIT OR Apache-2.0
Project-URL: Homepage, https://example.invalid/demo
Classifier: License :: OSI Approved :: BSD License

Long description here.
License: not a header
"""


@pytest.mark.parametrize(("headers", "expected"), [
    ("License-Expression: MIT OR Apache-2.0\nLicense: BSD\n", "MIT OR Apache-2.0"),
    ("License: BSD-3-Clause\n", "BSD-3-Clause"),
    ("License: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n", "MIT License"),
    ("License: Copyright (c) someone\n long text\n more\n"
     "Classifier: License :: OSI Approved :: Apache Software License\n"
     "Classifier: License :: OSI Approved :: BSD License\n",
     "Apache Software License AND BSD License"),
    ("", ""),
])
def test_licence_from_metadata(headers: str, expected: str) -> None:
    dist = inv.parse_metadata(f"Metadata-Version: 2.1\nName: x\nVersion: 1\n{headers}\nbody\n",
                              "site")
    assert dist is not None
    assert dist.license == expected


def test_metadata_fields_and_name_normalisation() -> None:
    dist = inv.parse_metadata(METADATA, "opt/venv/lib/python3.12/site-packages")
    assert dist is not None
    assert (dist.name, dist.version, dist.normalized) == ("Demo_App", "1.2.3", "demo-app")
    assert dist.license == "MIT OR Apache-2.0"
    assert dist.homepage == "https://example.invalid/demo"
    assert inv.parse_metadata("Metadata-Version: 2.1\nName: x\n", "s") is None


def test_wanted_picks_the_records_only() -> None:
    yes = ["var/lib/dpkg/status", "etc/os-release",
           "usr/lib/python3/dist-packages/apt-2.4.egg-info",
           "opt/v/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA",
           "usr/lib/python3/dist-packages/six-1.16.egg-info/PKG-INFO",
           "usr/share/snakepacker/cpython-3.12.json", "opt/v/pyvenv.cfg",
           "usr/share/snakepacker/pack/dists.txt"]
    no = ["var/lib/dpkg/status-old", "opt/v/lib/python3.12/site-packages/pip/__init__.py",
          "opt/v/lib/python3.12/site-packages/pip-24.0.dist-info/RECORD",
          "usr/share/snakepacker/pillow-runtime-packages.txt"]
    assert all(inv.wanted(p) for p in yes)
    assert not any(inv.wanted(p) for p in no)


def _record(minor: str, version: str) -> bytes:
    return json.dumps({"minor": minor, "version": version, "route": "source",
                       "sha256": "ab" * 32, "tarball": f"Python-{version}.tar.xz",
                       "origin": "python.org release", "grade": "quick",
                       "prefix": f"/opt/python/{minor}",
                       "configure": "'--enable-shared'",
                       "interpreter_configure": "'--with-lto'"}).encode()


def test_inventory_of_a_synthetic_image() -> None:
    site = "opt/app/lib/python3.12/site-packages"
    files = {
        "var/lib/dpkg/status": STATUS.encode(),
        "etc/os-release": b"ID=ubuntu\nVERSION_ID=22.04\nVERSION_CODENAME=jammy\n",
        "usr/share/snakepacker/cpython-3.12.json": _record("3.12", "3.12.3"),
        f"{site}/Demo_App-1.2.3.dist-info/METADATA": METADATA.encode(),
        f"{site}/broken-1.dist-info/METADATA": b"Metadata-Version: 2.1\n",
        "opt/app/pyvenv.cfg": b"home = /opt/python/3.12/bin\n",
        "usr/share/snakepacker/pack/dists.txt": b"demo-app 1.2.3\n",
    }
    paths = [*files, "opt/python/3.12/bin/python3.12", "usr/bin/python3.10",
             "usr/bin/python3.11", "usr/local/bin/python3"]
    result = inv.inventory(files, paths, {"org.opencontainers.image.title": "demo"})
    assert [p.name for p in result.packages] == ["epoch", "libc6", "python3.10-minimal",
                                                 "tzdata"]
    by_minor = {i.minor: i for i in result.interpreters}
    assert sorted(by_minor) == ["3.10", "3.12"]  # 3.11 has no package: not claimed
    assert (by_minor["3.12"].route, by_minor["3.12"].version, by_minor["3.12"].sha256) == (
        "source", "3.12.3", "ab" * 32)
    assert (by_minor["3.12"].configure, by_minor["3.12"].interpreter_configure) == (
        "'--enable-shared'", "'--with-lto'")
    assert by_minor["3.10"].route == "package"
    assert by_minor["3.10"].version == "3.10.12"
    assert [d.name for d in result.dists] == ["Demo_App"]
    assert result.dists[0].site == site
    assert result.venvs == ("opt/app",)
    assert result.project == ("demo-app", "1.2.3")


def test_virtualenvs_are_looked_for_where_the_image_config_points() -> None:
    env = ["PATH=/srv/tool/bin:/opt/python/3.12/bin/:/usr/local/bin:/usr/bin:/bin:relative/bin",
           "VIRTUAL_ENV=/app/.venv", "LANG=C.UTF-8"]
    found = inv.venv_candidates({"io.snakepacker.venv": "/usr/share/python3/app"}, env)
    assert found == ("/opt/snakepacker/installer", "/usr/share/python3/app", "/srv/tool",
                     "/opt/python/3.12", "/app/.venv")
    first = inv.first_places({}, ["PATH=/usr/bin:/bin"])
    assert first == (*inv.FIXED_PLACES, "/opt/snakepacker/installer/pyvenv.cfg")
    assert "/var/lib/dpkg" in first and "/usr/lib/os-release" in first


def test_the_second_round_follows_what_the_first_found() -> None:
    record = json.dumps({"minor": "3.12", "prefix": "/opt/python/3.12", "version": "3.12.3"})
    files = {
        "var/lib/dpkg/status": STATUS.encode(),
        "usr/share/snakepacker/cpython-3.12.json": record.encode(),
        "usr/share/snakepacker/cpython-3.11.json": b'{"minor": "3.11"}',  # no prefix
        "srv/tool/pyvenv.cfg": b"home = /opt/python/3.12/bin\n",
    }
    assert sorted(inv.second_places(files)) == sorted([
        "/opt/python/3.12/bin/python3.12", "/opt/python/3.12/lib/python3.12/site-packages",
        "/opt/python/3.11/bin/python3.11", "/opt/python/3.11/lib/python3.11/site-packages",
        "/usr/bin/python3.10",  # python3.10-minimal is installed
        "/srv/tool/lib",
    ])
    assert inv.second_places({}) == ()


def test_the_record_script_hashes_the_tarball_and_reads_the_interpreters_flags(
    tmp_path: Path,
) -> None:
    """CPYTHON_RECORD_SCRIPT as a build stage runs it, here on this interpreter."""
    tarball, flags = tmp_path / "cpython.tar", tmp_path / "interpreter-configure.txt"
    tarball.write_bytes(b"not really a tarball")
    flags.write_text(" '--prefix=/opt/python/3.12' '--with-lto'\n")
    proc = subprocess.run(
        [sys.executable, "-c", CPYTHON_RECORD_SCRIPT, str(tarball), "Python-3.12.3.tar.xz",
         "python.org release Python-3.12.3.tar.xz", "release", "/opt/python/3.12", str(flags)],
        capture_output=True, text=True, check=True)
    record = inv.parse_cpython_record(proc.stdout)
    assert record["sha256"] == hashlib.sha256(b"not really a tarball").hexdigest()
    assert (record["tarball"], record["grade"], record["prefix"], record["route"]) == (
        "Python-3.12.3.tar.xz", "release", "/opt/python/3.12", "source")
    assert record["interpreter_configure"] == "'--prefix=/opt/python/3.12' '--with-lto'"
    assert record["version"] == platform.python_version()
    assert "configure" in record  # this interpreter's sysconfig, whatever it says

"""apt-install on the host, in harmless ways only.

Installing, cleaning up and failing on an unknown package are tested inside
the images (they need a container engine); here: the no-argument case, the
entry point, and static checks of the script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from snakepacker.tools import TOOL_FILES, apt_install_main

SCRIPT = TOOL_FILES["apt-install"]
LISTS = Path("/var/lib/apt/lists")


def list_files() -> list[str]:
    if not LISTS.is_dir():
        return []
    return sorted(p.name for p in LISTS.iterdir())


def test_script_is_package_data() -> None:
    packaged = resources.files("snakepacker.tools").joinpath("apt_install.sh")
    assert packaged.is_file()
    assert packaged.read_text().startswith("#!/bin/sh\n")
    assert os.access(SCRIPT, os.X_OK)


def test_no_arguments_does_nothing_and_exits_zero() -> None:
    before = list_files()
    result = subprocess.run(["/bin/sh", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""
    # Had it run apt-get or its clean-up, the package lists would be gone.
    assert list_files() == before


def test_no_arguments_through_the_entry_point() -> None:
    before = list_files()
    assert apt_install_main([]) == 0
    assert list_files() == before


def test_installed_console_script_if_present() -> None:
    script = Path(sys.executable).parent / "apt-install"
    if not script.exists():
        pytest.skip("snakepacker is not installed into this environment")
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""


@pytest.mark.parametrize("shell", ["/bin/sh", "dash", "bash", "busybox"])
def test_syntax(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    cmd = {"busybox": ["busybox", "sh", "-n"], "bash": ["bash", "--posix", "-n"]}.get(
        shell, [shell, "-n"]
    )
    result = subprocess.run([*cmd, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck() -> None:
    result = subprocess.run(
        ["shellcheck", "--shell=sh", "--severity=style", str(SCRIPT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_apt_options_and_clean_up_paths() -> None:
    text = SCRIPT.read_text()
    for needed in (
        "DEBIAN_FRONTEND=noninteractive",
        "--no-install-recommends",
        "--no-install-suggests",
        'apt-get -q -o "$login" update',
        "/var/lib/apt/lists",
        "/var/cache/apt/archives",
        "/var/cache/apt/*.bin",
        "/var/log/apt",
        "/var/log/dpkg.log",
        "/var/cache/ldconfig/aux-cache",
    ):
        assert needed in text, needed
    # The clean-up runs after the install whatever its result, and the exit
    # status is apt-get's.
    after_install = text[text.index("install \\"):]
    assert "clean_up\n" in after_install and 'exit "$status"' in after_install

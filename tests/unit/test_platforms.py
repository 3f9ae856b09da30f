"""Platforms as data, --platform parsing, and whether this machine can run a platform."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.platforms import (
    BINFMT_MISC,
    PLATFORMS,
    can_run,
    native_platform,
    parse_platforms,
)

ARM64 = PLATFORMS["linux/arm64"]
ARMV7 = PLATFORMS["linux/arm/v7"]
AMD64 = PLATFORMS["linux/amd64"]


def test_each_platform_carries_its_three_names() -> None:
    assert [(p.name, p.debian_arch, p.machine) for p in PLATFORMS.values()] == [
        ("linux/amd64", "amd64", "x86_64"),
        ("linux/arm64", "arm64", "aarch64"),
        ("linux/arm/v7", "armhf", "armv7l"),
    ]
    assert (ARMV7.architecture, ARMV7.variant, ARMV7.suffix) == ("arm", "v7", "armv7")
    assert ARMV7.binfmt_handler == "qemu-arm"


def test_platform_lists_parse_in_order_with_aliases() -> None:
    assert parse_platforms("linux/amd64, linux/arm64/v8,arm/v7") == (AMD64, ARM64, ARMV7)
    assert parse_platforms("arm64") == (ARM64,)
    assert parse_platforms("aarch64") == (ARM64,)


@pytest.mark.parametrize(("value", "message"), [
    ("linux/arm65", r"unknown platform 'linux/arm65'.*did you mean linux/arm64\?"),
    ("linux/amd64,linux/s390x", r"unknown platform 'linux/s390x' \(known: linux/amd64,"),
    ("linux/arm64,arm64", "given twice"),
    (" , ", "needs at least one platform"),
])
def test_bad_platform_lists_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_platforms(value)


def test_the_native_platform_matches_uname() -> None:
    machine = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
    assert native_platform().machine == machine
    assert native_platform("aarch64") is ARM64
    with pytest.raises(UsageError, match="riscv64"):
        native_platform("riscv64")
    ok, why = can_run(native_platform())
    assert ok and "own platform" in why


def _binfmt(tmp_path: Path, entries: dict[str, str]) -> Path:
    (tmp_path / "register").touch()
    (tmp_path / "status").write_text("enabled\n")
    for name, text in entries.items():
        (tmp_path / name).write_text(text)
    return tmp_path


HANDLER = ("{state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\n"
           "offset 0\nmagic 7f454c46020101\nmask ffffffffffffff\n")


@pytest.mark.parametrize(("state", "flags", "expected"), [
    ("enabled", "PF", None),
    ("disabled", "PF", "the qemu-aarch64 handler in binfmt_misc is disabled"),
    ("enabled", "P", "lacks the F flag"),
])
def test_a_foreign_platform_runs_only_through_an_enabled_fixed_handler(
    tmp_path: Path, state: str, flags: str, expected: str | None
) -> None:
    binfmt = _binfmt(tmp_path, {"qemu-aarch64": HANDLER.format(state=state, flags=flags)})
    ok, why = can_run(ARM64, native=AMD64, binfmt_dir=binfmt)
    assert ok is (expected is None)
    assert (expected or "runs under qemu") in why


def test_a_missing_handler_or_mount_is_explained(tmp_path: Path) -> None:
    ok, why = can_run(ARMV7, native=AMD64, binfmt_dir=_binfmt(tmp_path, {}))
    assert not ok
    assert why == ("linux/arm/v7 cannot run here: no qemu-arm handler in binfmt_misc; "
                   "run scripts/setup or install qemu-user-static")
    ok, why = can_run(ARM64, native=AMD64, binfmt_dir=tmp_path / "absent")
    assert not ok and "binfmt_misc is not mounted" in why


@pytest.mark.skipif(not (BINFMT_MISC / "register").exists(), reason="binfmt_misc not mounted")
def test_the_real_binfmt_misc_agrees_with_what_runs() -> None:
    """Where /proc says arm64 runs, an arm64 program really runs (qemu's static binary)."""
    ok, why = can_run(ARM64, native=AMD64)
    if not ok:
        assert "cannot run here" in why
        return
    entry = (BINFMT_MISC / "qemu-aarch64").read_text()
    interpreter = next(line.split()[1] for line in entry.splitlines()
                       if line.startswith("interpreter"))
    assert os.access(interpreter, os.X_OK), why

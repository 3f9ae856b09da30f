"""Platforms as data, --platform parsing, and whether this machine can run a platform."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.platforms import (
    PLATFORMS,
    Platform,
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


def exit_42_program(platform: Platform) -> bytes:
    """The smallest static program for PLATFORM the kernel runs: an ELF file with one
    loadable segment whose code makes the exit system call with status 42."""
    if platform is ARM64:  # movz x0, #42; movz x8, #93 (exit); svc #0
        code = struct.pack("<3I", 0xD2800540, 0xD2800BA8, 0xD4000001)
        entry, size = 0x400000 + 64 + 56, 64 + 56 + len(code)
        header = struct.pack("<4s5B7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0,
                             2, 183, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
        segment = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    elif platform is ARMV7:  # mov r0, #42; mov r7, #1 (exit); svc #0
        code = struct.pack("<3I", 0xE3A0002A, 0xE3A07001, 0xEF000000)
        entry, size = 0x10000 + 52 + 32, 52 + 32 + len(code)
        header = struct.pack("<4s5B7xHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0,
                             2, 40, 1, entry, 52, 0, 0x05000000, 52, 32, 1, 0, 0, 0)
        segment = struct.pack("<8I", 1, 0, 0x10000, 0x10000, size, size, 5, 0x1000)
    else:
        raise AssertionError(f"no exit program for {platform.name}")
    return header + segment + code


@pytest.mark.parametrize("platform", [ARM64, ARMV7], ids=lambda p: p.name)
def test_the_real_binfmt_misc_agrees_with_what_runs(platform: Platform, tmp_path: Path) -> None:
    """Where /proc says a platform runs here, a program built for it really runs: on
    another machine's platform, the kernel hands it to qemu through binfmt_misc.
    scripts/setup registers the arm64 and armv7 handlers, so under CI both run."""
    ok, why = can_run(platform)
    if not ok:
        pytest.skip(why)
    program = tmp_path / "exit-42"
    program.write_bytes(exit_42_program(platform))
    program.chmod(0o755)
    assert subprocess.run([str(program)], timeout=60).returncode == 42, why

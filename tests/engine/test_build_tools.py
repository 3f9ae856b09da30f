"""The build stage's own tools on a real engine: the distro's newest Rust in `all`, and
the Python tools upstream's `all` carries (cython, poetry, tox, uv) run; a Rust
extension builds from source in pack and runs read-only."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from snakepacker.family.distros import DISTROS
from tests.helpers import Docker, snakepacker, untag

pytestmark = pytest.mark.engine

RUST_EXT = Path(__file__).resolve().parents[1] / "data" / "rust-ext"
NOBODY = "65534:65534"


def test_all_runs_rustc_cargo_and_the_python_build_tools(
        docker: Docker, family_images: dict[str, str]) -> None:
    image = family_images["all"]

    def version(*command: str) -> str:
        proc = docker.run(image, list(command), "--user", NOBODY, "--workdir", "/tmp")
        return proc.stdout + proc.stderr

    rust = DISTROS["jammy"].rust.version
    assert version("rustc", "--version").startswith(f"rustc {rust}.")
    assert version("cargo", "--version").startswith(f"cargo {rust}.")
    assert re.search(r"^Cython version 3\.", version("cython", "--version"), re.M)
    assert re.search(r"^Poetry \(version \d", version("poetry", "--version"), re.M)
    assert re.search(r"^\d+\.\d+\.\d+ from /opt/snakepacker/tools/tox/",
                     version("tox", "--version"), re.M)
    assert version("uv", "--version").startswith("uv ")
    # LLVM's tools the versioned package carries are left out, rustc's own files are not.
    rustlib = f"/usr/lib/rust-{rust}/lib/rustlib/x86_64-unknown-linux-gnu"
    tools = docker.run(image, ["ls", f"{rustlib}/bin"]).stdout.split()
    assert tools and not [t for t in tools if t in ("llc", "opt") or t.startswith("llvm-")]
    libs = docker.run(image, ["ls", f"{rustlib}/lib"]).stdout.split()
    assert [lib for lib in libs if lib.startswith("libstd-") and lib.endswith(".rlib")]


def test_cargo_builds_and_runs_a_program_as_non_root_offline(
        docker: Docker, family_images: dict[str, str]) -> None:
    out = docker.sh(family_images["all"],
                    "cd /tmp && cargo new --quiet --offline hello "
                    "&& cd hello && cargo run --quiet --offline --release",
                    "--user", NOBODY, "-e", "HOME=/tmp", "--read-only", "--tmpfs",
                    "/tmp:exec").stdout
    assert out.strip() == "Hello, world!"


def test_a_rust_extension_packs_from_source_and_runs_read_only(
        docker: Docker, family_images: dict[str, str], tmp_path: Path) -> None:
    project = shutil.copytree(RUST_EXT, tmp_path / "rust-ext")
    tag = "snakepacker-test/rust-ext:pytest"
    untag(docker, tag)
    proc = snakepacker("pack", str(project), "-t", tag, "--python", "3.12")
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = docker.run(tag, [], "--read-only", "--tmpfs", "/tmp", "--user", NOBODY).stdout
    assert out.startswith("fib(90) = 2880067194370816120 from _native.cpython-312-"), out
    untag(docker, tag)

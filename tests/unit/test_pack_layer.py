"""pack-layer on real trees: what an install added, gathered by path; secrets refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snakepacker.tools import EMBEDDED_SCRIPTS
from snakepacker.tools.pack_layer import credentials

TOOL = EMBEDDED_SCRIPTS["pack-layer"]
PASSWORD = "s3cr3t-pa55w0rd"


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-S", str(TOOL), *args],
                          capture_output=True, text=True, timeout=60)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() or p.is_symlink())


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    root = tmp_path / "venv"
    (root / "lib" / "site-packages" / "dep").mkdir(parents=True)
    (root / "lib" / "site-packages" / "dep" / "__init__.py").write_text("x = 1\n")
    (root / "bin").mkdir()
    return root


def install(venv: Path, names: dict[str, str]) -> None:
    for name, text in names.items():
        path = venv / "lib" / "site-packages" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_only_what_the_install_added_is_gathered_names_as_they_are(
    venv: Path, tmp_path: Path
) -> None:
    state, layer = tmp_path / "state.json", tmp_path / "layer"
    assert tool("snapshot", str(state), str(venv)).returncode == 0
    odd = ["app/__init__.py", "app/with space.txt", "app/new\nline.txt", "app/ünï.txt",
           "app/x\nrun/secrets/index-url"]
    install(venv, {name: name for name in odd})
    (venv / "lib" / "site-packages" / "dep" / "__init__.py").write_text("x = 2\n")  # changed
    (venv / "bin" / "app").symlink_to("/run/secrets/index-url")  # a link stays a link
    proc = tool("gather", str(state), str(layer), "--root", str(venv), "--compile")
    assert proc.returncode == 0, proc.stderr
    gathered = files(layer)
    inside = str(venv).lstrip("/")
    for name in odd:
        assert f"{inside}/lib/site-packages/{name}" in gathered
        assert (layer / inside / "lib/site-packages" / name).read_text() == name
    assert f"{inside}/lib/site-packages/dep/__init__.py" in gathered
    assert os.readlink(layer / inside / "bin" / "app") == "/run/secrets/index-url"
    # Nothing outside the venv, whatever a name says; bytecode of the new files only.
    assert all(name.startswith(inside + "/") for name in gathered)
    pyc = [n for n in gathered if n.endswith(".pyc")]
    assert len(pyc) == 2 and any("app/__pycache__/__init__" in n for n in pyc)
    header = (layer / pyc[0]).read_bytes()[4:8]
    assert int.from_bytes(header, "little") == 0b01  # hash-based, source not checked


def test_a_removed_dependency_file_stops_the_build(venv: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    tool("snapshot", str(state), str(venv))
    (venv / "lib" / "site-packages" / "dep" / "__init__.py").unlink()
    proc = tool("gather", str(state), str(tmp_path / "layer"), "--root", str(venv))
    assert proc.returncode == 1
    assert "installing the project removed files of its dependencies" in proc.stderr


def test_a_file_holding_the_index_password_stops_the_build(venv: Path, tmp_path: Path) -> None:
    """What a hostile setup.py copies out of /run/secrets never reaches the layer; the
    message names the file, never the secret."""
    secret = tmp_path / "index-url"
    secret.write_text(f"https://user:{PASSWORD}@index.invalid/simple\n")
    state, layer = tmp_path / "state.json", tmp_path / "layer"
    tool("snapshot", str(state), str(venv))
    install(venv, {"evil/__init__.py": "", "evil/stolen.dat": "x" * 5000 + PASSWORD})
    proc = tool("gather", str(state), str(layer), "--root", str(venv),
                "--secret-url", str(secret))
    assert proc.returncode == 1 and "stolen.dat holds a secret of this build" in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
    assert not layer.exists() or files(layer) == []
    scan = tool("scan", "--secret-url", str(secret), str(venv))
    assert scan.returncode == 1 and PASSWORD not in scan.stderr
    # Without the secret (no index given), nothing to look for.
    empty = tmp_path / "empty"
    empty.write_text("")
    assert tool("scan", "--secret-url", str(empty), str(venv)).returncode == 0


def test_a_secret_split_across_read_chunks_is_still_found(venv: Path, tmp_path: Path) -> None:
    secret = tmp_path / "index-url"
    secret.write_text(f"https://{PASSWORD}@index.invalid/simple")  # a token as the user
    install(venv, {"big.bin": "y" * ((1 << 20) - 5) + PASSWORD})
    proc = tool("scan", "--secret-url", str(secret), str(venv))
    assert proc.returncode == 1 and "big.bin holds a secret" in proc.stderr


def test_credentials_are_the_password_or_the_token() -> None:
    assert credentials(f"https://user:{PASSWORD}@h/simple") == [PASSWORD.encode()]
    assert credentials("https://tok%40en99@h/simple") == [b"tok%40en99", b"tok@en99"]
    assert credentials("https://h/simple") == []
    assert credentials("https://u:pw@h/") == []  # too short to look for


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil", "a/b", ".", "..", "x\ny", ""])
def test_console_script_names_must_be_plain(tmp_path: Path, name: str) -> None:
    scripts = tmp_path / "scripts.txt"
    scripts.write_text(f"good\n{name}\n")
    proc = tool("links", str(tmp_path / "layer"), "/venv", str(scripts))
    if name.strip() and "\n" not in name:
        assert proc.returncode == 1 and "is not a plain file name" in proc.stderr
    assert not (tmp_path / "layer" / "etc").exists()
    assert not list(tmp_path.glob("**/evil"))


def test_console_scripts_are_linked_into_usr_bin(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts.txt"
    scripts.write_text("demo-app\nsh\n")  # sh: the system has one, no link
    assert tool("links", str(tmp_path / "layer"), "/venv", str(scripts)).returncode == 0
    assert os.readlink(tmp_path / "layer/usr/bin/demo-app") == "/venv/bin/demo-app"
    assert not (tmp_path / "layer/usr/bin/sh").exists()


def test_a_whole_tree_and_the_elf_flag(venv: Path, tmp_path: Path) -> None:
    code = tmp_path / "app"
    code.mkdir()
    (code / "main.py").write_text("print(1)\n")
    state, layer, flag = tmp_path / "state.json", tmp_path / "layer", tmp_path / "elf"
    tool("snapshot", str(state), str(venv))
    proc = tool("gather", str(state), str(layer), "--root", str(venv), "--whole", str(code),
                "--compile", "--elf-flag", str(flag))
    assert proc.returncode == 0 and not flag.exists()
    assert (layer / str(code).lstrip("/") / "main.py").exists()
    assert list((layer / str(code).lstrip("/") / "__pycache__").glob("main.*.pyc"))
    state2 = tmp_path / "state2.json"
    tool("snapshot", str(state2), str(venv))
    (venv / "lib" / "ext.so").write_bytes(b"\x7fELF" + b"\0" * 60)
    proc = tool("gather", str(state2), str(tmp_path / "layer2"), "--root", str(venv),
                "--elf-flag", str(flag))
    assert proc.returncode == 0 and flag.exists()


def test_setuid_bits_do_not_reach_the_layer(venv: Path, tmp_path: Path) -> None:
    state, layer = tmp_path / "state.json", tmp_path / "layer"
    tool("snapshot", str(state), str(venv))
    install(venv, {"tool": "#!/bin/sh\n"})
    os.chmod(venv / "lib/site-packages/tool", 0o6755)
    assert tool("gather", str(state), str(layer), "--root", str(venv)).returncode == 0
    mode = (layer / str(venv).lstrip("/") / "lib/site-packages/tool").stat().st_mode
    assert mode & 0o7777 == 0o755

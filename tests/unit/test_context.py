"""pack's build context: what is copied of a project, and what is left out and why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from snakepacker.errors import UsageError
from snakepacker.pack.context import (
    check_includes,
    copy_project,
    describe_copy,
    is_secret,
    write_pack_context,
)
from snakepacker.pack.files import project_file, read_project_file


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def copied_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() or p.is_symlink())


@pytest.mark.parametrize("name", [
    ".env", ".ENV", ".env.local", "prod.env", ".envrc", "pip.conf", "PIP.CONF", ".pgpass",
    "credentials.json", "gcp-credentials-prod.json", "secrets.toml", "ID_RSA", "id_ed25519.pub",
    "server.KEY", "cert.PEM", ".netrc", ".pypirc", ".npmrc", ".git-credentials", "store.jks",
    ".ssh", ".AWS", ".docker", ".kube", "terraform.tfvars",
])
def test_names_that_look_like_credentials_in_any_case(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["environment.py", "keys.py", "pem.py", "README.md",
                                  "envoy.yaml", "secret_santa.py", "monkey.txt"])
def test_ordinary_names_are_not_credentials(name: str) -> None:
    assert not is_secret(name)


def test_credentials_are_left_out_at_any_depth_and_listed(tmp_path: Path) -> None:
    project = tree(tmp_path / "p", {
        "app.py": "", ".envrc": "export TOKEN=1", "conf/pip.conf": "[global]",
        "db/.pgpass": "*:*:*:u:pw", "keys/credentials.json": "{}", ".streamlit/secrets.toml": "",
        "deploy/ID_RSA": "key", "tls/server.KEY": "key",
    })
    out = tmp_path / "ctx"
    copied = copy_project(project, out)
    assert copied_files(out) == ["app.py"]
    assert sorted(copied.secrets) == [".envrc", ".streamlit/secrets.toml", "conf/pip.conf",
                                      "db/.pgpass", "deploy/ID_RSA", "keys/credentials.json",
                                      "tls/server.KEY"]
    line = describe_copy(copied)
    assert "left out as credentials: " in line and "deploy/ID_RSA" in line


def test_special_files_are_left_out_with_a_warning(tmp_path: Path) -> None:
    project = tree(tmp_path / "p", {"app.py": "print(1)\n"})
    os.mkfifo(project / "queue")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(project / "control.sock"))
    try:
        out = tmp_path / "ctx"
        copied = copy_project(project, out)  # a FIFO would block a plain copy forever
    finally:
        server.close()
    assert copied_files(out) == ["app.py"]
    assert sorted(copied.special) == ["control.sock", "queue"]
    warnings: list[str] = []
    assert "left out as not files: " in describe_copy(copied, warnings.append)
    assert warnings == [f"warning: {name} is a FIFO, socket or device: not copied"
                        for name in ("control.sock", "queue")]


def test_the_dockerignore_applies_while_copying(tmp_path: Path) -> None:
    """Docker's rules: a pattern is rooted at the context, ** spans directories, an
    exception brings a file back from an ignored directory, the last match wins."""
    project = tree(tmp_path / "p", {
        ".dockerignore": "data\n**/*.log\ndocs/*\n!docs/index.md\nnotes\n!notes\nnotes\n"
                         "keep/*.csv\n!keep/important.csv\n",
        "app.py": "", "data/big.bin": "x" * 1000, "data/sub/more.bin": "",
        "src/run.log": "", "src/deep/er/trace.log": "", "src/main.py": "",
        "docs/index.md": "", "docs/other.md": "", "notes": "",
        "keep/a.csv": "", "keep/important.csv": "", "pkg/data/file.txt": "",
    })
    out = tmp_path / "ctx"
    copied = copy_project(project, out)
    assert copied_files(out) == [".dockerignore", "app.py", "docs/index.md",
                                 "keep/important.csv", "pkg/data/file.txt", "src/main.py"]
    assert "data/" in copied.ignored and "src/run.log" in copied.ignored
    assert "notes" in copied.ignored  # the last of its three lines wins
    assert "left out by its .dockerignore: " in describe_copy(copied)


def test_an_ignored_directory_is_never_read(tmp_path: Path) -> None:
    """A 20 GB data/ that the .dockerignore leaves out costs nothing: the walk does not
    enter it (a sparse file, so the test itself does not need the space)."""
    project = tree(tmp_path / "p", {".dockerignore": "data/\n", "app.py": ""})
    (project / "data").mkdir()
    with open(project / "data" / "huge.bin", "wb") as handle:
        handle.truncate(20 * 1024**3)
    out = tmp_path / "ctx"
    copied = copy_project(project, out)
    assert copied.bytes < 1000 and copied.ignored == ["data/"]
    assert not (out / "data").exists()


def test_links_are_copied_as_links(tmp_path: Path) -> None:
    project = tree(tmp_path / "p", {"app.py": ""})
    (project / "outside").symlink_to("/etc/hostname")
    out = tmp_path / "ctx"
    copy_project(project, out)
    assert os.readlink(out / "outside") == "/etc/hostname"  # the engine sends the link


def test_odd_but_legal_names_arrive_byte_for_byte(tmp_path: Path) -> None:
    names = ["with space.py", "new\nline.py", "ünïcödé.py", "tab\there.txt", "-dash.py",
             "x\nrun/secrets/index-url"]
    project = tmp_path / "p"
    for index, name in enumerate(names):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([index]) * 3)
    out = tmp_path / "ctx"
    copy_project(project, out)
    for index, name in enumerate(names):
        assert (out / name).read_bytes() == bytes([index]) * 3


def test_a_left_out_name_with_a_line_break_is_printed_on_one_line(tmp_path: Path) -> None:
    project = tree(tmp_path / "p", {"evil\nrun/secrets/x.env": "TOKEN=1"})
    line = describe_copy(copy_project(project, tmp_path / "ctx"))
    assert "\n" not in line and "evil\\nrun/secrets/x.env" in line


def test_setuid_bits_are_not_carried(tmp_path: Path) -> None:
    project = tree(tmp_path / "p", {"tool": "#!/bin/sh\n"})
    os.chmod(project / "tool", 0o6755)
    out = tmp_path / "ctx"
    copy_project(project, out)
    assert (out / "tool").stat().st_mode & 0o7777 == 0o755


def test_the_dockerfile_and_ignore_file_are_never_sent_to_copy(tmp_path: Path) -> None:
    project = tree(tmp_path / "p", {".dockerignore": "docs\n", "Dockerfile": "FROM evil\n"})
    out = tmp_path / "ctx"
    write_pack_context(project, "FROM scratch\n", out)
    assert (out / "Dockerfile").read_text() == "FROM scratch\n"
    assert (out / ".dockerignore").read_text().split() == ["docs", "Dockerfile", ".dockerignore"]


def test_include_secret_names_a_path_inside_the_project(tmp_path: Path) -> None:
    assert check_includes(tmp_path, ("certs/server.pem",)) == ("certs/server.pem",)
    for bad in ("/etc/ssh/ssh_host_rsa_key", "../x.pem", ""):
        with pytest.raises(UsageError, match="not a path inside the project"):
            check_includes(tmp_path, (bad,))


def test_project_files_are_read_only_inside_the_project(tmp_path: Path) -> None:
    """A requirements file or .python-version that is a link out of the project is
    refused before a byte of it is read on the host."""
    project = tree(tmp_path / "p", {"real.txt": "flask==3\n", "sub/inner.txt": "x"})
    (project / "requirements.txt").symlink_to("real.txt")
    (project / ".python-version").symlink_to("/proc/self/environ")
    (project / "up.txt").symlink_to("../outside.txt")
    (tmp_path / "outside.txt").write_text("secret")
    assert read_project_file(project, "requirements.txt") == "flask==3\n"
    assert project_file(project, "missing.txt") is None
    assert project_file(project, "sub") is None  # a directory is no file
    for name in (".python-version", "up.txt"):
        with pytest.raises(UsageError, match="a link that leads out of the project"):
            read_project_file(project, name)
    for name in ("/etc/passwd", "../outside.txt"):
        with pytest.raises(UsageError, match="not a path inside the project"):
            project_file(project, name)


def test_the_dockerignore_matcher_loads_without_the_sdks_api_client(tmp_path: Path) -> None:
    """The SDK's matcher, in a fresh interpreter: neither its API client nor requests is
    imported for it, it matches as the SDK's does, and `import docker` loads whole after."""
    (tmp_path / ".dockerignore").write_text("data/**\n!data/keep.txt\n*.log\n")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from snakepacker.pack.context import dockerignore_matcher\n"
        "m = dockerignore_matcher(Path(sys.argv[1]))\n"
        "print('docker.api' in sys.modules, 'requests' in sys.modules)\n"
        "print(m.matches('data/big.bin'), m.matches('data/keep.txt'), m.matches('a.log'),\n"
        "      m.matches('src/app.py'))\n"
        "import docker\n"
        "print(docker.APIClient.__name__, docker.utils.build.PatternMatcher.__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert proc.stdout.split("\n")[:3] == ["False False", "True False True False",
                                           "APIClient PatternMatcher"], proc.stdout

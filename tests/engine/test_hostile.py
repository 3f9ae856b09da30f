"""Packing a project you don't trust, on the real engine: each attack of the hostile
projects issue, tried as written, and proved to have failed.

A project is untrusted input: its files and their names, its pyproject.toml, its lock
files and its .git. These tests pack such projects and then look where the attack
would have landed: a file on the host, a layer of the saved image, a line printed, a
step of the build log. The ones refused before any build run the command line only.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.helpers import Docker, snakepacker, untag, write

PASSWORD = "s3cr3t-Hunter2-9f8e7d6c"
# A real index: PyPI takes (and ignores) a login in the URL, so installs work with it.
INDEX = f"https://snakepacker-test:{PASSWORD}@pypi.org/simple"
PREFIX = "snakepacker-test/hostile"


def layers_hold(docker: Docker, image: str, needle: bytes) -> list[str]:
    """The members of IMAGE's saved layers whose bytes hold NEEDLE."""
    saved = subprocess.run([docker.engine.client, "save", image], env=docker.engine.env,
                           capture_output=True, check=True, timeout=600).stdout
    found = []
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if not member.name.endswith(".tar"):
                if needle in data:
                    found.append(member.name)
                continue
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for entry in layer.getmembers():
                    handle = layer.extractfile(entry) if entry.isfile() else None
                    if handle is not None and needle in handle.read():
                        found.append(f"{member.name}:{entry.name}")
    return found


def test_git_metadata_runs_nothing_on_the_host(family_images: dict[str, str], docker: Docker,
                                               tmp_path: Path) -> None:
    """The project is itself a bare repository (HEAD, config, objects/ as plain files) and
    also has a .git whose config asks for signatures through ./evil.sh and names an
    fsmonitor: packing it must not run evil.sh, which would make a file on the host."""
    marker = tmp_path / "pwned"
    project = tmp_path / "project"
    write(project, {"requirements.txt": "\n", "app.py": "print('hi')\n",
                    "evil.sh": f"#!/bin/sh\ntouch {marker}\nexit 0\n"})
    (project / "evil.sh").chmod(0o755)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path)}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True)
    # A signature for log.showSignature to check: git hands it to gpg.program.
    body = subprocess.run(["git", "cat-file", "commit", "HEAD"], cwd=project, env=env,
                          capture_output=True, text=True, check=True).stdout
    head, _, message = body.partition("\n\n")
    signature = ("gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n"
                 " -----END PGP SIGNATURE-----")
    signed = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"],
                            cwd=project, env=env, input=f"{head}\n{signature}\n\n{message}",
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "update-ref", "HEAD", signed], cwd=project, env=env, check=True)
    evil = f"{project}/evil.sh"
    with (project / ".git" / "config").open("a") as config:
        config.write(f"[log]\n\tshowSignature = true\n[gpg]\n\tprogram = {evil}\n"
                     f"[core]\n\tfsmonitor = {evil}\n\tpager = {evil}\n")
    # The bare-repository trick: git metadata as ordinary files at the project's root.
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(tmp_path / "bare")],
                   env=env, check=True)
    for name in ("HEAD", "config", "objects", "refs"):
        subprocess.run(["cp", "-r", str(tmp_path / "bare" / name), str(project / name)],
                       check=True)
    with (project / "config").open("a") as config:
        config.write(f"[log]\n\tshowSignature = true\n[gpg]\n\tprogram = {evil}\n")
    assert subprocess.run(["git", "-C", str(project), "log", "--oneline"], env=env,
                          capture_output=True).returncode == 0 and marker.exists(), \
        "the trap must work on a plain git, or the test proves nothing"
    marker.unlink()
    tag = f"{PREFIX}-git:pytest"
    proc = snakepacker("pack", str(project), "-t", tag, "--entrypoint", "python app.py")
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert not marker.exists()
        revision = docker("image", "inspect", "--format",
                          '{{index .Config.Labels "org.opencontainers.image.revision"}}',
                          tag).stdout.strip()
        assert revision == signed  # still read, safely
    finally:
        untag(docker, tag)


def test_the_index_password_reaches_no_layer_and_no_line(
    family_images: dict[str, str], docker: Docker, tmp_path: Path
) -> None:
    """A directory named `x<newline>run/secrets` once turned the file list into one that
    copied the mounted secrets into the image. Its files arrive byte for byte now, and
    the password given with --index-url is in no layer and in nothing printed."""
    odd = "x\nrun/secrets"
    project = write(tmp_path / "project", {"requirements.txt": "six==1.16.0\n",
                                           "app.py": "import six\n",
                                           f"{odd}/index-url": "not the secret\n"})
    tag = f"{PREFIX}-secrets:pytest"
    proc = snakepacker("pack", str(project), "-t", tag, "--entrypoint", "python app.py",
                       "--index-url", INDEX, "-v")
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert PASSWORD not in proc.stdout + proc.stderr
        assert layers_hold(docker, tag, PASSWORD.encode()) == []
        shown = docker.run(tag, ["python", "-c", "import sys; print(open(sys.argv[1]).read())",
                                 f"/app/{odd}/index-url"], "--entrypoint", "").stdout
        assert shown.strip() == "not the secret"
    finally:
        untag(docker, tag)


def test_build_code_that_copies_the_secret_cannot_ship_it(
    family_images: dict[str, str], docker: Docker, tmp_path: Path
) -> None:
    """setup.py runs in the build container with the index secret mounted (it installs
    from that index) and copies it into the venv: the build stops, naming the file,
    and nothing is tagged."""
    setup = (
        "import glob, shutil\n"
        "from setuptools import setup\n"
        "for venv in glob.glob('/usr/share/python3/app/lib/python3*/site-packages'):\n"
        "    shutil.copy('/run/secrets/index-url', venv + '/stolen.txt')\n"
        "setup(name='thief', version='1', py_modules=['thief'],\n"
        "      entry_points={'console_scripts': ['thief=thief:main']})\n"
    )
    project = write(tmp_path / "thief", {"setup.py": setup, "thief.py": "def main(): pass\n"})
    tag = f"{PREFIX}-thief:pytest"
    untag(docker, tag)
    proc = snakepacker("pack", str(project), "-t", tag, "--index-url", INDEX)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "stolen.txt holds a secret of this build" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    assert docker("image", "inspect", tag, check=False).returncode != 0


PROJECT = '[project]\nname = "h"\nversion = "1"\nscripts = {h = "h:main"}\n'
TOOL = PROJECT + "[tool.snakepacker]\n"


@pytest.mark.parametrize(("pyproject", "message"), [
    ('[build-system]\nrequires = ["setuptools\\nRUN --mount=type=bind,from=alpine,'
     'target=/x cat /x/etc/shadow"]\n' + PROJECT, "[build-system] requires"),
    (TOOL + 'ca-certs = ["/proc/self/environ"]\n', "'ca-certs' carries trust"),
    (TOOL + 'index-url = "https://attacker.invalid/simple"\n', "'index-url' carries trust"),
    (TOOL + 'workdir = "/app;id>/tmp/pwn"\n', "--workdir '/app;id>/tmp/pwn': not an absolute"),
    (TOOL + 'venv-path = "/opt/v$(id)"\n', "--venv-path '/opt/v$(id)': not an absolute path"),
    (TOOL + 'requirements = "../../etc/passwd"\n', "not a path inside the project"),
    (TOOL + 'entrypoint = ["app\\nRUN id"]\n', "cannot go into a Dockerfile"),
    (TOOL + 'extras = ["a\\nRUN id"]\n', "not an extra's name"),
])
def test_hostile_settings_are_refused_before_anything_is_built(
    tmp_path: Path, pyproject: str, message: str
) -> None:
    project = write(tmp_path / "p", {"pyproject.toml": pyproject, "h.py": ""})
    proc = snakepacker("pack", str(project), "--python", "3.12")
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(err) == 1 and message in err[0], err
    assert "building" not in proc.stderr


def test_a_link_out_of_the_project_is_not_read_on_the_host(tmp_path: Path) -> None:
    """.python-version as a link to the packer's environment: refused unread, so no
    message can quote what it holds."""
    project = write(tmp_path / "p", {"requirements.txt": "\n", "app.py": ""})
    (project / ".python-version").symlink_to("/proc/self/environ")
    proc = snakepacker("pack", str(project), "--entrypoint", "python app.py", "--dockerfile",
                       env={"SNAKEPACKER_TEST_CANARY": "canary-value-123"})
    assert proc.returncode == 2 and "a link that leads out of the project" in proc.stderr
    assert "canary-value-123" not in proc.stderr + proc.stdout

"""One project's build code against the package cache the next project installs from.

Project A's setup.py (its metadata hook and its build run it) rewrites every cached
copy of six it can find. Project B, packed after it, installs the same six: its files
must be six's own, as the wheel's RECORD hashes them. When the cache was mounted
wherever the installer ran, with one cache for every project on an `all` image, B's
six carried A's line. (Packed with --no-cache, B got an empty cache of its own and
proved nothing: the engine gives a --no-cache build fresh cache mounts.) Now the cache
is mounted only where dependencies install, keyed by the dependency list."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.helpers import Docker, snakepacker, untag, write

SIX = "1.17.0"
MARK = "# poisoned by project A"
POISON = f"""\
import os, sys
from setuptools import setup

changed = []
for cache in ("/root/.cache/uv", "/root/.cache/pip"):
    for folder, _dirs, names in os.walk(cache):
        for name in names:
            if name == "six.py":
                path = os.path.join(folder, name)
                try:
                    with open(path, "a") as handle:
                        handle.write("\\n{MARK}\\n")
                    changed.append(path)
                except OSError as exc:
                    print("could not change", path, exc, file=sys.stderr)
print("project A changed:", changed, file=sys.stderr)
setup(name="poisoner", version="1", py_modules=["poisoner"], install_requires=["six=={SIX}"],
      entry_points={{"console_scripts": ["poisoner=poisoner:main"]}})
"""
# Run in B's image: each file six's RECORD names, and whether its bytes match the hash.
CHECK = (
    "import base64, hashlib, importlib.metadata as m, json, pathlib; "
    "d = m.distribution('six'); "
    "out = {}; "
    "[out.__setitem__(str(f), base64.urlsafe_b64encode(hashlib.sha256(pathlib.Path("
    "d.locate_file(f)).read_bytes()).digest()).rstrip(b'=').decode() == f.hash.value) "
    "for f in d.files if f.hash]; "
    "print(json.dumps(out))"
)


def test_a_project_cannot_change_what_the_next_one_installs(
    family_images: dict[str, str], docker: Docker, tmp_path: Path
) -> None:
    # A token of this run's own in both projects, so that no earlier run's build of
    # either stands in the engine's cache: A's build code must run, and B must install.
    token = uuid.uuid4().hex
    poisoner = write(tmp_path / "a", {"setup.py": POISON,
                                      "poisoner.py": f"def main(): pass  # {token}\n"})
    victim = write(tmp_path / "b", {"requirements.txt": f"six=={SIX}  # {token}\n",
                                    "app.py": ""})
    a_tag, b_tag = "snakepacker-test/poison-a:pytest", "snakepacker-test/poison-b:pytest"
    try:
        first = snakepacker("pack", str(poisoner), "-t", a_tag, "-v")
        assert first.returncode == 0, first.stderr[-3000:]
        said = [line for line in first.stderr.splitlines() if "project A changed:" in line]
        assert said, "project A's build code must have run"
        second = snakepacker("pack", str(victim), "-t", b_tag, "--entrypoint", "python app.py")
        assert second.returncode == 0, second.stderr[-3000:]
        checked = json.loads(docker.run(b_tag, ["python", "-c", CHECK],
                                        "--entrypoint", "").stdout)
        assert checked and all(checked.values()), checked
        six = docker.run(b_tag, ["python", "-c", "import six; print(open(six.__file__).read())"],
                         "--entrypoint", "").stdout
        assert MARK not in six
        # The check itself sees a changed file.
        changed = docker.run(b_tag, ["sh", "-c", f"python -c 'import six, sys; open(six.__file__, "
                                     f"\"a\").write(\"#\")' && python -c \"{CHECK}\""],
                             "--entrypoint", "", "--user", "0").stdout
        assert not all(json.loads(changed).values())
    finally:
        untag(docker, a_tag, b_tag)

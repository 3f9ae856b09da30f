"""`snakepacker pack` on a real engine: the demo project, a requirement string, bad input.

The ``family_images`` fixture (tests/conftest.py) builds or finds the family's CI slice;
the packs here reach PyPI through SNAKEPACKER_CA_CERTS, as `scripts/test` sets it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.helpers import DEMO, Docker, exists, snakepacker, untag, write

pytestmark = pytest.mark.engine

EMBED_EXT = Path(__file__).resolve().parents[1] / "data" / "embed-ext"
VENV = "/usr/share/python3/app"
NOBODY = "65534:65534"
PREFIX = "snakepacker-test/pack"


def pack(*argv: str):
    return snakepacker("pack", *argv)


@pytest.fixture(scope="module")
def demo(packed_demo: str) -> str:
    return packed_demo


def dpkg(docker: Docker, image: str) -> dict[str, tuple[str, str]]:
    """Installed package -> (its Pre-Depends and Depends, its Provides), in IMAGE."""
    out = docker.run(image, ["dpkg-query", "-W", "-f",
                             "${db:Status-Abbrev}\t${Package}\t${Pre-Depends}, ${Depends}"
                             "\t${Provides}\n"],
                     "--entrypoint", "", "--user", "0").stdout
    rows = {}
    for line in out.splitlines():
        status, name, deps, provides = line.split("\t")
        if status.startswith("ii"):
            rows[name] = (deps, provides)
    return rows


def closure(packages: set[str], installed: dict[str, tuple[str, str]]) -> set[str]:
    """PACKAGES and every installed package they depend on, through Provides too."""
    provided: dict[str, set[str]] = {}
    for name, row in installed.items():
        for virtual in row[1].split(","):
            if virtual.strip():
                provided.setdefault(virtual.split("(")[0].strip(), set()).add(name)
    seen: set[str] = set()
    todo = [p for p in packages if p in installed]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for clause in installed[name][0].split(","):
            for alternative in clause.split("|"):
                dep = alternative.split("(")[0].strip().split(":")[0]
                if not dep:
                    continue
                if dep in installed:
                    todo.append(dep)
                    break
                if dep in provided:
                    todo.extend(provided[dep])
                    break
    return seen


# -- the demo project ------------------------------------------------------------------


def test_demo_runs_read_only_as_non_root(docker: Docker, demo: str) -> None:
    for user in ([], ["--user", NOBODY]):
        out = docker.run(demo, [], "--read-only", "--tmpfs", "/tmp", *user).stdout
        assert "demo-app on Python 3.12" in out
        assert re.search(r"psycopg2 [\d.]+, libpq \d+", out)
        assert re.search(r"pillow [\d.]+, a 8x8 RGB image", out)
    uid = docker.run(demo, ["-u"], "--read-only", "--entrypoint", "id").stdout.strip()
    assert uid != "0"


def test_demo_has_no_compiler_and_no_pip(docker: Docker, demo: str) -> None:
    script = (
        "for tool in gcc cc c++ ld make pip pip3 uv; do command -v $tool; done; "
        f"ls {VENV}/bin {VENV}/lib/python3.12/site-packages; "
        "python -m pip --version 2>/dev/null; true"
    )
    out = docker.run(demo, ["-c", script], "--entrypoint", "sh").stdout.split()
    for banned in ("gcc", "cc", "make", "pip", "pip3", "uv", "setuptools", "wheel",
                   "_distutils_hack"):
        assert not [word for word in out if word.rsplit("/", 1)[-1] == banned], banned
    assert not [word for word in out if re.match(r"(pip|setuptools|wheel)-.*dist-info", word)]
    assert "demo_app" in out and "psycopg2" in out and "pillow.libs" in out


def test_demo_run_writes_no_pyc(docker: Docker, demo: str) -> None:
    # As root on a writable file system, so that Python could write any .pyc it misses.
    name = "snakepacker-test-pack-pyc"
    docker("rm", "--force", name, check=False)
    try:
        docker("run", "--name", name, "--user", "0", demo)
        docker("start", "--attach", name)
        changes = docker("diff", name).stdout.splitlines()
    finally:
        docker("rm", "--force", name, check=False)
    assert not [c for c in changes if c.endswith(".pyc") or "__pycache__" in c], changes


def test_demo_packages_are_exactly_base_interpreter_and_libdeps(
    docker: Docker, demo: str, family_images: dict[str, str]
) -> None:
    named = set(docker.run(demo, ["/usr/share/snakepacker/pack/apt-packages.txt"],
                           "--entrypoint", "cat").stdout.split())
    # An extension built from an sdist against a system library...
    assert "libpq5" in named
    # ...and a wheel's vendored libraries are no system dependency.
    assert not [p for p in named if p.startswith(("libjpeg", "libtiff", "libwebp"))]
    final = dpkg(docker, demo)
    parent = dpkg(docker, family_images["3.12"])
    assert set(parent) <= set(final)
    added = set(final) - set(parent)
    assert named <= set(final)
    assert added == closure(named, final) - set(parent)


def test_demo_metadata(docker: Docker, demo: str) -> None:
    config = docker("image", "inspect", "--format",
                    "{{json .Config.Labels}}|{{json .Config.Entrypoint}}|{{.Config.User}}"
                    "|{{.Config.WorkingDir}}", demo).stdout.strip()
    labels, entrypoint, user, workdir = config.split("|")
    assert '"org.opencontainers.image.version":"0.1.0"' in labels
    assert '"io.snakepacker.python":"3.12"' in labels
    assert '"org.opencontainers.image.source":"demo-app"' in labels
    assert entrypoint == '["dumb-init","--","demo-app"]'
    assert user == "10001:10001" and workdir == "/app"
    link = docker.run(demo, ["-f", "/usr/bin/demo-app"], "--entrypoint", "readlink").stdout
    assert link.strip() == f"{VENV}/bin/demo-app"
    # No CA material from the build secrets.
    out = docker.run(demo, ["-c", "ls /tmp /run/secrets 2>&1; find / -xdev -name "
                            "'snakepacker-ca.pem' 2>/dev/null; true"], "--entrypoint", "sh").stdout
    assert "snakepacker-ca" not in out


def layers(docker: Docker, image: str) -> list[str]:
    """IMAGE's layer digests, bottom first."""
    out = docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image).stdout
    return json.loads(out)


def test_code_change_makes_only_the_last_layer_new(docker: Docker, demo: str,
                                                  tmp_path: Path) -> None:
    project = tmp_path / "demo-app"
    shutil.copytree(DEMO, project)
    tag = f"{PREFIX}-demo-changed:pytest"
    untag(docker, tag)
    init = project / "src" / "demo_app" / "__init__.py"
    # A change no earlier run made, so that the engine's cache cannot hold its result.
    token = uuid.uuid4().hex[:8]
    init.write_text(init.read_text().replace('print(f"demo-app on',
                                             f'print(f"changed {token} demo-app on'))
    proc = pack(str(project), "-t", tag, "-v")
    assert proc.returncode == 0, proc.stderr[-4000:]
    # The step that installs the dependencies came from the cache; the project's did not.
    lines = proc.stderr.splitlines()
    deps_step = next(re.match(r"(#\d+) ", line)[1] for line in lines
                     if re.search(r"\[build \d+/", line) and "--mount=type=cache" in line)
    assert f"{deps_step} CACHED" in lines
    project_step = next(re.match(r"(#\d+) ", line)[1] for line in lines
                        if re.search(r"\[project \d+/\d+\] RUN", line))
    assert f"{project_step} CACHED" not in lines
    out = docker.run(tag, [], "--read-only", "--tmpfs", "/tmp").stdout
    assert f"changed {token} demo-app on Python 3.12" in out
    # The wheel was built by the backend the build stage installed, not in isolation.
    assert not re.search(ISOLATED, proc.stderr, re.M)
    assert direct_url(docker, tag, "demo_app")["url"].startswith(
        "file:///tmp/snakepacker-wheel/demo_app-0.1.0-")
    # Every layer but the last is the unchanged image's; the last holds the project's
    # files only (a few KB, not the venv's megabytes).
    old, new = layers(docker, demo), layers(docker, tag)
    assert len(new) == len(old) and new[:-1] == old[:-1] and new[-1] != old[-1]
    sizes = docker("history", "--format", "{{.Size}}", "--human=false", tag).stdout.split()
    last = next(int(size) for size in sizes if size != "0")  # history is newest first
    assert 0 < last < 200_000, sizes
    untag(docker, tag)


# What the project step prints (a line of the build's output, not of the echoed
# command) when the build stage's backend cannot build the wheel.
ISOLATED = r"^#\d+ [\d.]+ snakepacker: the build stage's backend did not build"


def direct_url(docker: Docker, image: str, dist: str) -> dict[str, object]:
    """What the installer recorded of where DIST's files came from (PEP 610)."""
    out = docker.run(image, ["-c", f"cat {VENV}/lib/python3.*/site-packages/"
                                   f"{dist}-*.dist-info/direct_url.json"],
                     "--entrypoint", "sh").stdout
    return json.loads(out)


def test_a_backend_that_asks_for_more_at_build_time_builds_in_isolation(
    docker: Docker, family_images: dict[str, str], tmp_path: Path
) -> None:
    """An in-tree backend whose get_requires_for_build_wheel names a requirement that
    [build-system] requires does not: the build stage's backend venv lacks it, and the
    project stage builds the wheel in an isolated environment instead, which has it."""
    folder = write(tmp_path / "hooked", {
        "pyproject.toml": """\
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "hooked_backend"
            backend-path = ["_backend"]
            [project]
            name = "hooked"
            version = "1.0"
            [project.scripts]
            hooked = "hooked:main"
            [tool.setuptools]
            py-modules = ["hooked"]
        """,
        "_backend/hooked_backend.py": """\
            from setuptools import build_meta
            from setuptools.build_meta import *  # noqa: F403


            def get_requires_for_build_wheel(config_settings=None):
                return ["six"]


            def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
                import six  # only the hook above asked for it
                assert six
                return build_meta.build_wheel(wheel_directory, config_settings,
                                              metadata_directory)
        """,
        # A token no earlier run had: the project step must run, not come from the cache.
        "hooked.py": f"def main():\n    print('hooked ok')  # {uuid.uuid4().hex}\n",
    })
    tag = f"{PREFIX}-hooked:pytest"
    untag(docker, tag)
    proc = pack(str(folder), "-t", tag, "-v")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert re.search(ISOLATED, proc.stderr, re.M), proc.stderr[-4000:]
    assert direct_url(docker, tag, "hooked")["url"] == "file:///usr/src/app"
    assert docker.run(tag, [], "--read-only").stdout.strip() == "hooked ok"
    untag(docker, tag)


def test_dependency_change_keeps_the_family_and_system_layers(
    docker: Docker, family_images: dict[str, str], tmp_path: Path
) -> None:
    def project(dependencies: list[str]) -> Path:
        return write(tmp_path / str(len(dependencies)), {
            "pyproject.toml": f"""\
                [project]
                name = "deps-change"
                version = "1.0"
                dependencies = {json.dumps(dependencies)}
                [project.scripts]
                deps-change = "deps_change:main"
            """,
            "deps_change.py": "def main():\n    import six\n    print(six.__name__)\n",
        })

    tags = [f"{PREFIX}-deps-change:{n}" for n in (1, 2)]
    untag(docker, *tags)
    for tag, deps in zip(tags, (["six"], ["six", "idna"]), strict=True):
        proc = pack(str(project(deps)), "-t", tag)
        assert proc.returncode == 0, proc.stderr[-4000:]
    parent = len(layers(docker, family_images["3.12"]))
    one, two = (layers(docker, tag) for tag in tags)
    assert len(one) == len(two) == parent + 4  # system packages, venv, workdir, project
    # Each family image adds one layer (base over the root, 3.12 over base), so that an
    # app has no more layers than uv's Docker recipe plus one (7 + 1).
    assert parent == len(layers(docker, family_images["base"])) + 1
    assert len(one) <= 8, len(one)
    # The family's layers and the system packages' step (the same, empty, list) are
    # shared; the dependencies' venv and the project's layer are new.
    assert one[:parent + 1] == two[:parent + 1]
    assert one[parent + 1] != two[parent + 1] and one[-1] != two[-1]
    assert docker.run(tags[1], [], "--read-only").stdout.strip() == "six"
    untag(docker, *tags)


def test_dockerfile_builds_with_plain_docker_build(
    docker: Docker, demo: str, tmp_path: Path
) -> None:
    proc = pack(str(DEMO), "--dockerfile")
    assert proc.returncode == 0, proc.stderr
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(proc.stdout)
    secrets = []
    certs = os.environ.get("SNAKEPACKER_CA_CERTS", "").split(os.pathsep)[0]
    if certs:
        secrets = ["--secret", f"id=ca-certs,src={certs}"]
    image = docker.build(str(DEMO), "-f", str(dockerfile), *secrets)
    try:
        out = docker.run(image, [], "--read-only", "--tmpfs", "/tmp", "--user", NOBODY).stdout
        assert "demo-app on Python 3.12" in out
    finally:
        docker("image", "rm", "--force", image, check=False)


# -- libpython.so: in `all`, and in an app image only when its venv links it ------------

LIB = "/opt/python/3.12/lib"


def test_the_demo_gets_no_libpython(docker: Docker, demo: str,
                                    family_images: dict[str, str]) -> None:
    """Nothing in the demo's venv links libpython: its image has none, as its X.Y
    image has none; `all` has it, for what builds and links against it."""
    for image in (demo, family_images["3.12"]):
        listed = docker.run(image, ["ls", "-A", LIB], "--entrypoint", "").stdout.split()
        assert listed == ["python3.12"], (image, listed)
    listed = docker.run(family_images["all"], ["ls", "-A", LIB]).stdout.split()
    assert {"libpython3.12.so.1.0", "libpython3.so"} <= set(listed)


def test_a_venv_linking_libpython_gets_the_build_images_and_runs(
        docker: Docker, family_images: dict[str, str], tmp_path: Path) -> None:
    """A C extension linked against libpython, built from source in the build stage:
    the final image gets the very files `all` has, at their path, and the module
    loads, read-only as nobody."""
    project = shutil.copytree(EMBED_EXT, tmp_path / "embed-ext")
    tag = f"{PREFIX}-embed:pytest"
    untag(docker, tag)
    try:
        proc = pack(str(project), "-t", tag, "--python", "3.12")
        assert proc.returncode == 0, proc.stderr[-4000:]
        out = docker.run(tag, [], "--read-only", "--tmpfs", "/tmp", "--user", NOBODY).stdout
        assert out.split() == ["linked:", "3.12.3", "_linked.cpython-312-x86_64-linux-gnu.so"]
        module = f"{VENV}/lib/python3.12/site-packages/embedext/_linked.cpython-312-" \
            "x86_64-linux-gnu.so"
        linked = docker.run(tag, ["ldd", module], "--entrypoint", "").stdout
        assert f"libpython3.12.so.1.0 => {LIB}/libpython3.12.so.1.0" in linked, linked
        digests = f"cd {LIB} && sha256sum libpython3.12.so.1.0 libpython3.so"
        copied = docker.run(tag, ["sh", "-c", digests], "--entrypoint", "").stdout
        assert copied == docker.sh(family_images["all"], digests).stdout
        listed = docker.run(tag, ["ls", "-A", LIB], "--entrypoint", "").stdout.split()
        assert listed == ["libpython3.12.so.1.0", "libpython3.so", "python3.12"]
    finally:
        untag(docker, tag)


# -- a requirement string ----------------------------------------------------------------


def test_requirement_string(docker: Docker, family_images: dict[str, str]) -> None:
    tag = f"{PREFIX}-black:pytest"
    untag(docker, tag)
    proc = pack("black==24.*", "-t", tag)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = docker.run(tag, ["--version"], "--read-only", "--tmpfs", "/tmp",
                     "--user", NOBODY).stdout
    assert out.startswith("black, 24.")
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag).stdout
    assert '"org.opencontainers.image.version":"24.' in labels
    untag(docker, tag)


def test_requirement_with_pip_on_distro_python(docker: Docker,
                                               family_images: dict[str, str]) -> None:
    tag = f"{PREFIX}-black310:pytest"
    untag(docker, tag)
    proc = pack("black==24.*", "-t", tag, "--installer", "pip", "--python", "3.10")
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = docker.run(tag, ["--version"], "--read-only", "--tmpfs", "/tmp").stdout
    assert "Python (CPython) 3.10" in out
    listing = docker.run(tag, ["-c", f"ls {VENV}/lib/python3.10/site-packages {VENV}/bin"],
                         "--entrypoint", "sh").stdout.split()
    assert not [w for w in listing if w.startswith(("pip", "setuptools", "wheel"))]
    untag(docker, tag)


def test_pillow_variant_and_extra_apt_packages(docker: Docker,
                                               family_images: dict[str, str]) -> None:
    """--pillow builds on all-pillow and runs on 3.12-pillow; --apt adds a package."""
    tag = f"{PREFIX}-pillow:pytest"
    untag(docker, tag)
    proc = pack("pillow", "-t", tag, "--pillow", "--apt", "netbase", "--python", "3.12",
                "--entrypoint", "python")
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        out = docker.run(tag, ["-c", "from PIL import Image; print(Image.new('L', (2, 3)).size)"],
                         "--read-only", "--tmpfs", "/tmp").stdout
        assert out.strip() == "(2, 3)"
        installed = dpkg(docker, tag)
        assert "netbase" in installed
        assert set(dpkg(docker, family_images["3.12-pillow"])) <= set(installed)
        parent = docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                        family_images["3.12-pillow"]).stdout.strip()[1:-1]
        layers = docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                        tag).stdout
        assert parent in layers  # built on 3.12-pillow's layers
    finally:
        untag(docker, tag)


# -- bad input: one clear line, exit != 0, nothing tagged ------------------------------------


def project(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(body))
    (folder / "app.py").write_text("def main():\n    pass\n")
    return folder


def assert_clean_failure(proc, docker: Docker, tag: str, message: str,
                         one_line: bool = True, code: int = 2) -> None:
    """PROC failed with exit code CODE (2: bad input), one error line saying MESSAGE
    (and nothing else when ONE_LINE), and TAG was not made."""
    assert proc.returncode == code, proc.stderr[-3000:]
    err = proc.stderr.strip().splitlines()
    errors = [line for line in err if line.startswith("snakepacker: error: ")]
    assert len(errors) == 1 and message in errors[0], proc.stderr[-3000:]
    if one_line:
        assert err == errors, proc.stderr
    assert not exists(docker, tag)


def test_bad_source(docker: Docker, family_images: dict[str, str], tmp_path: Path) -> None:
    tag = f"{PREFIX}-bad:pytest"
    untag(docker, tag)
    assert_clean_failure(pack(str(tmp_path / "nope"), "-t", tag), docker, tag,
                         "no such project directory")
    assert_clean_failure(pack(str(DEMO), "-t", tag, "--python", "3.99"), docker, tag,
                         "unknown Python minor '3.99'")
    old = project(tmp_path / "old", """\
        [project]
        name = "old"
        version = "1"
        requires-python = "<3.9"
        scripts = {old = "app:main"}
    """)
    assert_clean_failure(pack(str(old), "-t", tag), docker, tag,
                         "requires-python '<3.9' allows none of the family's Pythons")
    none = project(tmp_path / "none", """\
        [project]
        name = "none"
        version = "1"
    """)
    assert_clean_failure(pack(str(none), "-t", tag), docker, tag, "has no console script")
    # A program that is not a console script (uwsgi installs bin/uwsgi that way) is
    # offered by name: the build stage's probe found it in the venv's bin/ (a setup.py
    # is not run on the host, so only the probe can know).
    program = tmp_path / "program"
    program.mkdir()
    (program / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='program', version='1', py_modules=['app'], scripts=['serve-it'])\n")
    (program / "app.py").write_text("def main():\n    pass\n")
    (program / "serve-it").write_text("#!/bin/sh\necho serving\n")
    assert_clean_failure(pack(str(program), "-t", tag), docker, tag,
                         "has no console script, but its install put programs in the "
                         "venv's bin/: serve-it; pass one with --entrypoint",
                         one_line=False)


def test_a_pack_over_its_budgets_fails_in_one_line_and_tags_nothing(
    docker: Docker, family_images: dict[str, str]
) -> None:
    """The demo over all three budgets: exit 6, one line naming each measure with its
    value, its budget and what weighs most; a new tag is not made, and a tag that
    named another image still names it, as after a failed build. (The --env makes an
    image of its own: no other test's cleanup can remove it while it is measured.)"""
    tag, kept = f"{PREFIX}-budget:pytest", f"{PREFIX}-budget:kept"
    untag(docker, tag, kept)
    docker("tag", family_images["base"], kept)
    base_id = docker("image", "inspect", "--format", "{{.Id}}", kept).stdout.strip()
    left = None
    try:
        proc = pack(str(DEMO), "-t", tag, "-t", kept, "--env", "BUDGETS=1", "--max-size", "1MB",
                    "--max-compressed-size", "1MB", "--max-system-packages", "0")
        assert_clean_failure(proc, docker, tag, f"{tag} is over budget: size ",
                             one_line=False, code=6)
        line = next(x for x in proc.stderr.splitlines() if x.startswith("snakepacker: error"))
        assert proc.stderr.rstrip().endswith(line)  # the last line: nothing after it
        assert re.search(r"size [\d.]+ MB > max-size 1 MB \(biggest: .*venv [\d.]+ MB "
                         r"\[pillow [\d.]+ MB", line), line
        assert re.search(r"compressed size [\d.]+ MB > max-compressed-size 1 MB \(gzip of "
                         r"each layer; biggest: base [\d.]+ MB", line), line
        assert re.search(r"system packages \d+ > max-system-packages 0 \(added to "
                         r"\S+python:3.12; biggest: \S+ [\d.]+ MB", line), line
        left = re.search(r"the image \(([0-9a-f]{12})\) is left untagged", line)
        assert left, line
        assert docker("image", "inspect", "--format", "{{.Id}}", kept).stdout.strip() == base_id
        assert docker("image", "inspect", "--format", "{{.RepoTags}}", left[1]).stdout.strip() \
            == "[]"
    finally:
        untag(docker, tag, kept)
        if left:  # the image is this test's own (its --env): nothing else names it
            docker("image", "rm", left[1], check=False)


def test_dependency_that_fails_to_build(docker: Docker, family_images: dict[str, str],
                                        tmp_path: Path) -> None:
    tag = f"{PREFIX}-broken:pytest"
    untag(docker, tag)
    # pycairo is published for Linux as an sdist only, and needs cairo's headers, which
    # the build stage does not have. An older release than the newest, which another
    # test builds with the headers (--build-apt): its wheel would be in the cache mount.
    broken = project(tmp_path / "broken", """\
        [project]
        name = "broken"
        version = "1"
        dependencies = ["pycairo==1.26.1"]
        scripts = {broken = "app:main"}
    """)
    proc = pack(str(broken), "-t", tag)
    assert_clean_failure(proc, docker, tag, "building broken failed at [build ",
                         one_line=False, code=4)
    # The build stage's last step: the dependencies' install.
    assert re.search(r"failed at \[build (\d+)/\1\]", proc.stderr), proc.stderr[-2000:]
    tail = proc.stderr.split("snakepacker: error:", 1)[1]
    assert "No package 'cairo' found" in tail  # pkg-config's word, as the build said it

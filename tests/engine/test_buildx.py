"""`snakepacker pack` on Docker 26.1, whose `docker build` is buildx 0.13 (the way of
every Docker since 23), beside the machine's Docker 20.10 with BuildKit built into its
client: the `buildx_engine` fixture (tests/engine/conftest.py) starts it with
scripts/engine26 and loads the family images from the machine's engine.

Three packs: the example project pushed to a local registry, the same project
--distroless (its build stages cached by the first), and a small Pillow project with
--pillow; and a pack that fails, for what buildx's log says about it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from snakepacker.engine import skopeo
from tests.helpers import DEMO, MISSING_DEPENDENCY, Docker, exists, snakepacker, untag, write

pytestmark = pytest.mark.engine

PREFIX = "sptest-buildx"
NOBODY = "65534:65534"
RUN = ("--read-only", "--tmpfs", "/tmp")
# buildx's first line of a build's log; the client built into Docker 20.10 has none.
BUILDX_SAYS = '#0 building with "default" instance using docker driver'

PILLOW_APP = {
    "pyproject.toml": """\
        [project]
        name = "thumbs"
        version = "1.0"
        requires-python = ">=3.10"
        dependencies = ["pillow>=10"]

        [project.scripts]
        thumbs = "thumbs:main"
    """,
    "thumbs.py": """\
        import io
        from PIL import Image, ImageDraw, features

        def main():
            image = Image.new("RGB", (64, 48), "white")
            ImageDraw.Draw(image).ellipse((8, 8, 40, 40), fill="teal")
            image.thumbnail((16, 16))
            out = io.BytesIO()
            image.save(out, "JPEG")
            print(f"thumbs: {image.size[0]}x{image.size[1]}, jpeg {features.check('jpg')}, "
                  f"{out.getvalue()[:2].hex()}")
    """,
}


def pack(env: dict[str, str], *argv: str):
    return snakepacker("pack", *argv, env=env)


def check_demo_output(out: str) -> None:
    assert "demo-app on Python 3.12" in out
    assert re.search(r"psycopg2 [\d.]+, libpq \d+", out)
    assert re.search(r"pillow [\d.]+, a 8x8 RGB image, jpeg True", out)


@pytest.fixture(scope="module")
def pushed(buildx_engine: dict[str, str], buildx_docker: Docker,
           registry: str) -> Iterator[tuple[str, str]]:
    """The example project packed on the 26.1 engine and pushed: its tag and the
    digest pack reported for its list. -v: every line of the build's log is shown."""
    tag = f"{registry}/{PREFIX}/demo:1"
    proc = pack(buildx_engine, str(DEMO), "-t", tag, "--push", "-v")
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        assert BUILDX_SAYS in proc.stderr + proc.stdout
        # The summary's row: TAG PLATFORMS DIGEST MOVED.
        rows = [line.split(maxsplit=3) for line in proc.stdout.splitlines()]
        digests = [row[2] for row in rows if row[:2] == [tag, "linux/amd64"]]
        assert len(digests) == 1 and digests[0].startswith("sha256:"), proc.stdout
        yield tag, digests[0]
    finally:
        untag(buildx_docker, tag)


def test_pack_runs_read_only_as_non_root(buildx_docker: Docker,
                                         pushed: tuple[str, str]) -> None:
    tag, _ = pushed
    for user in ([], ["--user", NOBODY]):
        check_demo_output(buildx_docker.run(tag, [], *RUN, *user).stdout)
    uid = buildx_docker.run(tag, ["-u"], *RUN, "--entrypoint", "id").stdout.strip()
    assert uid != "0"


def test_push_put_the_built_image_in_the_registry(buildx_docker: Docker,
                                                  pushed: tuple[str, str]) -> None:
    """The registry serves the list pack reported, whose one entry is this machine's
    image, and that image's config is the very one the engine built."""
    tag, digest = pushed
    assert skopeo.remote_digest(tag) == digest
    entries = skopeo.list_entries(tag)
    assert [entry.platform for entry in entries] == ["linux/amd64"]
    repository = tag.rsplit(":", 1)[0]
    manifest = json.loads(skopeo.raw_manifest(f"{repository}@{entries[0].digest}"))
    image_id = buildx_docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    assert manifest["config"]["digest"] == image_id


def test_distroless(buildx_engine: dict[str, str], buildx_docker: Docker,
                    pushed: tuple[str, str]) -> None:
    """The same project --distroless: the same output, read-only, as the image's own
    non-root user, and no shell or package tools."""
    tag = f"{PREFIX}/demo:distroless"
    untag(buildx_docker, tag)
    proc = pack(buildx_engine, str(DEMO), "-t", tag, "--distroless")
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        out = buildx_docker.run(tag, [], *RUN).stdout
        check_demo_output(out)
        assert out == buildx_docker.run(pushed[0], [], *RUN).stdout
        probe = ("import json, os; print(json.dumps([os.getuid(), [p for p in ('/bin/sh', "
                 "'/usr/bin/apt-get', '/usr/bin/dpkg') if os.path.lexists(p)]]))")
        who = buildx_docker.run(tag, ["-c", probe], *RUN, "--entrypoint", "python").stdout
        assert json.loads(who) == [10001, []]
    finally:
        untag(buildx_docker, tag)


def test_pillow(buildx_engine: dict[str, str], buildx_docker: Docker,
                family_images: dict[str, str], tmp_path: Path) -> None:
    """--pillow: built on all-pillow, runs on 3.12-pillow's layers, read-only as nobody."""
    app = write(tmp_path / "thumbs", PILLOW_APP)
    tag = f"{PREFIX}/thumbs:pillow"
    untag(buildx_docker, tag)
    proc = pack(buildx_engine, str(app), "-t", tag, "--pillow", "--python", "3.12")
    assert proc.returncode == 0, proc.stderr[-4000:]
    try:
        out = buildx_docker.run(tag, [], *RUN, "--user", NOBODY).stdout
        assert out.strip() == "thumbs: 16x12, jpeg True, ffd8"
        layers = [buildx_docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                                ref).stdout for ref in (family_images["3.12-pillow"], tag)]
        assert layers[1].startswith(layers[0][:-2])  # built on 3.12-pillow's layers
    finally:
        untag(buildx_docker, tag)


def test_a_failed_pack_names_the_step_and_the_cause(
    buildx_engine: dict[str, str], buildx_docker: Docker, tmp_path: Path
) -> None:
    """What buildx's log says of a dependency the index does not have: the step, and
    uv's own words, in the error's first line."""
    tag = f"{PREFIX}/missing:pytest"
    folder = write(tmp_path / "missing", MISSING_DEPENDENCY)
    proc = pack(buildx_engine, str(folder), "-t", tag, "--python", "3.12")
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert not exists(buildx_docker, tag)
    message = proc.stderr.split("snakepacker: error: ", 1)[1]
    first = message.splitlines()[0]
    assert re.match(r"building missing failed at \[build (\d+)/\1\]: ", first), first
    assert "snakepacker-no-such-package-4711 was not found in the package registry" in first
    assert "--mount" not in message and "did not complete successfully" not in message

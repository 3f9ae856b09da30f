"""Podman as a second real engine: the family's Dockerfiles (cache, secret and
bind-from-stage mounts) build with podman, its images run, pack works on it, and a
failed or interrupted podman build reads and stops like a docker one.

The slice: base, 3.10 (distro route) and `all` narrowed to 3.10 (podman_family in
tests/conftest.py), then examples/demo-app packed on it.
"""

from __future__ import annotations

import io
import json
import re
import signal
import tarfile
import uuid
from pathlib import Path

import pytest

from snakepacker.engine import Engine
from snakepacker.errors import BuildError
from snakepacker.family.labels import DOCKERFILE_LABEL
from tests.helpers import (
    DEMO,
    NAMESPACE,
    Docker,
    children,
    gone_within,
    sleeping_build,
    snakepacker,
)

pytestmark = pytest.mark.engine

PODMAN = {"SNAKEPACKER_ENGINE": "podman", "SNAKEPACKER_NAMESPACE": NAMESPACE}
PREFIX = "sptest-podman"


def test_the_family_slice_builds_and_its_python_runs(
    podman: Docker, podman_family: dict[str, str]
) -> None:
    script = "import sys, locale; print(sys.version_info[:2], locale.getpreferredencoding())"
    out = podman.run(podman_family["3.10"], ["python3", "-c", script]).stdout
    assert out.strip() == "(3, 10) UTF-8"
    tools = podman.sh(podman_family["all"], "gcc --version >/dev/null && uv --version").stdout
    assert tools.startswith("uv ")


def test_short_names_in_from_find_the_images_podman_tagged(
    podman_engine: Engine, podman_family: dict[str, str]
) -> None:
    """`FROM snakepacker/python:base` resolved to the local image, not to a registry:
    3.10 stands on the very layers of the base podman tagged, and its label names that
    base by id."""
    base_id = podman_engine.image_id(podman_family["base"])
    assert base_id and base_id == podman_engine.image_id(f"ghcr.io/{NAMESPACE}/python/base")
    base_layers = podman_engine.inspect(podman_family["base"])["RootFS"]["Layers"]
    layers = podman_engine.inspect(podman_family["3.10"])["RootFS"]["Layers"]
    assert layers[:len(base_layers)] == base_layers and len(layers) > len(base_layers)
    labels = podman_engine.describe([podman_family["3.10"]])[podman_family["3.10"]].labels
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", labels[DOCKERFILE_LABEL])  # podman's --label
    assert labels["io.snakepacker.parent"] == base_id


@pytest.fixture(scope="module")
def podman_demo(podman_engine: Engine, podman_family: dict[str, str]) -> str:
    tag = f"{PREFIX}-demo:pytest"
    proc = snakepacker("pack", str(DEMO), "-t", tag, "--python", "3.10", "--minors", "3.10",
                       env=PODMAN)
    if proc.returncode != 0:
        pytest.fail(f"pack with podman failed:\n{proc.stderr[-4000:]}")
    report = proc.stdout
    assert "venv" in report and "total / floor" in report
    yield tag
    podman_engine.remove([tag])


def test_the_packed_demo_runs_read_only(podman: Docker, podman_demo: str) -> None:
    out = podman.run(podman_demo, [], "--read-only", "--tmpfs", "/tmp").stdout.splitlines()
    assert out[0].startswith("demo-app on Python 3.10")
    assert out[1].startswith("psycopg2 ")
    assert out[2].startswith("pillow ") and out[2].endswith("jpeg True")


def test_the_size_report_finds_the_venv_in_podman_history(
    podman_engine: Engine, podman_family: dict[str, str], podman_demo: str
) -> None:
    from snakepacker.pack.report import size_report

    report = size_report(podman_engine, podman_demo, base_ref=podman_family["base"],
                         parent_ref=podman_family["3.10"], venv="/usr/share/python3/app")
    assert report.venv > 10_000_000  # psycopg2 and pillow
    assert report.system_libraries > 0  # libpq5 and friends
    assert report.other < 1_000_000


def test_a_failed_podman_build_names_its_step_and_tail(
    podman_engine: Engine, podman_family: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {podman_family['base']}\nRUN echo podman-said-this && exit 7\n"
    )
    with pytest.raises(BuildError) as caught:
        podman_engine.build(tmp_path, label="broken")
    head, tail = str(caught.value).split("\n", 1)
    # Step 2 of 3: podman counts the label the engine adds (the Dockerfile's digest).
    assert head.startswith("building broken failed at [2/3] RUN echo podman-said-this")
    assert head.endswith("(exit code 7)")
    assert "podman-said-this" in tail


def test_interrupting_a_podman_build_stops_its_run_container(
    podman_engine: Engine, podman: Docker, podman_family: dict[str, str], tmp_path: Path
) -> None:
    def build_containers() -> list[str]:
        out = podman("ps", "--all", "--external", "--format", "json").stdout
        return [c["Id"] for c in json.loads(out or "[]")]

    before = build_containers()
    marker = f"sptest-podman-{uuid.uuid4().hex[:12]}"
    driver = sleeping_build(podman_engine, tmp_path, marker)
    clients = children(driver.pid)
    driver.send_signal(signal.SIGINT)
    out, _ = driver.communicate(timeout=60)
    assert driver.returncode == 130, out
    assert "children left: 0" in out  # stopped and waited for, not just orphaned
    assert gone_within(clients, marker, 30), "the RUN step still runs after the interrupt"
    assert build_containers() == before  # podman cleaned its working container up


def test_import_makes_an_image_from_a_tarball(podman_engine: Engine, tmp_path: Path) -> None:
    tarball = tmp_path / "root.tar"
    with tarfile.open(tarball, "w") as tar:
        data = b"imported by snakepacker's tests\n"
        info = tarfile.TarInfo("etc/sptest-note")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ref = f"{PREFIX}-import:pytest"
    try:
        image_id = podman_engine.import_tarball(tarball, ref, changes=['CMD ["/bin/true"]'])
        assert image_id.startswith("sha256:") and podman_engine.image_id(ref) == image_id
        assert podman_engine.inspect(ref)["Config"]["Cmd"] == ["/bin/true"]
        facts = podman_engine.describe([ref])[ref]
        assert (facts.id, facts.labels) == (image_id, {})  # no LABEL: none, not null
    finally:
        podman_engine.remove([ref])

"""The GitHub Action on a real engine: action.yml's own scripts, run as the runner runs
them, pack the example project and say where its digest and SBOM are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers import REPO, ActionRun, Docker, exists, untag

TAG = "snakepacker-test/action-demo:pytest"


def test_the_actions_steps_pack_the_example_and_write_its_digest_and_sbom(
    docker: Docker, family_images: dict[str, str], tmp_path: Path,
) -> None:
    temp = tmp_path / "runner-temp"
    work = temp / "snakepacker.work"
    work.mkdir(parents=True)
    sbom_file = tmp_path / "out" / "demo.cdx.json"
    untag(docker, TAG)
    # The install step would set up a venv from the lock; snakepacker under test stands
    # in for it (the same code, from this tree).
    run = ActionRun(
        inputs={"source": "examples/demo-app", "tags": f"{TAG}\n", "python": "3.12",
                "push": "false", "sbom-file": str(sbom_file)},
        workspace=REPO, temp=temp, env={"PYTHONPATH": str(REPO / "src")},
        preset={"install": {"python": sys.executable, "work": str(work)}},
    )
    try:
        outputs = run.run()
        # Every step that has a script ran, but QEMU (no foreign platform) and keyless
        # signing (not asked for).
        assert run.ran == ["prepare", "pack", "result"], run.ran
        assert run.outputs["prepare"] == {"foreign": "false"}
        # The family is here: nothing was pulled, pack's two parents were found.
        assert f"{family_images['all']} is here" in run.logs["prepare"], run.logs["prepare"]
        assert f"{family_images['3.12']} is here" in run.logs["prepare"]
        assert "pulling" not in run.logs["prepare"]
        assert "demo-app" in (work / "pack-output").read_text()

        image_id = docker("image", "inspect", "--format", "{{.Id}}", TAG).stdout.strip()
        assert image_id.startswith("sha256:")
        assert outputs["image"] == TAG
        assert outputs["image-id"] == outputs["digest"] == image_id
        assert outputs["digests"] == f"{TAG} {image_id}"
        assert outputs["sbom"] == str(sbom_file)
        sbom = json.loads(sbom_file.read_text())
        assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.6"
        names = {c["name"].lower() for c in sbom["components"]}
        assert {"demo-app", "psycopg2", "pillow"} <= names, sorted(names)
    finally:
        untag(docker, TAG)
    assert not exists(docker, TAG)

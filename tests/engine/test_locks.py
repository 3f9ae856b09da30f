"""Projects locked by poetry, pdm, pipenv and uv (tests/unit/test_locks.py locks them),
packed on the engine: what each image holds is exactly what its lock pins for the
image's Python, the extras of dependencies included, dev groups left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from snakepacker.pack import locks
from snakepacker.pack.project import inspect_source
from tests.helpers import Docker, snakepacker, untag
from tests.unit.test_locks import locked  # noqa: F401  (the fixture)

INSTALLED = ("import importlib.metadata as m, json; print(json.dumps(sorted("
             "[d.metadata['Name'], d.version] for d in m.distributions())))")


def expected(app: Path, extras: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    lock = inspect_source(str(app), extras).locked
    assert lock is not None
    return {(canonicalize_name(p.name), p.version or "")
            for p in locks.for_target(lock, locks.target_environments("3.12", "x86_64"))}


@pytest.mark.parametrize("app", ["poetry-app", "pdm-app", "pipenv-app", "pylock-app",
                                 "uv-app"])
def test_the_image_holds_what_the_lock_pins(locked: dict[str, Path],  # noqa: F811
                                            family_images: dict[str, str], docker: Docker,
                                            app: str) -> None:
    tag = f"snakepacker-test/locked-{app}:pytest"
    args = ["--entrypoint", "python app.py"] if app == "pipenv-app" else []
    proc = snakepacker("pack", str(locked[app]), "-t", tag, "--python", "3.12", *args)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = {(canonicalize_name(name), version) for name, version in json.loads(
            docker.run(tag, ["python", "-c", INSTALLED], "--entrypoint", "").stdout)}
        project = inspect_source(str(locked[app])).name
        found = {(name, version) for name, version in found if name != project}
        # uv.lock's own export is uv's; its pins are those of the pylock uv wrote.
        want = expected(locked["pylock-app" if app == "uv-app" else app])
        assert found == want, (found ^ want)
        assert ("idna", "3.4") in found and ("uvloop" in {n for n, _ in found})
    finally:
        untag(docker, tag)


def test_the_projects_extras_come_from_the_lock(locked: dict[str, Path],  # noqa: F811
                                                family_images: dict[str, str],
                                                docker: Docker) -> None:
    """`--extras compat` of a poetry project: the extra's locked six is installed, at
    the version the lock pins, beside everything else it pins."""
    tag = "snakepacker-test/locked-extras:pytest"
    proc = snakepacker("pack", str(locked["poetry-app"]), "-t", tag, "--python", "3.12",
                       "--extras", "compat")
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = {(canonicalize_name(name), version) for name, version in json.loads(
            docker.run(tag, ["python", "-c", INSTALLED], "--entrypoint", "").stdout)
            if canonicalize_name(name) != "poetry-app"}
        want = expected(locked["poetry-app"], ("compat",))
        assert found == want, (found ^ want)
        assert want - expected(locked["poetry-app"]) == {
            (n, v) for n, v in want if n == "six"} != set()
    finally:
        untag(docker, tag)

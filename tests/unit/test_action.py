"""The GitHub Action's steps without an engine: pack's arguments from the inputs, the
inputs it refuses, the family images it pulls (through a stand-in engine client), what
it reads back from pack's output, and the lock its install step takes."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from snakepacker.cli.main import build_parser
from snakepacker.platforms import PLATFORMS, get_platform, native_platform
from snakepacker.ship.shipping import Shipped, summary
from tests.helpers import REPO, ActionRun, action_spec, github_outputs

STEPS = REPO / "action" / "steps.py"
LOCK = REPO / "requirements" / "run.txt"
NATIVE = native_platform()
FOREIGN = next(p for p in PLATFORMS.values() if p != NATIVE)


def load_steps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("action_steps", STEPS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


steps = load_steps()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without snakepacker's settings or any INPUT_."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNAKEPACKER_", "INPUT_"))}
    return {**env, "PYTHONPATH": str(REPO / "src"), **extra}


def run_step(step: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(STEPS), step], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


# -- pack's arguments -------------------------------------------------------------------------


def test_pack_is_given_each_input_as_its_option(tmp_path: Path) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("key")
    env = clean_env(
        INPUT_SOURCE="examples/demo-app", INPUT_TAGS="ghcr.io/acme/app:1, ghcr.io/acme/app:2\n\n"
        "ghcr.io/acme/app:latest\n", INPUT_PLATFORMS="linux/amd64\nlinux/arm64",
        INPUT_PYTHON="3.12", INPUT_PUSH="true", INPUT_SIGN_KEY=str(key),
        INPUT_KEYLESS="false", INPUT_ARGS="--apt ffmpeg --env 'GREETING=hello world'",
    )
    proc = run_step("argv", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    argv = proc.stdout.split("\0")
    assert argv.pop() == ""  # every word ends with NUL
    assert argv == ["--tag", "ghcr.io/acme/app:1", "--tag", "ghcr.io/acme/app:2",
                    "--tag", "ghcr.io/acme/app:latest", "--platform", "linux/amd64,linux/arm64",
                    "--python", "3.12", "--push", "--sign", str(key),
                    "--apt", "ffmpeg", "--env", "GREETING=hello world",
                    "--", "examples/demo-app"]
    args = build_parser().parse_args(["pack", *argv])
    assert args.source == "examples/demo-app" and args.push
    assert args.tag == ["ghcr.io/acme/app:1", "ghcr.io/acme/app:2", "ghcr.io/acme/app:latest"]


def test_the_defaults_pack_the_workspace_for_the_runners_platform() -> None:
    proc = run_step("argv", clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\0") == ["--", ".", ""]


def test_a_source_that_begins_with_a_dash_is_still_the_source() -> None:
    proc = run_step("argv", clean_env(INPUT_SOURCE="--help"))
    argv = proc.stdout.split("\0")[:-1]
    assert build_parser().parse_args(["pack", *argv]).source == "--help"


@pytest.mark.parametrize(("inputs", "said"), [
    ({"INPUT_PUSH": "yes"}, "push: 'yes' is neither true nor false"),
    ({"INPUT_KEYLESS": "true"}, "set push: true"),
    ({"INPUT_PUSH": "true", "INPUT_KEYLESS": "true", "INPUT_SIGN_KEY": "k"}, "choose one"),
    ({"INPUT_PUSH": "true", "INPUT_SIGN_KEY": "/nonexistent/cosign.key"}, "no key file"),
    ({"INPUT_ARGS": "--push"}, "--push has an input of its own (push)"),
    ({"INPUT_ARGS": "-t app:1"}, "-t has an input of its own (tags)"),
    ({"INPUT_ARGS": "--platform=linux/arm64"}, "(platforms)"),
    ({"INPUT_ARGS": "--dockerfile"}, "the action builds"),
    ({"INPUT_ARGS": "--env 'A=b"}, "No closing quotation"),
    ({"INPUT_FAMILY": "build"}, "family: 'build' is not one of pull, present"),
])
def test_inputs_the_action_refuses_are_one_error_annotation(inputs: dict[str, str],
                                                            said: str) -> None:
    for step in ("argv", "prepare"):
        proc = run_step(step, clean_env(GITHUB_OUTPUT=os.devnull, **inputs))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("::error title=snakepacker::")
        assert said in lines[0], lines[0]


# -- prepare: QEMU and the family -----------------------------------------------------------

FAKE_DOCKER = """#!/bin/sh
# A stand-in engine client: it logs each call, and knows the images named in $PRESENT.
echo "$*" >> "$LOG"
case "$1 $2" in
    "image inspect") grep -qxF -- "$5" "$PRESENT" && echo sha256:0 ;;
    "image rm") grep -vxF -- "$3" "$PRESENT" > "$PRESENT.new"; mv "$PRESENT.new" "$PRESENT" ;;
    pull*) echo "$4" >> "$PRESENT" ;;
    tag*) echo "$3" >> "$PRESENT" ;;
    *) exit 9 ;;
esac
"""


def fake_engine(tmp_path: Path, present: list[str]) -> dict[str, str]:
    client = tmp_path / "docker"
    client.write_text(FAKE_DOCKER)
    client.chmod(0o755)
    (tmp_path / "present").write_text("".join(f"{ref}\n" for ref in present))
    (tmp_path / "log").write_text("")
    return {"SNAKEPACKER_DOCKER": str(client), "PRESENT": str(tmp_path / "present"),
            "LOG": str(tmp_path / "log")}


def calls(tmp_path: Path) -> list[str]:
    return [line for line in (tmp_path / "log").read_text().splitlines()
            if not line.startswith("image inspect")]


def test_prepare_pulls_the_missing_family_images_and_names_them_as_pack_builds_from(
    tmp_path: Path,
) -> None:
    output = tmp_path / "output"
    env = clean_env(**fake_engine(tmp_path, ["snakepacker/python:all"]),
                    GITHUB_OUTPUT=str(output), INPUT_SOURCE="examples/demo-app",
                    INPUT_PLATFORMS=f"{NATIVE.name},{FOREIGN.name}")
    proc = run_step("prepare", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert github_outputs(output) == {"foreign": "true"}
    suffix = FOREIGN.suffix
    assert calls(tmp_path) == [
        # all is here for this machine; 3.12 (the project's python) is not.
        f"pull --platform {FOREIGN.name} ghcr.io/snakepacker/python:all",
        f"tag ghcr.io/snakepacker/python:all snakepacker/python:all-{suffix}",
        # the published name keeps naming this machine's image
        "tag snakepacker/python:all ghcr.io/snakepacker/python:all",
        f"pull --platform {NATIVE.name} ghcr.io/snakepacker/python:3.12",
        "tag ghcr.io/snakepacker/python:3.12 snakepacker/python:3.12",
        f"pull --platform {FOREIGN.name} ghcr.io/snakepacker/python:3.12",
        f"tag ghcr.io/snakepacker/python:3.12 snakepacker/python:3.12-{suffix}",
        "tag snakepacker/python:3.12 ghcr.io/snakepacker/python:3.12",
    ]
    assert "snakepacker/python:all is here" in proc.stdout


def test_prepare_reads_the_platforms_and_the_family_as_pack_does(tmp_path: Path) -> None:
    """The platform from the project's [tool.snakepacker], the namespace and registry
    from the environment, pillow from args: what pack would build FROM, and where."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "tiny"\nversion = "1"\nrequires-python = ">=3.11"\n'
        f'[tool.snakepacker]\npython = "3.11"\nplatform = ["{FOREIGN.name}"]\n')
    output = tmp_path / "output"
    env = clean_env(**fake_engine(tmp_path, []), GITHUB_OUTPUT=str(output),
                    INPUT_SOURCE=str(project), INPUT_ARGS="--pillow",
                    SNAKEPACKER_NAMESPACE="acme", SNAKEPACKER_REGISTRY="registry.example")
    proc = run_step("prepare", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert github_outputs(output) == {"foreign": "true"}
    suffix = FOREIGN.suffix
    assert calls(tmp_path) == [
        f"pull --platform {FOREIGN.name} registry.example/acme/python:all-pillow",
        f"tag registry.example/acme/python:all-pillow acme/python:all-pillow-{suffix}",
        "image rm registry.example/acme/python:all-pillow",
        f"pull --platform {FOREIGN.name} registry.example/acme/python:3.11-pillow",
        f"tag registry.example/acme/python:3.11-pillow acme/python:3.11-pillow-{suffix}",
        "image rm registry.example/acme/python:3.11-pillow",
    ]


def test_prepare_with_the_family_present_touches_no_engine(tmp_path: Path) -> None:
    output = tmp_path / "output"
    env = clean_env(**fake_engine(tmp_path, []), GITHUB_OUTPUT=str(output),
                    INPUT_SOURCE="examples/demo-app", INPUT_FAMILY="present")
    proc = run_step("prepare", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert github_outputs(output) == {"foreign": "false"}
    assert (tmp_path / "log").read_text() == ""


def test_qemu_is_set_up_only_for_a_foreign_platform(tmp_path: Path) -> None:
    (step,) = [s for s in action_spec()["runs"]["steps"] if s.get("id") == "qemu"]
    assert "qemu-user-static" in step["run"]
    run = ActionRun(inputs={}, workspace=REPO, temp=tmp_path, env={}, preset={})
    for foreign, expected in (("true", True), ("false", False)):
        run.outputs["prepare"] = {"foreign": foreign}
        assert run.condition(step["if"]) is expected


# -- after pack -------------------------------------------------------------------------------


def test_the_digests_are_read_from_the_table_pack_prints_after_a_push() -> None:
    table = summary([
        Shipped("ghcr.io/acme/app:1", ("linux/amd64", "linux/arm64"), "sha256:" + "a" * 64,
                ("ghcr.io/acme/app:1",)),
        Shipped("ghcr.io/acme/app:latest", ("linux/amd64", "linux/arm64"),
                "sha256:" + "b" * 64, ()),
    ])
    printed = "\n".join([
        "ghcr.io/acme/app:1 (linux/amd64): Python 3.12, entrypoint app",
        "  total  123.4 MB",
        *table,
    ]) + "\n"
    assert steps.pushed_digests(printed) == {"ghcr.io/acme/app:1": "sha256:" + "a" * 64,
                                            "ghcr.io/acme/app:latest": "sha256:" + "b" * 64}
    assert steps.BUILT.findall(printed) == [("ghcr.io/acme/app:1", "linux/amd64")]
    with pytest.raises(steps.ActionError, match="no table of digests"):
        steps.pushed_digests(printed.split("TAG")[0])


def test_a_foreign_platforms_image_has_the_suffixed_local_name() -> None:
    arm64 = get_platform("linux/arm64")
    amd64 = get_platform("linux/amd64")
    assert steps.local_ref("127.0.0.1:5000/app:1", arm64, amd64) == "127.0.0.1:5000/app:1-arm64"
    assert steps.local_ref("app:1", amd64, amd64) == "app:1"
    assert steps.local_ref("app", get_platform("linux/arm/v7"), amd64) == "app:latest-armv7"


def test_outputs_of_several_lines_get_a_delimiter(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    steps.write_outputs({"digest": "sha256:1", "digests": "a sha256:1\nb sha256:2"})
    assert github_outputs(output) == {"digest": "sha256:1", "digests": "a sha256:1\nb sha256:2"}
    assert re.search(r"^digests<<snakepacker_[0-9a-f]{32}$", output.read_text(), re.M)


# -- the install step and its lock ----------------------------------------------------------


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of the action's lock."""
    pins: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=\S)", LOCK.read_text()):
        match = re.match(r"([\w.-]+)==([^\s;\\]+)", entry)
        if match:
            pins[canonicalize_name(match[1])] = (match[2], re.findall(r"--hash=(\S+)", entry))
    return pins


def test_the_lock_pins_every_dependency_and_the_build_backend_with_hashes() -> None:
    pins = locked()
    assert pins and all(hashes and all(h.startswith("sha256:") for h in hashes)
                        for _, hashes in pins.values())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {LOCK.name}: run scripts/refresh-pins"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{name}=={pins[name][0]} does not satisfy {line}: run scripts/refresh-pins")


def test_the_install_step_takes_nothing_unpinned_from_the_index() -> None:
    (step,) = [s for s in action_spec()["runs"]["steps"] if s.get("id") == "install"]
    installs = [line for line in step["run"].splitlines() if " install " in line]
    assert len(installs) == 2
    lock, project = installs
    assert "--require-hashes" in lock and "requirements/run.txt" in lock
    assert "--no-index" in project and "--no-deps" in project
    assert '"$GITHUB_ACTION_PATH"' in project  # the action's own files, at its pinned commit


# -- keyless signing --------------------------------------------------------------------------


def test_keyless_signs_each_list_and_image_then_attests_each_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `keyless: true` covers is what --sign KEY covers: the pushed lists and their
    images signed, each image's SBOM and provenance attested, made from the local image
    it was pushed from (a foreign platform's has the suffixed name). cosign here is a
    stand-in that records how it was called."""
    from snakepacker.engine import skopeo
    from snakepacker.ship import shipping
    from snakepacker.ship.signing import Predicate

    digest = {name: "sha256:" + c * 64 for name, c in (("list", "a"), ("native", "b"),
                                                         ("foreign", "c"), ("latest", "d"))}
    entries = [skopeo.ListEntry(digest["native"], NATIVE.name, ""),
               skopeo.ListEntry(digest["foreign"], FOREIGN.name, "")]
    monkeypatch.setattr(skopeo, "list_entries", lambda ref: entries)
    monkeypatch.setattr(shipping, "image_predicates", lambda engine, fmt="cyclonedx": (
        lambda image: [Predicate("cyclonedx", f"sbom of {image}".encode()),
                       Predicate("slsaprovenance1", f"provenance of {image}".encode())]))
    monkeypatch.setattr("snakepacker.engine.find_engine", lambda name=None: object())
    log = tmp_path / "cosign.log"
    (tmp_path / "cosign").write_text(
        f"#!/bin/sh\nfor a in \"$@\"; do printf '%s ' \"$a\"; done >> {log}\n"
        f"echo >> {log}\n[ \"$1\" = sign ] || cat \"$7\" >> {log}; echo >> {log}\n")
    (tmp_path / "cosign").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("SNAKEPACKER_WORK", str(tmp_path))
    home = "ghcr.io/acme/app"
    monkeypatch.setenv("DIGESTS", f"{home}:1 {digest['list']}\n{home}:latest {digest['list']}\n")
    steps.sign_keyless()
    lines = [line.strip() for line in log.read_text().splitlines() if line.strip()]
    members = [f"{home}@{digest['native']}", f"{home}@{digest['foreign']}"]
    assert lines[0] == " ".join(["sign", "--yes", f"{home}@{digest['list']}", *members])
    foreign_image = f"{home}:1-{FOREIGN.suffix}"
    assert lines[1:] == [
        f"attest --yes --replace --type cyclonedx --predicate {tmp_path}/predicate.json "
        f"{members[0]}", f"sbom of {home}:1",
        f"attest --yes --replace --type slsaprovenance1 --predicate "
        f"{tmp_path}/predicate.json {members[0]}", f"provenance of {home}:1",
        f"attest --yes --replace --type cyclonedx --predicate {tmp_path}/predicate.json "
        f"{members[1]}", f"sbom of {foreign_image}",
        f"attest --yes --replace --type slsaprovenance1 --predicate "
        f"{tmp_path}/predicate.json {members[1]}", f"provenance of {foreign_image}"]
    monkeypatch.setenv("DIGESTS", "")
    with pytest.raises(steps.ActionError, match="nothing was pushed"):
        steps.sign_keyless()

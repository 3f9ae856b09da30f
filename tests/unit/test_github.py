"""The workflows, the GitHub Action and the README's CI examples: valid against their
schemas, without findings of actionlint or of zizmor's security audit, every script
clean under shellcheck, every action pinned by commit, every step output they read made
by an earlier step, and every snakepacker command they run one that parses.

actionlint runs as WebAssembly under node (requirements/actionlint: its Python package
only builds by downloading the binary, which a machine that reaches nothing but the
package registries cannot do). Compiled so, it cannot run shellcheck itself, nor read
the local action's metadata: both are checked below (shellcheck on the scripts as
actionlint runs it, the local action's inputs, the steps' outputs).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from snakepacker.cli.main import build_parser
from tests.helpers import ACTION, REPO, action_spec, tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
README = REPO / "README.md"
PLACEHOLDER_SHA = "<release-commit-sha>"
ANY_SHA = "0123456789abcdef0123456789abcdef01234567"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STEP_OUTPUT = re.compile(r"\bsteps\.([\w-]+)\.outputs\.")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), path
    return document


def step_lists(document: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """The steps of each job of a workflow, or the action's own."""
    if "runs" in document:
        yield document["runs"]["steps"]
    for job in document.get("jobs", {}).values():
        yield job.get("steps", [])


def readme_blocks(language: str, text: str | None = None) -> list[str]:
    """The README's code blocks in LANGUAGE, those in list items dedented."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```$", text or README.read_text(),
                       re.S | re.M)
    return [textwrap.dedent(block) for _, block in found]


def readme_workflow(tmp_path: Path) -> Path:
    """The README's GitHub workflow, where a workflow lives, the action's commit filled
    in as the reader would."""
    (block,) = [b for b in readme_blocks("yaml") if b.startswith("name:")]
    path = tmp_path / ".github" / "workflows" / "image.yml"
    path.parent.mkdir(parents=True)
    path.write_text(block.replace(PLACEHOLDER_SHA, ANY_SHA))
    return path


# -- schemas and zizmor -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: str(p.relative_to(REPO)))
def test_the_workflows_and_the_action_are_valid(path: Path) -> None:
    schema = "vendor.github-actions" if path == ACTION else "vendor.github-workflows"
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_in_the_workflows_the_action_and_the_readme(
    tmp_path: Path,
) -> None:
    assert len(WORKFLOWS) >= 2  # images.yml and action.yml at least
    example = readme_workflow(tmp_path)
    proc = subprocess.run([tool("zizmor"), "--offline", *map(str, WORKFLOWS), str(ACTION),
                           str(example)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint over PATHS: a line per finding, exit status 1 when there is any."""
    script = Path(sys.executable).parent.parent / "actionlint" / "lint.cjs"
    if not script.exists():
        pytest.fail("actionlint is not installed (scripts/setup installs the test tools)")
    return subprocess.run([tool("node"), str(script), *map(str, paths)],
                          capture_output=True, text=True)


def test_actionlint_finds_nothing_in_the_workflows_and_the_readmes(tmp_path: Path) -> None:
    proc = actionlint(*WORKFLOWS, readme_workflow(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_reports_what_it_finds(tmp_path: Path) -> None:
    """The linter runs and says so: an issue's title pasted into a script, an output
    read from a step that does not exist, an unknown runner."""
    bad = tmp_path / "bad.yml"
    bad.write_text(textwrap.dedent("""\
        on: issues
        jobs:
          greet:
            runs-on: ubuntu-24.04-nonexistent
            steps:
              - run: echo "${{ github.event.issue.title }}"
              - run: echo "${{ steps.missing.outputs.digest }}"
        """))
    proc = actionlint(bad)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    kinds = re.findall(r"\[([\w-]+)\]$", proc.stdout, re.M)
    assert '"github.event.issue.title" is potentially untrusted' in proc.stdout
    assert "runner-label" in kinds and kinds.count("expression") >= 2, proc.stdout


def test_the_readmes_gitlab_job_is_valid(tmp_path: Path) -> None:
    (block,) = [b for b in readme_blocks("yaml") if ".snakepacker:" in b]
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(block)
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
                           str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- scripts ----------------------------------------------------------------------------------


def shellcheck(script: str, shell: str, what: str) -> None:
    # As actionlint does: an expression becomes a plain word before shellcheck reads it.
    text = EXPRESSION.sub("EXPRESSION", script)
    proc = subprocess.run([tool("shellcheck"), f"--shell={shell}", "-"], input=text,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"{what}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: str(p.relative_to(REPO)))
def test_every_script_passes_shellcheck_and_pastes_in_no_expression(path: Path) -> None:
    scripts = 0
    for steps in step_lists(load(path)):
        for step in steps:
            if "run" not in step:
                continue
            assert step.get("shell", "bash") == "bash", step
            # Inputs, outputs and event data reach scripts through env:, never as text
            # of the script itself (that is script injection).
            assert "${{" not in step["run"], step["run"]
            shellcheck(step["run"], "bash", f"{path.name}: {step.get('name', step['run'])}")
            scripts += 1
    assert scripts


def test_the_readmes_shell_examples_pass_shellcheck() -> None:
    blocks = readme_blocks("sh")
    ci = [b for b in blocks if "docker pull" in b]
    assert len(ci) >= 2  # the family's pulls, and the whole pipeline
    for block in ci:
        shellcheck(block, "sh", block.splitlines()[0])
    gitlab = load_gitlab()
    for name, job in gitlab.items():
        lines = [*job.get("before_script", []), *job.get("script", [])]
        if lines:
            shellcheck("\n".join(lines), "sh", f".gitlab-ci.yml {name}")


def load_gitlab() -> dict[str, Any]:
    (block,) = [b for b in readme_blocks("yaml") if ".snakepacker:" in b]
    document = yaml.safe_load(block)
    assert isinstance(document, dict)
    return document


def snakepacker_commands(text: str) -> list[list[str]]:
    """Each `snakepacker ...` command line of TEXT, up to a pipe or a redirection."""
    found = []
    for line in text.splitlines():
        line = line.strip().removeprefix("- ").strip()
        if line.startswith("snakepacker "):
            words = shlex.split(re.split(r" [|>] | [|>]$", line)[0])
            found.append(words[1:])
    return found


def test_the_readmes_ci_examples_run_snakepacker_commands_that_parse() -> None:
    section = README.read_text().split("## Packing in CI", 1)[1].split("\n## ", 1)[0]
    blocks = readme_blocks("sh", section) + readme_blocks("yaml", section)
    commands = [c for block in blocks for c in snakepacker_commands(block)]
    assert {c[0] for c in commands} >= {"pack", "sbom", "verify"}
    assert any("--push" in c for c in commands) and any("--sign" in c for c in commands)
    parser = build_parser()
    for command in commands:
        parser.parse_args(command)  # SystemExit(2) on an unknown option or command


# -- pins and references ----------------------------------------------------------------------


def texts_with_uses() -> dict[str, str]:
    """The workflows, the action and the README (its examples' commit filled in)."""
    texts = {path.name: path.read_text() for path in [*WORKFLOWS, ACTION]}
    texts["README.md"] = README.read_text().replace(PLACEHOLDER_SHA, ANY_SHA)
    return texts


def test_every_action_used_is_pinned_by_commit_with_its_version() -> None:
    for name, text in texts_with_uses().items():
        for ref, rest in USES_LINE.findall(text):
            if ref.startswith("./"):
                continue
            assert PINNED.match(ref), f"{name}: {ref} is not pinned by a full commit"
            assert re.match(r"\s+#\s*v\d", rest), f"{name}: {ref} names no version"


def test_the_same_action_has_the_same_pin_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for text in texts_with_uses().values():
        for ref, _ in USES_LINE.findall(text):
            if not ref.startswith("./"):
                name, _, sha = ref.partition("@")
                pins.setdefault(name, set()).add(sha)
    assert {name: shas for name, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: str(p.relative_to(REPO)))
def test_each_step_output_read_is_an_earlier_steps(path: Path) -> None:
    document = load(path)
    for steps in step_lists(document):
        earlier: set[str] = set()
        for step in steps:
            for used in STEP_OUTPUT.findall(yaml.safe_dump(step)):
                assert used in earlier, f"{path.name}: steps.{used} is not an earlier step"
            if "id" in step:
                assert step["id"] not in earlier, f"{path.name}: two steps {step['id']}"
                earlier.add(step["id"])
    if "runs" in document:  # the action's outputs come from its steps
        ids = {step.get("id") for step in document["runs"]["steps"]}
        for output in document["outputs"].values():
            assert set(STEP_OUTPUT.findall(output["value"])) <= ids


def action_uses(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for steps in step_lists(document):
        for step in steps:
            uses = str(step.get("uses", ""))
            if uses == "./" or uses.startswith("snakepacker/snakepacker@"):
                yield step


def test_the_action_is_given_only_inputs_it_has(tmp_path: Path) -> None:
    inputs = action_spec()["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    used = 0
    for path in [*WORKFLOWS, readme_workflow(tmp_path)]:
        for step in action_uses(load(path)):
            given = set(step.get("with", {}))
            assert given <= set(inputs), f"{path.name}: {given - set(inputs)}"
            assert required <= given
            used += 1
    assert used >= 3  # this repository's workflow and the README's two jobs


def test_the_readme_documents_every_input_and_output_of_the_action() -> None:
    spec = action_spec()
    section = README.read_text().split("### GitHub Actions", 1)[1].split("\n### ", 1)[0]
    table = set(re.findall(r"^\| `([\w-]+)` \|", section, re.MULTILINE))
    assert table == set(spec["inputs"])
    for output in spec["outputs"]:
        assert f"`{output}`" in section, output

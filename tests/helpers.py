"""What tests call: the real command line, and the engine's own client for checking images.

Kept apart from conftest.py (which holds fixtures only) so test modules import them
plainly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snakepacker.engine import Engine

# The slice CI builds: base, 3.10 (distro route), 3.12 (source route, 3.12.3 from the
# package archive's pool), 3.13t (free-threaded, source route, 3.13.5 from the pool),
# all narrowed to those three, all-pillow and 3.12-pillow.
DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-app"  # the quick start's
FAMILY_ARGS = ("--minors", "3.10,3.12,3.13t", "--cpython", "3.12.3", "--cpython", "3.13.5")
FAMILY_TAGS = ("3.10", "3.12", "3.13t", "3.12-pillow")
# Engine tests build and use the family under this namespace. A developer whose engine
# is shared with other checkouts sets SNAKEPACKER_TEST_NAMESPACE, so that each tree's
# tests use its own tags (the bootstrapped root is shared, under the default namespace).
NAMESPACE = os.environ.get("SNAKEPACKER_TEST_NAMESPACE", "snakepacker")
# How a rendered step that installs packages starts: the mirrors' login secret mounted.
APT_RUN = "RUN --mount=type=secret,id=apt-auth,target=/run/secrets/apt-auth \\\n    apt-install"
ROOT_NAMESPACE = "snakepacker"
# The two-platform chain built by conftest's `chain` (bookworm's roots, base, 3.11 and a
# narrowed all on amd64 and on arm64 under qemu), under a namespace of its own.
SHIP_PLATFORMS = "linux/amd64,linux/arm64"
SHIP_NS = f"{NAMESPACE}-ship"
SHIP_SLICE = ("--distro", "bookworm", "--minors", "3.11", "--namespace", SHIP_NS)
SHIP_TAGS = ("base", "3.11", "all")

# A project whose one dependency no index has: its install fails, and the error says why.
MISSING_DEPENDENCY = {
    "pyproject.toml": """\
        [project]
        name = "missing"
        version = "1"
        dependencies = ["snakepacker-no-such-package-4711"]
        scripts = {missing = "app:main"}
    """,
    "app.py": "def main():\n    pass\n",
}


def snakepacker(
    *args: str, check: bool = False, timeout: float = 3600,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would; ENV is added to this process's."""
    return subprocess.run(
        [sys.executable, "-m", "snakepacker", *args],
        capture_output=True, text=True, timeout=timeout, check=check,
        env={**os.environ, **(env or {})},
    )


def key_pair(cosign_tool: str, folder: Path) -> Path:
    """A new cosign key pair in FOLDER (no password); the private key's path (the public
    one is beside it, cosign.pub)."""
    folder.mkdir(parents=True)
    subprocess.run([cosign_tool, "generate-key-pair"], cwd=folder, check=True,
                   env={**os.environ, "COSIGN_PASSWORD": ""}, capture_output=True)
    return folder / "cosign.key"


def tool(name: str) -> str:
    """A test tool's path: on PATH, or beside this interpreter (the venv's). A missing one
    fails the test (scripts/setup installs them): nothing may pass for want of a tool."""
    import pytest

    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed (scripts/setup installs the test tools)")
    return found


def cli_with(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command line with ENV added to the environment."""
    return snakepacker(*args, env=env)


@dataclass(frozen=True)
class Docker:
    """The engine's client (docker or podman), for looking at what snakepacker made."""

    engine: Engine

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 900) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.engine.client, *args], env=self.engine.env, capture_output=True,
            text=True, input=input, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{self.engine.name} {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def run(self, image: str, command: Sequence[str], *options: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """`run --rm`, through the engine so it adds what runs need on this machine."""
        proc = self.engine.run(["--rm", *options, image, *command], check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{self.engine.name} run {image} {' '.join(command)} failed "
                f"({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def sh(self, image: str, script: str, *options: str,
           check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(image, ["sh", "-c", script], *options, check=check)

    def build(self, context: str, *options: str) -> str:
        """Build a test image; return its id."""
        proc = self("build", "-q", *options, context, timeout=1800)
        return proc.stdout.strip().splitlines()[-1]


# A snakepacker process that only builds CONTEXT on engine NAME and reports how it ended.
_BUILD_DRIVER = """
import os
import signal
import sys
from pathlib import Path
from snakepacker.engine import find_engine
from tests.helpers import children

def terminated(signum, frame):  # what the command line does with SIGTERM and SIGHUP
    raise SystemExit(128 + signum)

signal.signal(signal.SIGTERM, terminated)
# A background job's shell may have set SIGINT to be ignored; Ctrl-C must reach us.
signal.signal(signal.SIGINT, signal.default_int_handler)
engine = find_engine(sys.argv[1])
try:
    engine.build(Path(sys.argv[2]), label="sleeper", progress=print, verbose=True)
except BaseException as exc:
    # The build child must be stopped and waited for before the exception gets here.
    print("children left:", len(children(os.getpid())), flush=True)
    sys.exit(130 if isinstance(exc, KeyboardInterrupt) else exc.code)
"""


def sleeping_build(engine: Engine, context: Path, marker: str) -> subprocess.Popen[str]:
    """Start a build whose RUN step prints MARKER and sleeps; return once that RUN runs."""
    (context / "Dockerfile").write_text(
        f"FROM {ROOT_NAMESPACE}/root:jammy\nRUN echo {marker} && sleep 900\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUILD_DRIVER, engine.name, str(context)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 300
    while not processes_running(marker):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the sleeping build never ran:\n{proc.communicate()[0]}")
        time.sleep(0.2)
    return proc


def processes_running(marker: str) -> list[int]:
    """Pids of processes whose command line holds MARKER (ours only: it is unique)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


def children(pid: int) -> list[int]:
    """Pids whose parent is PID."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def gone_within(pids: list[int], marker: str, seconds: float) -> bool:
    """Wait until no pid in PIDS is alive and no process holds MARKER; False at the limit."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        if not alive and not processes_running(marker):
            return True
        time.sleep(0.2)
    return False


def write(folder: Path, files: dict[str, str]) -> Path:
    """FILES (relative path -> text, dedented) written under FOLDER; FOLDER back."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def untag(docker: Docker, *tags: str) -> None:
    docker("image", "rm", "--force", *tags, check=False)


def exists(docker: Docker, tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def build_record_in(dockerfile: str) -> dict[str, object]:
    """The io.snakepacker.build record a rendered Dockerfile's LABEL step writes."""
    raw = re.search(r'io\.snakepacker\.build="(.*)" \\', dockerfile)
    assert raw, dockerfile
    return json.loads(raw.group(1).replace('\\"', '"'))


class Port:
    """A loopback port that is reserved (bound) but refuses connections until opened."""

    def __init__(self, family: int = socket.AF_INET) -> None:
        self.host = "127.0.0.1" if family == socket.AF_INET else "::1"
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((self.host, 0))
        self.port: int = self.sock.getsockname()[1]
        self.timer: threading.Timer | None = None

    @property
    def endpoint(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def open(self) -> None:
        self.sock.listen(16)

    def open_after(self, delay: float) -> None:
        self.timer = threading.Timer(delay, self.open)
        self.timer.start()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        self.sock.close()


def wait_until(check: Callable[[], object], what: str, tries: int = 300) -> None:
    """Poll check every 0.1 s; a guard against hangs, not a measure of time."""
    for _ in range(tries):
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


# -- the GitHub Action, run as the runner runs a composite action's steps ----------------

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "action.yml"
# How the runner starts a step's script for each `shell:` (the script's file last).
RUNNER_SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_COMPARISON = re.compile(r"\s*([\w.-]+)\s*(==|!=)\s*'([^']*)'\s*")


def action_spec() -> dict[str, Any]:
    import yaml  # PyYAML comes with snakepacker's dependencies

    spec = yaml.safe_load(ACTION.read_text())
    assert isinstance(spec, dict)
    return spec


def github_outputs(path: Path) -> dict[str, str]:
    """The NAME=VALUE and NAME<<DELIMITER lines a step wrote to its $GITHUB_OUTPUT."""
    found: dict[str, str] = {}
    lines = iter(path.read_text().splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for more in lines:
                if more == delimiter:
                    break
                value.append(more)
            else:
                raise AssertionError(f"{name}: no closing {delimiter} in {path}")
            found[name] = "\n".join(value)
        elif line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


@dataclass
class ActionRun:
    """One run of action.yml's steps with INPUTS (the action's defaults for the rest):
    each `run:` step's script is written to a file and run with the runner's command
    line for its shell, in WORKSPACE, with the step's `env:` (expressions over inputs
    and earlier steps' outputs resolved as the runner would), GITHUB_OUTPUT pointing at
    a file of its own and this process's environment plus ENV beneath. Steps that `uses:`
    another action are not run (the machine's own tools stand in for them), nor those
    in PRESET, whose outputs are given instead. `if:` conditions of the forms the action
    uses (A == 'x', A != 'x', joined by || or &&) are evaluated."""

    inputs: Mapping[str, str]
    workspace: Path
    temp: Path
    env: Mapping[str, str]
    preset: Mapping[str, Mapping[str, str]]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spec = action_spec()
        self.spec = spec
        known = spec["inputs"]
        unknown = set(self.inputs) - set(known)
        assert not unknown, f"not inputs of the action: {unknown}"
        self.values = {name: str(self.inputs.get(name, known[name].get("default", "")))
                       for name in known}
        self.outputs.update({k: dict(v) for k, v in self.preset.items()})

    def resolve(self, reference: str) -> str:
        parts = reference.split(".")
        if len(parts) == 2 and parts[0] == "inputs":
            return self.values[parts[1]]
        if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        raise AssertionError(f"an expression the test runner does not know: {reference}")

    def substitute(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: self.resolve(m.group(1)), text)

    def condition(self, expression: str) -> bool:
        for alternative in expression.split("||"):
            results = []
            for comparison in alternative.split("&&"):
                match = _COMPARISON.fullmatch(comparison)
                assert match, f"a condition the test runner does not know: {expression}"
                left, operator, right = match.groups()
                results.append((self.resolve(left) == right) == (operator == "=="))
            if all(results):
                return True
        return False

    def run(self, until: str | None = None) -> dict[str, str]:
        """Run the steps in order (up to and including UNTIL); return the action's
        outputs. A step that fails raises, with its output."""
        for number, step in enumerate(self.spec["runs"]["steps"]):
            name = step.get("id", f"step{number}")
            if name in self.preset or "uses" in step:
                pass
            elif "if" not in step or self.condition(step["if"]):
                self._run_step(name, step)
            if name == until:
                break
        return {name: self.substitute(output["value"])
                for name, output in self.spec.get("outputs", {}).items()}

    def _run_step(self, name: str, step: Mapping[str, Any]) -> None:
        shell = RUNNER_SHELLS[step["shell"]]
        assert "${{" not in step["run"], f"step {name}: an expression in a script"
        script = self.temp / f"step-{name}.sh"
        script.write_text(step["run"])
        output = self.temp / f"output-{name}"
        output.write_text("")
        env = {**os.environ, **self.env, "GITHUB_OUTPUT": str(output),
               "GITHUB_ACTION_PATH": str(REPO), "GITHUB_WORKSPACE": str(self.workspace),
               "RUNNER_TEMP": str(self.temp)}
        env.update({k: self.substitute(str(v)) for k, v in step.get("env", {}).items()})
        proc = subprocess.run([*shell, str(script)], cwd=self.workspace, env=env,
                              capture_output=True, text=True, timeout=3600)
        self.logs[name] = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise AssertionError(f"step {name} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
        self.ran.append(name)
        self.outputs[name] = github_outputs(output)

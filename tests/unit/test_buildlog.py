"""buildlog on logs captured from real failed builds (tests/data/buildlogs/).

Each log is BuildKit's plain progress output of a build on the family's images: uv and
pip asked for a package the index does not have, uv building an sdist whose C code
includes a missing header, apt-install asked for a package the archive does not have.
(The archive's and registry's host names were replaced in the captured text.) Those
come from Docker 20.10's client; the buildx-* ones from buildx 0.13 on Docker 26.1
(scripts/engine26), which frames a failure differently: a RUN that printed its cause
and exited 1 (buildx-step), one whose program runc could not start (buildx-runc), and
one the engine failed before the command ran (buildx-engine: a USER with no passwd
entry), whose cause is only in the engine's own ERROR line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snakepacker.engine import buildlog

LOGS = Path(__file__).resolve().parents[1] / "data" / "buildlogs"


def log(name: str) -> list[str]:
    return (LOGS / f"{name}.log").read_text().splitlines()


@pytest.mark.parametrize(("name", "step", "cause"), [
    ("uv-missing", "build 3/3", "Because snakepacker-no-such-package-4711 was not found in "
     "the package registry and you require snakepacker-no-such-package-4711"),
    ("pip-missing", "build 3/3", "ERROR: Could not find a version that satisfies the "
     "requirement snakepacker-no-such-package-4711 (from versions: none)"),
    ("compile", "build 4/4", "brokenext.c:2:10: fatal error: snakepacker_missing_header.h: "
     "No such file or directory"),
    ("apt-missing", "2/2", "E: Unable to locate package libsnakepacker-no-such-package0"),
    ("buildx-step", "3/3", "error: the thing is missing"),
    ("buildx-runc", "2/2", "runc run failed: unable to start container process: exec: "
     '"/no/such/program": stat /no/such/program: no such file or directory'),
])
def test_headline_names_the_step_and_the_cause(name: str, step: str, cause: str) -> None:
    headline, _ = buildlog.summarize(buildlog.read(log(name)))
    assert headline.startswith(f"failed at [{step}]")
    assert f": {cause}" in headline
    assert "exit code" in headline
    assert "--mount" not in headline


@pytest.mark.parametrize("name", ["uv-missing", "pip-missing", "compile", "apt-missing",
                                  "buildx-step", "buildx-runc", "buildx-engine"])
def test_tail_is_the_output_without_the_command_text(name: str) -> None:
    lines = log(name)
    _, tail = buildlog.summarize(buildlog.read(lines))
    assert tail or name == "buildx-engine"  # that step printed nothing
    assert not any("executor failed" in line or "did not complete" in line or "--mount" in line
                   or "sha256:" in line or line.startswith(("#", ">", "------")) for line in tail)
    # The RUN text is in the log three times; the whole message has it never.
    message = buildlog.failure_message("demo", buildlog.read(lines), 1)
    assert "/run/secrets/ca-certs" not in message
    assert len(message) < 4000


def test_compiler_error_wins_over_the_installer_summary() -> None:
    failure = buildlog.read(log("compile"))
    assert failure.cause is not None and "fatal error" in failure.cause
    assert any("Failed to build" in line for line in failure.output)
    assert failure.exit_code == 1


def test_message_starts_with_label_step_and_cause() -> None:
    message = buildlog.failure_message("demo-app", buildlog.read(log("uv-missing")), 1)
    first = message.splitlines()[0]
    assert first.startswith("building demo-app failed at [build 3/3]: Because ")
    assert first.endswith("(exit code 1)")


def test_a_short_instruction_is_named_a_long_one_is_not() -> None:
    assert buildlog.read(log("apt-missing")).instruction == \
        "RUN apt-install libsnakepacker-no-such-package0"
    assert buildlog.read(log("uv-missing")).instruction is None


def test_an_engine_failure_is_named_though_the_command_printed_nothing() -> None:
    """The step never ran its command: the engine's reason, which BuildKit puts after
    its quoting of the command in the ERROR line, is the headline's cause (with -v or
    without), and the exit code is the client's."""
    failure = buildlog.read(log("buildx-engine"))
    assert failure.output == () and failure.exit_code is None
    assert failure.cause == "unable to find user nosuchuser: no matching entries in passwd file"
    first = buildlog.failure_message("demo", failure, 1).splitlines()[0]
    assert first == ("building demo failed at [2/2] RUN true: unable to find user nosuchuser: "
                     "no matching entries in passwd file (exit code 1)")


def test_the_engines_reason_wins_over_what_the_command_printed() -> None:
    """A network the engine could not set up (as a daemon without its bridge says), on a
    step that printed a line first: the reason is the engine's, not that line."""
    lines = [line.replace("unable to find user nosuchuser: no matching entries in passwd file",
                          "network bridge not found") for line in log("buildx-engine")]
    at = lines.index("#5 [2/2] RUN true")
    lines.insert(at + 1, "#5 0.101 starting")
    headline, tail = buildlog.summarize(buildlog.read(lines))
    assert headline == "failed at [2/2] RUN true: network bridge not found"
    assert tail == ["starting"]


@pytest.mark.parametrize("text", [
    'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
    "executor failed running [/bin/sh -c exit 3]: exit code: 3",
])
def test_an_exit_code_alone_is_no_reason_of_the_engines(text: str) -> None:
    assert buildlog.engine_reason(text) is None


@pytest.mark.parametrize(("text", "reason"), [
    ('process "/bin/sh -c echo \"a: b\"" did not complete successfully: network bridge not '
     "found", "network bridge not found"),
    ("executor failed running [/bin/sh -c true]: mount callback failed", "mount callback failed"),
    ('failed to calculate checksum of ref x::y: "/nope": not found',
     'failed to calculate checksum of ref x::y: "/nope": not found'),
    ("secret nope: not found", "secret nope: not found"),
])
def test_the_engines_reason_is_read_past_the_command(text: str, reason: str) -> None:
    assert buildlog.engine_reason(text) == reason


def test_without_a_step_buildxs_last_line_gives_the_cause() -> None:
    lines = ["#0 building with \"default\" instance using docker driver", "",
             "#1 [internal] load build definition from Dockerfile",
             "#1 transferring dockerfile: 2B done", "#1 DONE 0.0s",
             "ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file "
             "or directory"]
    headline, _ = buildlog.summarize(buildlog.read(lines))
    assert headline == ("failed: failed to read dockerfile: open Dockerfile: no such file or "
                        "directory")


def test_without_a_step_the_last_error_line_is_the_cause() -> None:
    lines = ["#1 [internal] load build definition from Dockerfile",
             "error: failed to solve: failed to read dockerfile: open Dockerfile: no such file"]
    headline, tail = buildlog.summarize(buildlog.read(lines))
    assert headline.startswith("failed: ")
    assert "no such file" in headline
    assert tail[-1].endswith("no such file")


def test_cause_picks_uvs_last_cause_line() -> None:
    out = ["error: Failed to build `x`", "  cause: The build backend returned an error",
           "  cause: Call to `build_wheel` failed (exit status: 1)"]
    assert buildlog.cause(out) == "Call to `build_wheel` failed (exit status: 1)"


def test_a_build_files_error_line_is_a_cause_too() -> None:
    out = ["error: Failed to build `pycairo==1.26.0`",
           "  cause: Call to `mesonpy.build_wheel` failed (exit status: 1)",
           "      ../cairo/meson.build:31:12: ERROR: Dependency \"cairo\" not found, tried "
           "pkgconfig"]
    assert buildlog.cause(out) is not None and buildlog.cause(out).startswith(
        "../cairo/meson.build:31:12: ERROR: Dependency \"cairo\" not found")


def test_find_libdeps_error_not_its_notes() -> None:
    out = ["find-libdeps: note: libGL.so.1 also needed by cv2.abi3.so, which failed before",
           "find-libdeps: error: /venv/cv2/cv2.abi3.so needs libXext.so.6, which is found "
           "nowhere"]
    assert buildlog.cause(out) == out[1]

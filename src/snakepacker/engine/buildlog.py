"""What a failed build says, read off the engine's build log: BuildKit's or buildah's.

A failed step's RUN line is long (cache and secret mounts, the network preamble), and
BuildKit repeats it three times around the step's output: as the step's header, in
its ERROR line and in the summary box at the end. None of that is the cause. This
module finds the failing step, keeps only what its command printed, and picks the one
line that says why it failed, as the installer (or compiler, or apt) said it:

- a compiler's ``file.c:3:10: fatal error: ...`` (the first one: later ones follow
  from it);
- the end of uv's chain of causes (``╰─▶``, or ``cause:`` off a terminal:
  ``Because x was not found in the package registry ...``), pip's ``ERROR: ...``,
  apt's ``E: ...``,
  find-libdeps's own line;
- else the last line that speaks of an error, else the last line printed;
- but when the engine failed the step itself (a user with no passwd entry, a network
  it could not set up), its own reason, which BuildKit gives only after quoting the
  command in its ERROR line: the command printed nothing about it.

Docker 20.10's client (BuildKit built in) and buildx (Docker 23 and later) write the
same ``#N`` lines; they differ in how the ERROR line wraps the reason and in what
follows the failure (buildx adds the Dockerfile's lines and ``ERROR: failed to solve:``).

buildah (podman) frames a step differently: a ``[1/2] STEP 3/5: RUN ...`` header, the
step's output as it was printed, and a last ``Error: building at STEP ...`` line. Both
logs are read into the same Failure, so both engines' errors name the step and the
cause alike.

Pure functions over lines of text: the engine passes what it captured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# `#12 [build 3/5] RUN ...`: a step's header. `#12 0.431 text`: its output.
_HEADER = re.compile(r"^#(?P<id>\d+) \[(?P<step>[^\]]+)\] (?P<what>.*)$")
_OUTPUT = re.compile(r"^#(?P<id>\d+) (?:\d+\.\d+ )?(?P<text>.*)$")
_ERROR = re.compile(r"^#(?P<id>\d+) ERROR: (?P<text>.*)$")
_EXIT = re.compile(r"exit code: (\d+)")
# How BuildKit wraps the reason a RUN step failed, in its ERROR line and its last line:
# `process "/bin/sh -c ..." did not complete successfully: REASON` (buildx, BuildKit
# 0.11 and later) or `executor failed running [/bin/sh -c ...]: REASON` (the BuildKit of
# Docker 20.10). REASON is `exit code: N` when the command ran and failed; anything
# else is the engine's own (a user, a network or a mount it could not set up), and the
# command printed nothing about it.
_WRAPPED = re.compile(r'^(?:process ".*" did not complete successfully'
                      r"|executor failed running \[.*\]): (?P<reason>.*)$")
_EXIT_ONLY = re.compile(r"^exit code: \d+$")
# The client's last line: `ERROR: failed to solve: ...` (buildx), `error: failed to
# solve: ...` (Docker 20.10).
_SOLVE = re.compile(r"^(?:ERROR|error): failed to solve: (?P<text>.*)$")
# buildah: `[1/2] STEP 3/5: RUN ...` (no stage part in a one-stage build), and its last
# line `Error: building at STEP "RUN ...": ... exit status 1`.
BUILDAH_STEP = re.compile(r"^(?:\[(?P<stage>\d+/\d+)\] )?STEP (?P<step>\d+/\d+): (?P<what>.*)$")
_BUILDAH_ERROR = re.compile(r"^Error: (?:building at STEP|error building at STEP)")
_BUILDAH_EXIT = re.compile(r"exit status (\d+)")

# The causes, most telling first; within one kind the first line printed wins, except
# where noted.
# file:line[:col]: error: ... (a compiler; meson's build files say ERROR).
_COMPILER = re.compile(r"^\S+:\d+(?::\d+)?: (?:fatal )?error: ", re.IGNORECASE)
# uv ends its chain of causes with `╰─▶ ` on a terminal, `cause: ` otherwise.
_UV_CAUSE = re.compile(r"^\s*(?:╰─▶|cause:) ")
_CROSS = "\u00d7"  # uv's and pip's mark before an error's summary
_INSTALLER = re.compile(rf"^(?:ERROR: |error: |E: |\s*{_CROSS} )")
_TOOL = re.compile(
    r"^[a-z][a-z0-9-]*: (?!note:)(?:error: )?.*(?:not found|found nowhere|failed|cannot)")
_ANY_ERROR = re.compile(r"error|failed|not found|no such", re.IGNORECASE)
# pip's and BuildKit's own wrap-up lines: they say that something failed, not what.
_NOISE = re.compile(
    r"^(?:ERROR: executor failed|error: subprocess-exited-with-error|"
    r"error: metadata-generation-failed|ERROR: Failed building wheel|"
    r"ERROR: Could not build wheels|note: This error originates|"
    r"error: failed to solve|\u00d7 Encountered error while generating package metadata|"
    r"\u00d7\s*$)"
)

TAIL_LINES = 25
# A step's instruction is named only when it is this short: a pack step's RUN, with
# its mounts and network preamble, is hundreds of characters that say nothing.
INSTRUCTION_WIDTH = 72
WIDTH = 240


@dataclass(frozen=True)
class Failure:
    step: str | None  # "build 3/5", or None when no step header was found
    instruction: str | None  # the step's instruction when it is short enough to read
    cause: str | None  # the line that says why, as the failing command printed it
    exit_code: int | None
    output: tuple[str, ...]  # what the failing step printed, without BuildKit's framing


def _shorten(text: str, width: int = WIDTH) -> str:
    text = text.strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _failing_id(lines: Sequence[str]) -> str | None:
    for line in reversed(lines):
        if match := _ERROR.match(line):
            return match["id"]
    return None


def step_output(lines: Sequence[str], step_id: str) -> list[str]:
    """What step STEP_ID printed: its output lines without the `#N time` prefix, its
    header, its ERROR line or BuildKit's summary box."""
    out = []
    for line in lines:
        if _HEADER.match(line) or _ERROR.match(line):
            continue
        match = _OUTPUT.match(line)
        if match and match["id"] == step_id:
            text = match["text"]
            if text in ("DONE", "CANCELED", "CACHED") or re.fullmatch(
                    r"DONE \d+\.\d+s|sha256:[0-9a-f]{64}", text):
                continue
            out.append(text.rstrip())
    return [line for line in out if line.strip()]


def cause(output: Sequence[str]) -> str | None:
    """The line of OUTPUT that says why the step failed."""
    useful = [line for line in output if not _NOISE.match(line.strip())]
    for line in useful:
        if _COMPILER.match(line.strip()):
            return line.strip()
    uv = [line for line in useful if _UV_CAUSE.match(line)]
    if uv:
        return _UV_CAUSE.sub("", uv[-1]).strip()
    for line in useful:
        if _INSTALLER.match(line) or _TOOL.match(line.strip()):
            return line.strip().lstrip(_CROSS + " ").strip()
    for line in reversed(useful):
        if _ANY_ERROR.search(line):
            return line.strip()
    return useful[-1].strip() if useful else None


def read(lines: Sequence[str]) -> Failure:
    """The failing step of a BuildKit log, and why it failed."""
    step_id = _failing_id(lines)
    if step_id is None:
        # No step failed (the Dockerfile or the context did): BuildKit's own last
        # error line is the cause.
        output = [line for line in lines if line.strip()]
        last = next((line.strip() for line in reversed(output) if _ANY_ERROR.search(line)),
                    output[-1].strip() if output else None)
        if last is not None and (solve := _SOLVE.match(last)):
            last = engine_reason(solve["text"]) or last
        return Failure(None, None, last, None, tuple(output))
    step = instruction = None
    for line in lines:
        if (match := _HEADER.match(line)) and match["id"] == step_id:
            step = match["step"]
            what = " ".join(match["what"].split())
            instruction = what if len(what) <= INSTRUCTION_WIDTH else None
            break
    code = None
    for line in lines:
        match = _ERROR.match(line)
        exit_match = _EXIT.search(match["text"]) if match and match["id"] == step_id else None
        if exit_match:
            code = int(exit_match.group(1))
    output = step_output(lines, step_id)
    # When the engine failed the step (no exit code of the command's), its reason is
    # the cause, whatever the command printed before; else the command's output says why.
    why = _engine_cause(lines, step_id) or cause(output)
    return Failure(step, instruction, why, code, tuple(output))


def engine_reason(text: str) -> str | None:
    """What an ERROR text of BuildKit's says failed the step, past its quoting of the
    command; None when it says only that the command exited with a code."""
    match = _WRAPPED.match(text.strip())
    reason = (match["reason"] if match else text).strip()
    return None if not reason or _EXIT_ONLY.match(reason) else reason


def _engine_cause(lines: Sequence[str], step_id: str) -> str | None:
    """The engine's reason for failing STEP_ID, from its ERROR line."""
    for line in lines:
        match = _ERROR.match(line)
        if match and match["id"] == step_id:
            return engine_reason(match["text"])
    return None


def read_buildah(lines: Sequence[str]) -> Failure:
    """The failing step of a buildah (podman) log, and why it failed: the last STEP
    header and what followed it, up to buildah's own error line."""
    start = max((i for i, line in enumerate(lines) if BUILDAH_STEP.match(line)), default=-1)
    step = instruction = None
    if start >= 0:
        match = BUILDAH_STEP.match(lines[start])
        assert match is not None
        step = f"{match['stage']} {match['step']}" if match["stage"] else match["step"]
        what = " ".join(match["what"].split())
        instruction = what if len(what) <= INSTRUCTION_WIDTH else None
    after = lines[start + 1:] if start >= 0 else list(lines)
    output = [line.rstrip() for line in after
              if line.strip() and not _BUILDAH_ERROR.match(line)]
    code = None
    for line in after:
        if _BUILDAH_ERROR.match(line) and (found := _BUILDAH_EXIT.search(line)):
            code = int(found.group(1))
    why = cause(output)
    if why is None:
        why = next((line.strip() for line in reversed(after) if _BUILDAH_ERROR.match(line)),
                   None)
    return Failure(step, instruction, why, code, tuple(output))


def summarize(failure: Failure) -> tuple[str, list[str]]:
    """(headline, tail): where and why the build failed in one line ("failed at
    [build 3/5]: CAUSE"), then the last lines the failing step printed, none of them
    the step's command text."""
    headline = f"failed at [{failure.step}]" if failure.step else "failed"
    if failure.instruction:
        headline += f" {failure.instruction}"
    if failure.cause:
        headline += f": {_shorten(failure.cause)}"
    if failure.exit_code is not None:
        headline += f" (exit code {failure.exit_code})"
    tail = [_shorten(line, 160) for line in failure.output[-TAIL_LINES:]]
    return headline, tail


def failure_message(label: str, failure: Failure, code: int) -> str:
    """The BuildError text: `building LABEL failed at [STEP]: CAUSE`, then the tail."""
    headline, tail = summarize(failure)
    if "(exit code" not in headline:
        headline += f" (exit code {code})"
    return f"building {label} {headline}\n" + "\n".join("    " + line for line in tail)

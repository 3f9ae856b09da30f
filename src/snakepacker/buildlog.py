"""What a failed build says, read off BuildKit's plain progress log.

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
- else the last line that speaks of an error, else the last line printed.

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
    """The failing step of a build log, and why it failed."""
    step_id = _failing_id(lines)
    if step_id is None:
        # No step failed (the Dockerfile or the context did): BuildKit's own last
        # error line is the cause.
        output = [line for line in lines if line.strip()]
        last = next((line.strip() for line in reversed(output) if _ANY_ERROR.search(line)),
                    output[-1].strip() if output else None)
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
    return Failure(step, instruction, cause(output), code, tuple(output))


def summarize(lines: Sequence[str]) -> tuple[str, list[str]]:
    """(headline, tail): where and why the build failed in one line ("failed at
    [build 3/5]: CAUSE"), then the last lines the failing step printed, none of them
    the step's command text."""
    failure = read(lines)
    headline = f"failed at [{failure.step}]" if failure.step else "failed"
    if failure.instruction:
        headline += f" {failure.instruction}"
    if failure.cause:
        headline += f": {_shorten(failure.cause)}"
    if failure.exit_code is not None:
        headline += f" (exit code {failure.exit_code})"
    tail = [_shorten(line, 160) for line in failure.output[-TAIL_LINES:]]
    return headline, tail


def failure_message(label: str, lines: Sequence[str], code: int) -> str:
    """The BuildError text: `building LABEL failed at [STEP]: CAUSE`, then the tail."""
    headline, tail = summarize(lines)
    if "(exit code" not in headline:
        headline += f" (exit code {code})"
    return f"building {label} {headline}\n" + "\n".join("    " + line for line in tail)

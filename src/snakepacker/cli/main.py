"""The `snakepacker` command line: one module per command, each with its parser and its
handler (``configure`` and ``run``); this one puts them together and runs one.

Every failure the user can act on is one line on stderr and an exit code (2 usage,
3 engine, 4 build, 5 download, 6 a packed image over one of its budgets). Ctrl-C,
SIGTERM and SIGHUP become one exception (snakepacker.stopping), so every `with` on the
way out runs: build secrets and temporary directories are removed and the engine's
build is stopped whatever ends the command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from snakepacker import __version__, redact, stopping
from snakepacker.cli import (
    bootstrap,
    images_build,
    images_diff,
    images_dockerfile,
    images_list,
    images_matrix,
    images_merge,
    images_push,
    pack,
    sbom,
    verify,
)
from snakepacker.errors import SnakepackerError

# `snakepacker images ACTION`, in the order --help lists them.
IMAGES_COMMANDS = (images_list, images_dockerfile, images_build, images_matrix, images_merge,
                   images_diff, images_push)
# The other commands, after `images`.
COMMANDS = (sbom, verify, bootstrap, pack)


class Redacting(io.TextIOBase):
    """A text stream that writes through another with every known secret masked
    (snakepacker.redact): what the command prints, its engines' lines included."""

    def __init__(self, stream: TextIO):
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact.text(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; option help wrapped without breaking names at hyphens."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """argparse, with bad usage as one line and exit code 2, and our help layout."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"snakepacker: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="snakepacker",
        description="Pack Python applications into compact container images, "
                    "and build the family of images they stand on.",
    )
    parser.add_argument("--version", action="version", version=f"snakepacker {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=Parser)
    images = commands.add_parser("images", help="list, render and build the image family")
    actions = images.add_subparsers(dest="images_command", metavar="ACTION", required=True,
                                    parser_class=Parser)
    for command in IMAGES_COMMANDS:
        command.configure(actions)
    for command in COMMANDS:
        command.configure(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    redact.register_environment()
    with contextlib.redirect_stdout(Redacting(sys.stdout)), \
            contextlib.redirect_stderr(Redacting(sys.stderr)):
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    # The first tempfile call picks the temporary directory by creating and removing a
    # probe file in it; a signal raised between the two would leave that file behind
    # (seen: an empty 8-character file in TMPDIR). Pick it before the handlers go in.
    tempfile.gettempdir()
    restore = stopping.install()
    try:
        return args.run(args)
    except SnakepackerError as exc:
        first, *rest = str(exc).splitlines() or [""]
        print(f"snakepacker: error: {first}", file=sys.stderr)
        for line in rest:
            print(line, file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, stopping.Stopped) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        if signum == signal.SIGINT:
            print("snakepacker: interrupted", file=sys.stderr)
        else:
            print(f"snakepacker: stopped by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(main())

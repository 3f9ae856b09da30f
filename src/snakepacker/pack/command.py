"""The `pack` subcommand's arguments and entry point."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "pack", help="pack a project or a requirement into a compact image"
    )
    parser.add_argument("source", help="a project directory or a requirement string")
    return parser


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("pack is not implemented yet")

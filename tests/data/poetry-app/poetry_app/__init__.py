"""Prints the versions it runs with, so a test can compare them with poetry.lock."""

from importlib.metadata import version


def main() -> None:
    for name in ("attrs", "idna"):
        print(name, version(name))

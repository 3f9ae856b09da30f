"""Prints what the linked extension module answers."""


def main() -> None:
    from embedext import _linked

    print("linked:", _linked.version().split()[0], _linked.__file__.rsplit("/", 1)[-1])

"""Fibonacci numbers computed by the package's Rust library."""

import ctypes
import pathlib

_LIB = ctypes.CDLL(str(next(pathlib.Path(__file__).parent.glob("_native*.so"))))
_LIB.rustfib_fib.argtypes = [ctypes.c_uint64]
_LIB.rustfib_fib.restype = ctypes.c_uint64


def fib(n: int) -> int:
    return _LIB.rustfib_fib(n)


def main() -> None:
    print(f"fib(90) = {fib(90)} from {pathlib.Path(_LIB._name).name}")

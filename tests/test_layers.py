"""The house plan: every import points down the layers, never up.

family data → templating → pack's plan → orchestration (engine, render, build, push,
packing) → options table and command line. A module may import its own layer or the
ones below it; a test keeps it so, since one lazy import up is how cycles start.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "snakepacker"

# The first matching prefix decides a module's layer.
LAYERS: tuple[tuple[str, int], ...] = (
    ("snakepacker.errors", 0),
    ("snakepacker.cachedir", 0),
    ("snakepacker.family", 0),
    ("snakepacker.data", 0),
    ("snakepacker.tools", 0),
    ("snakepacker.platforms", 0),
    ("snakepacker.templating", 1),
    ("snakepacker.pack.report", 3),
    ("snakepacker.pack", 2),
    ("snakepacker.options", 4),
    ("snakepacker.cli", 4),
    ("snakepacker.__main__", 4),
    ("snakepacker", 3),  # everything else orchestrates: engine, render, build, packing …
)


def layer(module: str) -> int:
    for prefix, number in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return number
    raise AssertionError(f"no layer for {module}")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names
                         if (SRC.parent / node.module.replace(".", "/") / a.name).exists()
                         or (SRC.parent / f"{node.module.replace('.', '/')}/{a.name}.py").exists())
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name.split(".")[0] == "snakepacker"} - {"snakepacker"}


def test_every_import_points_down() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        for target in imports(path):
            if layer(target) > layer(here):
                wrong.append(f"{here} (layer {layer(here)}) imports {target} "
                             f"(layer {layer(target)})")
    assert wrong == []

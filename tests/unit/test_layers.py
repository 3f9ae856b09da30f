"""The house plan: the folders are the layers, every import points down, no cycles.

    cli/, options.py       the commands, the one options reader and its schema.py
    ship/                  pushes, lists, the CI matrix, signatures and attestations
    supply/                what an image is made of: SBOMs, provenance, inventories, diffs, budgets
    images/                the family on an engine: render, build, bootstrap, tarballs
    pack/                  pack's plan (pure) and its doing on an engine
    engine/                the programs that build, run and move images
    family/, templating    the family as data, and the one Jinja environment
    the ground floor       errors, signals, temp dirs, platforms, image refs, quoting, git

A module may import modules of its own layer or of the layers below. Every import
counts, those inside functions too (they are how a command pays only for what it
runs, and how a cycle would sneak in), and no module may take a name from its own
package's __init__ (which imports the module back).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "snakepacker"

# The first matching prefix decides a module's layer.
LAYERS: tuple[tuple[str, int], ...] = (
    ("snakepacker.cli", 7),
    ("snakepacker.options", 7),
    ("snakepacker.schema", 7),
    ("snakepacker.__main__", 7),
    ("snakepacker.ship", 6),
    ("snakepacker.supply", 5),
    ("snakepacker.images", 4),
    ("snakepacker.pack", 3),
    ("snakepacker.engine", 2),
    ("snakepacker.family", 1),
    ("snakepacker.templating", 1),
    ("snakepacker.errors", 0),
    ("snakepacker.cachedir", 0),
    ("snakepacker.tempdirs", 0),
    ("snakepacker.stopping", 0),
    ("snakepacker.platforms", 0),
    ("snakepacker.refs", 0),
    ("snakepacker.quoting", 0),
    ("snakepacker.redact", 0),
    ("snakepacker.vcs", 0),
    ("snakepacker.data", 0),
    ("snakepacker.tools", 0),
)


def layer(module: str) -> int:
    if module == "snakepacker":
        return 0  # the package's face: its version
    for prefix, number in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return number
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and the README's plan")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = SRC.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> Iterator[tuple[str, str]]:
    """(module imported, the name taken from it or "") for every snakepacker import in
    PATH, at any depth; `from PKG import SUBMODULE` imports the submodule."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if _is_module(sub):
                    yield sub, ""
                else:
                    yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        edges[here] = {target for target, _ in imports(path)
                       if target.split(".")[0] == "snakepacker" and target != here}
    return edges


def test_every_module_has_a_layer() -> None:
    for module in graph():
        layer(module)


def test_every_import_points_down() -> None:
    wrong = [f"{here} (layer {layer(here)}) imports {target} (layer {layer(target)})"
             for here, targets in graph().items() for target in sorted(targets)
             if target != "snakepacker" and layer(target) > layer(here)]
    assert wrong == []


def test_no_module_takes_a_name_from_its_own_package() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        here = module_name(path)
        if path.name == "__init__.py":
            continue
        package = here.rpartition(".")[0]
        for target, name in imports(path):
            if target == package and name and package != "snakepacker":
                wrong.append(f"{here} takes {name} from its own package {package}")
    assert wrong == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of EDGES: its strongly connected parts of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The finder itself: a cycle through three modules, and a package's __init__
    that imports a module importing it back."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"p": {"p.m"}, "p.m": {"p"}}) == [["p", "p.m"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_readme_draws_the_same_layers() -> None:
    readme = (SRC.parents[1] / "README.md").read_text()
    plan = __doc__.split("\n\n")[1]
    assert plan in readme, "the README's layout section draws the layers of this test"

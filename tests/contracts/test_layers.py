"""Layering: imports point down only, with no cycles, and no module imports the package root.

Every ``import`` in src/gankit is read from the source (module level and inside functions alike: a function-level
import is not a way around a layer) and mapped to its group (the subpackage or module right under ``gankit``).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "gankit"

#: the layers, bottom first (DESIGN.md); a group may import groups of its own layer or below, never above
LAYERS = [
    ["errors", "registry", "types", "fields", "version"],
    ["likelihoods", "losses", "regularizers", "augment", "visual", "data", "models", "terms", "metrics"],
    ["io", "config"],
    ["tasks"],
    ["training", "evaluation", "sampling", "difficulty", "downstream"],
    ["api", "report", "tables", "molecules"],
    ["cli", "__main__"],
]
RANK = {g: i for i, layer in enumerate(LAYERS) for g in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(absolute module imported, line, inside a function) for every gankit import of a file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    out = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, inner) for a in child.names if a.name.split(".")[0] == "gankit")
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                if mod.split(".")[0] == "gankit":
                    if mod == "gankit":  # `from gankit import x` / `from .. import x`: x is a module or a name of the root
                        out.extend((f"gankit.{a.name}" if (SRC / a.name).exists() or (SRC / f"{a.name}.py").exists() else "gankit",
                                    child.lineno, inner) for a in child.names)
                    else:
                        out.append((mod, child.lineno, inner))
            visit(child, inner)

    visit(tree, False)
    return out


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gankit"


def _edges() -> list[tuple[str, str, str, int, bool]]:
    """(importer group, imported group, file, line, inside a function) for imports across groups."""
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        me = _group(_module_name(path)) if path.name != "__init__.py" or path.parent != SRC else "gankit"
        for mod, line, nested in _imports(path):
            them = _group(mod)
            if them != me:
                edges.append((me, them, str(path.relative_to(SRC)), line, nested))
    return edges


def test_every_group_has_a_layer():
    groups = {p.stem if p.suffix == ".py" else p.name for p in SRC.iterdir()
              if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert groups <= set(RANK), f"put these in a layer: {sorted(groups - set(RANK))}"


def test_imports_point_down():
    up = [f"{f}:{line} ({me} imports {them}{', in a function' if nested else ''})"
          for me, them, f, line, nested in _edges() if me != "gankit" and them in RANK and RANK[them] > RANK[me]]
    assert not up, "imports that point up a layer:\n" + "\n".join(up)


def test_no_module_imports_the_package_root():
    bad = [f"{f}:{line}" for me, them, f, line, _ in _edges() if them == "gankit" and me != "gankit"]
    assert not bad, f"these import the package root: {bad}"


def test_no_cycles_between_groups():
    graph: dict[str, set[str]] = {}
    for me, them, *_ in _edges():
        if me != "gankit":
            graph.setdefault(me, set()).add(them)
    state: dict[str, int] = {}
    path: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if not state.get(nxt):
                dfs(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            dfs(node)


def test_config_imports_neither_torch_nor_models():
    import subprocess
    import sys

    code = ("import sys, gankit.config; bad = [m for m in ('torch', 'gankit.models', 'gankit.tasks', 'gankit.training') "
            "if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import gankit.config imported {out}"

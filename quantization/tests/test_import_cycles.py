"""No import cycles between the modules of dactyl_quant, and every module imports.

The graph is read from each module's source (its AST), counting every import, also those inside
functions: a lazy import that closes a cycle still ties the two modules together (and works only
while nobody moves it to the top of the file).
"""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

PACKAGE = "dactyl_quant"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_files() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name a `from ... import` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the dactyl_quant modules it imports (a submodule import counts as its package's too)."""
    modules = module_files()
    graph = {}
    for name, path in modules.items():
        targets = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, path.name == "__init__.py", node)
                # `from . import ctc` imports the module ctc; `from .corpus import read` the module corpus.
                names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                         for alias in node.names]
            else:
                continue
            for target in names:
                # Importing a.b.c runs a/__init__ and a/b/__init__ first.
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:end])
                    if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                        targets.add(prefix)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"b"}}) == ["b", "b"]


def test_graph_reads_relative_and_lazy_imports():
    graph = import_graph()
    assert "dactyl_quant.preprocess" in graph["dactyl_quant.train.cache"]  # from ..preprocess import ...
    assert "dactyl_quant.corpus" in graph["dactyl_quant.train.cache"]  # from .. import corpus
    assert "dactyl_quant.ctc" in graph["dactyl_quant.train.loop"]  # from .. import ctc
    assert "dactyl_quant.teachers.palm" in graph["dactyl_quant.teachers.mediapipe_run"]  # from . import palm
    assert "dactyl_quant.train.loop" in graph["dactyl_quant.train.cli"]  # inside a function
    assert "dactyl_quant.synth" in graph["dactyl_quant.charlm"]  # from .synth.corpus: the package runs first


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(module_files()))
def test_every_module_imports(name):
    """Optional packages (mediapipe's runtime, HaMeR, matplotlib) are imported where they are used,
    so every module imports with the requirements alone."""
    if name.endswith("__main__"):
        assert importlib.util.find_spec(name) is not None  # running it would run the command
        return
    importlib.import_module(name)


def test_the_cache_workers_modules_import_no_torch():
    """The clip cache's spawned workers import only numpy (train/__init__.py)."""
    import subprocess
    import sys
    modules = ["dactyl_quant.corpus", "dactyl_quant.train.cache", "dactyl_quant.train.config",
               "dactyl_quant.train.teacher"]
    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT.parent, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"

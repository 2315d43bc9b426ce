"""The import graph of the ``lrdsl`` package, read from its ``import`` statements (nothing is imported).

    python scripts/import_graph.py          # every module and the lrdsl modules it imports
    python scripts/import_graph.py --check  # exit 1 if the module-level imports form a circle

Module-level imports must form no circle. An import inside a function is deferred: it breaks
no circle at import time, and the package keeps only those listed in :data:`DEFERRED`, each
with its reason.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

PACKAGE = Path(__file__).resolve().parent.parent / "lrdsl"

SUBCOMMAND = "each subcommand imports what only it needs when it runs (--help stays fast)"
DEFERRED = {
    ("lrdsl.ast", "lrdsl.printer"): "Expr.__str__ prints through the printer, which reads the AST",
    ("lrdsl", "lrdsl.optim.optimizer"): "lrdsl.optimizer loads the optimizers on first use (PEP 562)",
    ("lrdsl", "lrdsl.hookspecs"): "lrdsl.hookimpl loads pluggy on first use (PEP 562)",
    ("lrdsl.plugins", "lrdsl.hookspecs"): "pluggy loads with the plugins, not with lrdsl",
    ("lrdsl.cli", "lrdsl.explain"): SUBCOMMAND,
    ("lrdsl.cli", "lrdsl.plotting"): "only --png/--svg draw with matplotlib",
    ("lrdsl.cli", "lrdsl.convert"): SUBCOMMAND,
    ("lrdsl.cli", "lrdsl.serve.server"): SUBCOMMAND,
    ("lrdsl.cli", "lrdsl.search.check"): SUBCOMMAND,
    ("lrdsl.cli", "lrdsl.search.sweep"): SUBCOMMAND,
    ("lrdsl.cli", "lrdsl.search.sweep_config"): SUBCOMMAND,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute name of a relative ``from ... import``."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path) -> Tuple[Set[str], Set[str]]:
    """(module-level, deferred) lrdsl modules that the file at ``path`` imports."""
    module, tree = module_name(path), ast.parse(path.read_text(encoding="utf-8"))
    top: Set[str] = set()
    deferred: Set[str] = set()
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node, path.name == "__init__.py") if node.level else (node.module or "")
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names]
        for name in names:
            if name.startswith("lrdsl") and name != module and name in known:
                (deferred if id(node) in inside else top).add(name)
    return top, deferred


def graph() -> Tuple[Dict[str, Set[str]], Dict[str, Set[str]]]:
    """(module-level edges, deferred edges) of every module of the package."""
    top, deferred = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        top[module_name(path)], deferred[module_name(path)] = imports(path)
    return top, deferred


def circles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Every import circle (as a path that comes back to its start), by depth-first search."""
    found, state = [], {}

    def visit(node: str, path: List[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    return found


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--check", action="store_true", help="exit 1 on a circle or an unlisted deferred import")
    args = options.parse_args(argv)
    top, deferred = graph()
    if not args.check:
        for module in sorted(top):
            print(f"{module}: {', '.join(sorted(top[module])) or '-'}")
    problems = [" -> ".join(c) for c in circles(top)]
    problems += [
        f"deferred import {a} -> {b} is not in DEFERRED"
        for a in deferred
        for b in deferred[a]
        if (a, b) not in DEFERRED
    ]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

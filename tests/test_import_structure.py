"""The package's import structure, read with ``ast``: no import cycles and no upward imports between the stages.

Stages (one per sub-package) and what each may never import::

    model       io, store, evaluation, workflows, testing, cli   (torch code knows nothing of files)
    io          store, model, evaluation, workflows, testing, cli
    store       model, evaluation, workflows, testing, cli
    evaluation  workflows, testing, cli
    any         cli, unless it is cli itself

``testing`` (factories of NWB files, recordings and tiny configs for tests and the demo's smoke size) sits beside
workflows: it may use the stages, and the stages below workflows never import it. The other modules at the package root
(errors, recording, provenance, atomic_files, file_metadata) are shared by every stage and import none of them;
``__main__`` (``python -m nwb_neurpir``) is the command line and counts as ``cli``. The package's own ``__init__`` (the
top-level API, ``import nwb_neurpir as npir``) is no stage: it re-exports ``workflows``' names, imported on first use
and, for type checkers, under ``TYPE_CHECKING``, and no stage imports it. Every import counts, also those
inside functions (they run when the function does) and those under ``TYPE_CHECKING`` (the types are still a dependency)
-- except that a ``TYPE_CHECKING`` import never runs, so it cannot close a cycle. ``from nwb_neurpir import
__version__`` reads a constant of the top-level package and runs none of its lazy re-exports, so it is no dependency on
the package.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nwb_neurpir"

FORBIDDEN = {
    "model": {"io", "store", "evaluation", "workflows", "testing", "cli"},
    "io": {"store", "model", "evaluation", "workflows", "testing", "cli"},
    "store": {"model", "evaluation", "workflows", "testing", "cli"},
    "evaluation": {"workflows", "testing", "cli"},
}
STAGES = {"cli", "evaluation", "io", "model", "simulate", "store", "testing", "workflows"}

@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    runs: bool
    """False for an import under ``TYPE_CHECKING``."""


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module below ``root`` (a package folder)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The package-internal imports of one module, each resolved to the module it names."""
    root_name = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def resolve(dotted: str) -> str:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted

    def visit(node: ast.AST, runs: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, runs)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == root_name:
                    found.append(Import(name, resolve(alias.name), node.lineno, runs))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base.split(".")[0] == root_name:
                for alias in node.names:
                    if base == root_name and alias.name == "__version__":
                        continue
                    target = f"{base}.{alias.name}"
                    found.append(Import(name, target if target in modules else resolve(base), node.lineno, runs))
        for child in ast.iter_child_nodes(node):
            visit(child, runs)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return [item for item in found if item.target != name]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def stage_of(module: str) -> str:
    """The sub-package a module belongs to, or the module itself for the package root's modules."""
    parts = module.split(".")
    if parts[1:] == ["__main__"]:
        return "cli"
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def all_imports(root: Path) -> list[Import]:
    modules = module_files(root)
    return [item for name, path in modules.items() for item in imports_of(name, path, modules)]


def import_cycles(imports: list[Import]) -> dict[str, list[list[str]]]:
    """Cycles among modules and among stages, through imports that run."""
    modules: dict[str, set[str]] = {}
    stages: dict[str, set[str]] = {}
    for item in imports:
        if item.runs:
            modules.setdefault(item.source, set()).add(item.target)
            source, target = stage_of(item.source), stage_of(item.target)
            if source != target:
                stages.setdefault(source, set()).add(target)
    return {"modules": cycles(modules), "stages": cycles(stages)}


def upward_imports(imports: list[Import]) -> list[str]:
    """Every import that breaks a rule of the module docstring, as ``module:line imports target``."""
    broken = []
    for item in imports:
        source, target = stage_of(item.source), stage_of(item.target)
        if source == target:
            continue
        shared_root = source not in STAGES and source.count(".") == 1
        if target in FORBIDDEN.get(source, ()) or (target == "cli" and source != "cli") or \
                (shared_root and target in STAGES):
            broken.append(f"{item.source}:{item.line} imports {item.target}")
    return broken


def test_the_package_has_no_import_cycles() -> None:
    assert import_cycles(all_imports(PACKAGE)) == {"modules": [], "stages": []}


def test_no_stage_imports_a_stage_above_it() -> None:
    assert upward_imports(all_imports(PACKAGE)) == []


def test_no_module_imports_the_top_level_api() -> None:
    """Only its ``__version__``: the package's ``__init__`` imports ``workflows`` (and under ``TYPE_CHECKING`` its
    names), so importing it back from below would close a cycle."""
    assert [f"{item.source}:{item.line}" for item in all_imports(PACKAGE) if item.target == PACKAGE.name] == []


def test_the_checks_find_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The checks themselves, on a small package with one cycle and one upward import planted."""
    files = {
        "__init__.py": "from typing import TYPE_CHECKING\n__version__ = '0'\nif TYPE_CHECKING:\n"
                       "    from pkg.store.write import E\n",  # the package's API re-exported for type checkers
        "errors.py": "from pkg import __version__\n",
        "io/__init__.py": "",
        "io/reader.py": "from pkg.io import units\n",
        "io/units.py": "def read():\n    from pkg.io.reader import x\n",
        "model/__init__.py": "",
        "model/fit.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.store import write\n",
        "store/__init__.py": "",
        "store/write.py": "from pkg.model import fit\nfrom pkg.errors import E\n",
    }
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    imports = all_imports(tmp_path / "pkg")
    assert import_cycles(imports) == {"modules": [["pkg.io.reader", "pkg.io.units"]], "stages": []}
    assert upward_imports(imports) == ["pkg.model.fit:3 imports pkg.store.write", "pkg.store.write:1 imports pkg.model.fit"]

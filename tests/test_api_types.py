"""Type checkers see the top-level API's real types: the lazy re-exports of ``nwb_neurpir`` and
``nwb_neurpir.workflows`` import every name of ``__all__`` under ``TYPE_CHECKING`` (read here with ``ast``), the
runtime ``__getattr__`` is hidden from them (a name outside ``__all__`` is their error) and imports each name from the
module the checkers read it from. With mypy installed, ``mypy --strict`` checks a user's script against them."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nwb_neurpir
import nwb_neurpir.workflows

PACKAGE = Path(nwb_neurpir.__file__).resolve().parent
INITS = {"nwb_neurpir": PACKAGE / "__init__.py", "nwb_neurpir.workflows": PACKAGE / "workflows" / "__init__.py"}


def _type_checking_imports(path: Path) -> tuple[dict[str, str], list[str]]:
    """Name -> module of the ``from ... import`` statements under the top-level ``if TYPE_CHECKING:`` of a module,
    and the functions it defines where type checkers see them (outside that block's ``else``)."""
    imports: dict[str, str] = {}
    seen_functions: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                if isinstance(child, ast.ImportFrom):
                    imports.update({alias.asname or alias.name: str(child.module) for alias in child.names})
        elif isinstance(node, ast.FunctionDef):
            seen_functions.append(node.name)
    return imports, seen_functions


@pytest.mark.parametrize("module", INITS)
def test_every_public_name_is_imported_for_type_checkers(module: str) -> None:
    imports, functions = _type_checking_imports(INITS[module])
    public = set(importlib.import_module(module).__all__) - {"__version__"}
    assert set(imports) == public
    assert "__getattr__" not in functions  # it would make any attribute of the module Any to mypy and pyright


def test_the_runtime_imports_the_names_from_where_checkers_read_them() -> None:
    imports, _ = _type_checking_imports(INITS["nwb_neurpir.workflows"])
    assert imports == nwb_neurpir.workflows._HOMES
    for name, module in imports.items():
        assert getattr(nwb_neurpir, name) is getattr(importlib.import_module(module), name), name


SCRIPT = '''
import nwb_neurpir as npir

class LabModel(npir.NeurPIR):
    """Our lab's defaults."""

reveal_type(npir.read_embeddings)
reveal_type(npir.annotate)
reveal_type(npir.inspect)
reveal_type(npir.open_recordings)
frame = npir.read_embeddings(42)
outcomes: str = npir.annotate("model/", "sim/", overwite=True)
npir.no_such_function()
'''


def test_mypy_strict_sees_the_real_types(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "mypy.ini").write_text(textwrap.dedent("""\
        [mypy]
        strict = True
        ignore_missing_imports = True
        [mypy-nwb_neurpir.*,ndx_neurpir.*]
        follow_imports = silent
        """))
    search = [str(PACKAGE.parent), str(Path(importlib.import_module("ndx_neurpir").__file__).resolve().parents[1])]
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", ".cache",
                           "--python-executable", sys.executable, "script.py"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "MYPYPATH": os.pathsep.join(search)})
    lines = done.stdout.splitlines()
    revealed = [line for line in lines if "Revealed type" in line]
    assert len(revealed) == 4 and not any('"Any"' in line for line in revealed), done.stdout
    assert "Sources" in done.stdout or "NWBFileLike" in done.stdout
    errors = {int(line.split(":")[1]) for line in lines if ": error:" in line}
    assert errors == {11, 12, 13}, done.stdout  # 42 as sources, the typo'd keyword and wrong return, no such name

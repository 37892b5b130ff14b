"""What the sdists and the wheels carry and declare, read from the project: every tracked file (the sdist leaves out what
.gitignore ignores), a dependency for every package the code imports, ``py.typed``; and a parametrize over fixture
files that are missing fails the run instead of collecting nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import packages_distributions
from importlib.resources import files
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXTENSION_DIR = PROJECT_ROOT / "extensions" / "ndx-neurpir"
PACKAGES = {"nwb_neurpir": (PROJECT_ROOT, PROJECT_ROOT / "nwb_neurpir"),
            "ndx_neurpir": (EXTENSION_DIR, EXTENSION_DIR / "src" / "pynwb" / "ndx_neurpir")}
"""Import name -> (the folder of its pyproject.toml, the package's folder)."""
OPTIONAL_IMPORTS = {"numba"}
"""Imported only when installed: the simulator's integrator falls back to numpy without numba."""


def _git(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(PROJECT_ROOT), *arguments], capture_output=True, text=True, check=False)


def test_no_tracked_file_is_ignored_so_the_sdist_carries_every_one() -> None:
    """hatch builds the sdist from the files .gitignore does not ignore: a tracked file it ignores (an NWB fixture under
    ``*.nwb``) is missing from the sdist, and the tests that read it fail or skip there."""
    top = _git("rev-parse", "--show-toplevel")
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != PROJECT_ROOT:
        pytest.skip(f"not a git checkout: {PROJECT_ROOT}")
    assert _git("ls-files", "--cached", "--ignored", "--exclude-standard").stdout.split() == []


def test_a_parametrize_over_missing_fixture_files_fails_the_run(tmp_path: Path) -> None:
    test_file = tmp_path / "test_fixtures.py"
    test_file.write_text("import pytest\n\n\n@pytest.mark.parametrize('path', [])\n"
                         "def test_each_kept_file(path):\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(PROJECT_ROOT / "pyproject.toml"), "--rootdir",
                           str(tmp_path), "-p", "no:cacheprovider", str(test_file)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "Empty parameter set in 'test_each_kept_file'" in done.stdout, done.stdout


def _imported_distributions(package: Path) -> dict[str, set[str]]:
    """Top-level module -> the installed distributions that provide it, for every module outside the standard library
    and the project that ``package`` imports (at module level or inside a function)."""
    modules = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - set(PACKAGES) - OPTIONAL_IMPORTS
    provided = packages_distributions()
    return {module: {canonicalize_name(name) for name in provided.get(module, [module])} for module in third_party}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_package_the_code_imports_is_a_declared_dependency(package: str) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11
    project_dir, package_dir = PACKAGES[package]
    project = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]
    extras = [requirement for extra, requirements in project.get("optional-dependencies", {}).items()
              if extra != "test" for requirement in requirements]
    declared = {canonicalize_name(Requirement(requirement).name) for requirement in [*project["dependencies"], *extras]}
    undeclared = sorted(module for module, distributions in _imported_distributions(package_dir).items()
                        if not distributions & declared)
    assert undeclared == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_both_packages_say_they_are_typed(package: str) -> None:
    assert (files(package) / "py.typed").is_file()

"""What the sdist and the wheels carry, read from the project: every tracked file (the sdist leaves out what .gitignore
ignores), and a parametrize over fixture files that are missing fails the run instead of collecting nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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

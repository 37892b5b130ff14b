"""The tests that take access away with file modes (the ``deny`` fixture: an unreadable NWB file, a cache folder or a
model folder this user may not write) skip as root, whose capabilities pass over modes, and CI runs as root. As root,
they run here again in a child pytest whose capabilities to override modes are dropped, as an ordinary user's
process is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
MODE_TESTS = [
    "tests/test_reader_bad_input.py::test_unreadable_file",
    "tests/test_cli_inspect.py::test_a_damaged_or_unreadable_file_is_listed_and_the_others_are_still_inspected",
    "tests/test_dandi_cache.py::test_a_cache_folder_this_user_cannot_write_is_named_with_what_to_do",
    "tests/test_api_workflows.py::test_annotate_continues_past_an_unreadable_file",
    "tests/test_api_workflows.py::test_predict_refuses_a_probe_folder_it_cannot_write_before_fitting",
    "tests/test_cli_source_paths.py::"
    "test_a_read_only_source_run_from_a_folder_that_cannot_be_written_is_named_with_what_to_do",
]
_OVERRIDES = "-dac_override,-dac_read_search,-fowner"


def test_the_mode_tests_pass_without_the_capabilities_that_override_modes() -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: the mode tests ran as they are")
    if shutil.which("setpriv") is None:
        pytest.skip("dropping root's capabilities needs setpriv")
    done = subprocess.run(["setpriv", f"--bounding-set={_OVERRIDES}", f"--inh-caps={_OVERRIDES}", sys.executable,
                           "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *MODE_TESTS],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-3000:]
    assert "skipped" not in summary and "passed" in summary, done.stdout[-3000:]

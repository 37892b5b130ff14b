"""The command line answers --help and --version, fast and without importing heavy libraries."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from nwb_neurpir import __version__
from nwb_neurpir.cli.app import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_workflow_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "simulate", "inspect", "fetch", "train", "embed", "annotate", "evaluate", "plot"):
        assert command in result.output


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from nwb_neurpir.cli.app import app; "
        "heavy = [m for m in ('torch', 'cebra', 'umap', 'pynwb', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""Control characters in text taken from files (a subject id, a file name) are printed as escapes, so that they cannot
move the cursor, clear a line or forge one; ``--json`` keeps the text exact, and progress bars still draw."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.cli.terminal import TerminalStream, terminal_output
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

runner = CliRunner()
FORGED = "m1\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\r\x1b[2Kerror: all good"
"""A subject id that, printed raw, shows a link and replaces its line by ``error: all good``."""
RAW = ("\x1b", "\x07", "\r", "\x9b")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a session whose subject id forges a line and whose session id holds a newline and a C1 CSI, and
    a file whose name holds an escape sequence (not an NWB file)."""
    folder = tmp_path_factory.mktemp("hostile")
    write_nwbfile(make_spikes_nwbfile(n_units=6, duration=5.0, n_trials=2, subject_id=FORGED,
                                      session_id="s1\nerror: all good\x9b2K"), folder / "a.nwb")
    (folder / "b\x1b[2K\r.nwb").write_bytes(b"not hdf5")
    return folder


def test_inspect_prints_the_control_characters_of_a_file_as_escapes(hostile: Path) -> None:
    done = runner.invoke(app, ["inspect", str(hostile), "--no-progress"])
    assert done.exit_code == 1  # the file that is no NWB file
    assert not [code for code in RAW if code in done.output]
    [subject] = [line for line in done.stdout.splitlines() if line.startswith("  subject ")]
    assert subject.startswith(  # one line, as the file holds it
        "  subject m1\\x1b]8;;http://evil.example\\x07click\\x1b]8;;\\x07\\r\\x1b[2Kerror: all good"
        "  session s1\\nerror: all good\\x9b2K  start ")
    assert "b\\x1b[2K\\r.nwb\n  unreadable: " in done.stdout
    assert done.stderr == "error: 1 of 2 files could not be read\n"


def test_inspect_json_keeps_the_text_exact(hostile: Path) -> None:
    done = runner.invoke(app, ["inspect", str(hostile / "a.nwb"), "--json", "--no-progress"])
    assert done.exit_code == 0, done.output
    [summary] = json.loads(done.stdout)
    assert summary["subject_id"] == FORGED and summary["session_id"] == "s1\nerror: all good\x9b2K"


def test_an_error_line_and_a_progress_bar_through_the_filter(hostile: Path) -> None:
    missing = runner.invoke(app, ["inspect", str(hostile / "c\x1b]0;title\x07.nwb")])
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"error: {hostile}/c\\x1b]0;title\\x07.nwb: ")
    drawn = runner.invoke(app, ["inspect", str(hostile), "--progress"])
    assert "\rinspecting: 100%" in drawn.stderr  # the bar's own carriage returns pass
    assert "\x1b" not in drawn.output


def test_text_the_output_cannot_encode_is_shown_escaped(tmp_path: Path) -> None:
    """On an ASCII stdout (``PYTHONIOENCODING``, ``LC_ALL=C``) the command finishes, showing ``ã`` as ``\\xe3``."""
    from hardening_support import run_cold

    folder = tmp_path / "Zürich data"
    write_nwbfile(make_spikes_nwbfile(n_units=6, duration=5.0, n_trials=2, subject_id="São Paulo – m2",
                                      session_id="視床"), folder / "sessão 2.nwb")
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NEURPIR_PROGRESS": "1"}
    shown = run_cold(["inspect", folder, "--progress"], env=env)
    assert shown.code == 0, shown.stderr
    assert f"{tmp_path}/Z\\xfcrich data/sess\\xe3o 2.nwb\n  subject S\\xe3o Paulo \\u2013 m2  session \\u8996\\u5e8a " \
        in shown.stdout
    assert "internal error" not in shown.stderr
    exact = run_cold(["inspect", folder, "--json"], env=env)
    assert exact.code == 0 and json.loads(exact.stdout)[0]["subject_id"] == "São Paulo – m2"


def test_a_progress_bar_and_a_line_on_a_stream_that_cannot_encode_them() -> None:
    encoded = io.BytesIO()
    stream = TerminalStream(io.TextIOWrapper(encoded, encoding="cp932", errors="strict", write_through=True))
    stream.write("\rannotating São 2: 50%")  # a bar redrawn: its carriage return passes
    stream.write("視床 ã\n")
    assert encoded.getvalue().decode("cp932") == "\rannotating S\\xe3o 2: 50%視床 \\xe3\n"


def test_typer_echo_on_an_ascii_stdout_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """``click.echo`` rewraps an ASCII stdout's binary buffer as UTF-8; behind ``terminal_output`` it cannot, so what
    ``evaluate`` prints (``Zürich``, ``±``, ``≤``) stays ASCII under ``PYTHONIOENCODING=ascii``."""
    import typer

    encoded = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(encoded, encoding="ascii", write_through=True))
    with terminal_output():
        typer.echo("Zürich-m1 0.729 ± 0.029 (p ≤ 0.005)")
    assert encoded.getvalue().decode("ascii") == "Z\\xfcrich-m1 0.729 \\xb1 0.029 (p \\u2264 0.005)\n"

"""`neurpir inspect` on real small files, through Typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from reader_files import SECOND_SORTING, two_sortings_file
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

runner = CliRunner()


def test_inspect_json_reports_labels_trials_and_covariates(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=8, duration=30.0, obs_intervals=[(0, 10), (20, 30)]),
                         tmp_path / "sub-m_ses-1.nwb")
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    assert summary["n_neurons"] == 8
    assert summary["label_counts"]["brain_area"] == {"VISp": 2, "CA1": 2, "LGd": 2, "MRN": 2}
    assert summary["observed_s"] == 20.0
    assert summary["observed_epochs"] == 2
    assert summary["n_trials"] == 20
    assert "behavior/BehavioralTimeSeries/running_speed" in summary["covariates"]


def test_inspect_lists_every_units_table_and_series_picks_one(tmp_path: Path) -> None:
    path = two_sortings_file(tmp_path)
    default = runner.invoke(app, ["inspect", str(path)])
    assert default.exit_code == 0, default.output
    assert "6 units with spike times from /units;" in default.stdout
    assert f"  units tables: /units, /{SECOND_SORTING} (--series NAME picks one)\n" in default.stdout
    second = runner.invoke(app, ["inspect", str(path), "--series", "units_ms5", "--json"])
    (summary,) = json.loads(second.stdout)
    assert (summary["neuron_table"], summary["n_neurons"]) == (SECOND_SORTING, 4)
    assert summary["units_tables"] == ["units", SECOND_SORTING]
    unknown = runner.invoke(app, ["inspect", str(path), "--series", "no_such_table"])
    assert unknown.exit_code == 1
    assert f"unreadable: units table 'no_such_table' not found; the file's units tables: units, {SECOND_SORTING}" \
        in unknown.stdout


def test_inspect_folder_with_filter(tmp_path: Path) -> None:
    for session in ("1", "2"):
        write_nwbfile(make_spikes_nwbfile(n_units=6, duration=10.0, session_id=session),
                      tmp_path / "sub-m" / f"sub-m_ses-{session}.nwb")
    result = runner.invoke(app, ["inspect", str(tmp_path), "--filter", 'quality == "good"', "--json"])
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    assert [s["n_neurons"] for s in summaries] == [4, 4]


def test_inspect_missing_file_is_one_line_error_in_a_real_process(tmp_path: Path) -> None:
    missing = tmp_path / "nope.nwb"
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", "inspect", str(missing)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: ") and str(missing) in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("damage", "reason"), [("not HDF5", "not an HDF5 file"),
                                               ("unreadable", "cannot read: permission denied")])
def test_a_damaged_or_unreadable_file_is_listed_and_the_others_are_still_inspected(
        damage: str, reason: str, tmp_path: Path, deny: Callable[[Path], Path]) -> None:
    for session in ("0", "1", "2"):
        write_nwbfile(make_spikes_nwbfile(n_units=6, duration=10.0, session_id=session),
                      tmp_path / "sub-m" / f"sub-m_ses-{session}.nwb")
    damaged = tmp_path / "sub-m" / "sub-m_ses-0.nwb"
    if damage == "unreadable":
        deny(damaged)
    else:
        damaged.write_bytes(b"not an HDF5 file at all")
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{damaged}\n  unreadable: {reason}" in result.stdout and result.stdout.count("6 units") == 2
    assert "error: 1 of 3 files could not be read" in result.stderr


def test_inspect_lists_the_embedding_and_prediction_tables_a_file_holds(tmp_path: Path) -> None:
    from nwb_neurpir.store import ProbeProvenance, write_embeddings, write_predictions
    from store_helpers import PROVENANCE, vectors

    path = write_nwbfile(make_spikes_nwbfile(n_units=6, duration=10.0), tmp_path / "sub-m_ses-1.nwb")
    write_embeddings(path, [0, 1, 2], vectors(3), PROVENANCE, progress=False)
    write_embeddings(path, [3, 4], vectors(2), PROVENANCE, name="B", progress=False)
    probe = ProbeProvenance(kind="logistic", label="brain_area", class_names=["CA1", "VISp"], training_data=["a.nwb"],
                            checkpoint_sha256="ef" * 32)
    write_predictions(path, [0, 1], [[0.2, 0.8], [0.6, 0.4]], probe, PROVENANCE, progress=False)
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    created = PROVENANCE.created
    assert summary["embeddings"] == [
        {"name": "neurpir/B", "model_sha256": "ab" * 6, "created": created, "n_neurons": 2, "n_silent": 0,
         "neuron_table": "units", "during": None},
        {"name": "neurpir/NeurPIREmbeddings", "model_sha256": "ab" * 6, "created": created, "n_neurons": 3,
         "n_silent": 0, "neuron_table": "units", "during": None}]
    assert summary["predictions"] == [{"name": "neurpir/predicted_brain_area", "model_sha256": "ab" * 6,
                                       "created": created, "n_neurons": 2, "n_silent": 0, "neuron_table": "units",
                                       "label": "brain_area", "probe": "logistic"}]
    text = runner.invoke(app, ["inspect", str(path)]).stdout
    assert f"  embeddings neurpir/B: 2 neurons of /units, model {'ab' * 6} (created {created})\n" in text
    assert (f"  predictions neurpir/predicted_brain_area: brain_area of 2 neurons of /units by a logistic probe, "
            f"model {'ab' * 6}") in text

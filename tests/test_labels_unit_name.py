"""Kilosort+Phy exports name their units by the Phy cluster id, kept in the units' ``unit_name`` column: a labels
file may key its neurons by it, a ``neuron_id`` column holding such names is refused rather than read as row ids, and
``predictions.csv`` and ``embed --json`` give each neuron's unit name back (pynwb-written files)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from eval_files import TINY, cluster_id, phy_folder
from hardening_support import Finished

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io import open_recordings
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile
from nwb_neurpir.workflows.labels_file import read_labels, relabel_recordings

pytest_plugins = ["hardening_fixtures"]  # cli_server: `neurpir` commands forked from a warm interpreter


@pytest.fixture(scope="module")
def phy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return phy_folder(tmp_path_factory, seed=11)


@pytest.fixture(scope="module")
def tags(phy: Path) -> pd.DataFrame:
    """The opto tags of every unit of ``phy`` (FS neurons PV+, the others PV-), keyed as a Phy user keys them:
    ``identifier`` and ``unit_name``."""
    return pd.concat([pd.DataFrame({
        "identifier": recording.source.identifier, "unit_name": recording.neuron_metadata["unit_name"],
        "opto": np.where(recording.neuron_metadata["cell_type"] == "FS", "PV+", "PV-")})
        for recording in open_recordings([phy], progress=False)], ignore_index=True)


@pytest.fixture(scope="module")
def model(phy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("model")
    train(list(open_recordings([phy], progress=False)), TINY, out_dir=folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def annotated(phy: Path, model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("annotated")
    npir.annotate(model, phy, output_dir=folder, progress=False)
    return folder


@pytest.fixture()
def neurpir(cli_server, tmp_path: Path) -> Callable[..., Finished]:  # noqa: ANN001 - hardening_fixtures' server
    return lambda *args: cli_server.run(list(args), tmp_path / "outputs")


def test_a_labels_file_keyed_by_unit_name_labels_the_units_of_that_name(
        phy: Path, tags: pd.DataFrame, tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    recordings = list(open_recordings([phy], progress=False))
    relabelled = relabel_recordings(recordings, read_labels(tags.sample(frac=1, random_state=0), "opto"))
    for recording in relabelled:  # each unit gets the label of its unit_name's row, whatever the rows' order
        truth = np.where(recording.neuron_metadata["cell_type"] == "FS", "PV+", "PV-")
        assert recording.neuron_metadata["opto"].tolist() == truth.tolist()
    tags.to_csv(tmp_path / "opto.csv", index=False)
    shown = neurpir("evaluate", str(phy), "--label", "opto", "--labels", str(tmp_path / "opto.csv"), "--methods",
                    "hand", "--json")
    assert shown.code == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["n_labelled"] == 75 and report["classes"] == ["PV+", "PV-"] and "match no neuron" not in shown.stderr


def test_a_neuron_id_column_holding_unit_names_is_refused_in_one_line(
        phy: Path, tags: pd.DataFrame, tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    labels = tmp_path / "opto.csv"
    tags.rename(columns={"unit_name": "neuron_id"}).to_csv(labels, index=False)
    shown = neurpir("evaluate", str(phy), "--label", "opto", "--labels", str(labels), "--methods", "hand")
    # 8 of each file's 25 cluster ids (2, 5, ..., 23) are also row ids: read as such they would label other units
    assert shown.code == 1 and shown.stderr == (
        f"error: {labels}: only 24 of its 75 rows match a neuron by neuron_id (the row id of the units table), but 75 "
        "match the units' unit_name (Phy cluster ids?); if its neuron_id column holds unit names, name that column "
        "unit_name\n")


def test_row_ids_stay_row_ids_in_files_with_unit_names(phy: Path, tags: pd.DataFrame) -> None:
    """A table of row ids matches its neurons by row id, also when some rows are stale; with both columns, a row
    must match both."""
    recordings = list(open_recordings([phy], progress=False))
    by_row = tags.assign(neuron_id=[row % 25 for row in range(len(tags))]).drop(columns="unit_name")
    stale = pd.concat([by_row, by_row.iloc[[0]].assign(neuron_id=99)], ignore_index=True)
    with pytest.warns(UserWarning, match="1 of its 76 rows match no neuron of the files"):
        relabelled = relabel_recordings(recordings, read_labels(stale, "opto"))
    assert [r.neuron_metadata["opto"].tolist() for r in relabelled] == \
        [tags["opto"][tags["identifier"] == r.source.identifier].tolist() for r in recordings]
    both = by_row.assign(unit_name=[cluster_id(row % 25) for row in range(len(tags))])
    both.loc[0, "unit_name"] = "7"  # row 0 is cluster 2: this row names no neuron
    with pytest.warns(UserWarning, match="1 of its 75 rows match no neuron of the files \\(by identifier and "
                                         "neuron_id and unit_name\\)"):
        relabelled = relabel_recordings(recordings, read_labels(both, "opto"))
    assert relabelled[0].neuron_metadata["opto"].isna().tolist() == [True] + [False] * 24


def test_unit_name_labels_refuse_files_without_unit_names_and_repeated_names(tmp_path: Path) -> None:
    plain = make_spikes_nwbfile(n_units=6, duration=20.0, seed=0, with_context=False)
    (recording,) = open_recordings([write_nwbfile(plain, tmp_path / "plain.nwb")], progress=False)
    table = pd.DataFrame({"identifier": recording.source.identifier, "unit_name": ["1", "2"], "quality": "good"})
    with pytest.raises(NeurPIRError, match="^labels table: names neurons by unit_name, but the files' neurons have no "
                                           "unit_name column$"):
        relabel_recordings([recording], read_labels(table, "quality"))
    repeated = make_spikes_nwbfile(n_units=6, duration=20.0, seed=0, with_context=False)
    repeated.units.add_column("unit_name", "cluster id per probe", data=["1", "2", "3", "1", "5", "6"])
    (recording,) = open_recordings([write_nwbfile(repeated, tmp_path / "repeated.nwb")], progress=False)
    relabelled = relabel_recordings([recording], read_labels(table.assign(unit_name=["2", "5"]), "quality"))
    assert relabelled[0].neuron_metadata["quality"].fillna("").tolist() == ["", "good", "", "", "good", ""]
    with pytest.raises(NeurPIRError, match=f"^labels table: unit_name 1 of identifier {recording.source.identifier} "
                                           "names several neurons of its recording; name them by neuron_id$"):
        relabel_recordings([recording], read_labels(table, "quality"))


def test_a_probe_fits_on_labels_keyed_by_unit_name(annotated: Path, tags: pd.DataFrame) -> None:
    files = sorted(annotated.rglob("*.nwb"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # every row matches a unit
        probe = npir.LabelProbe("opto", inputs="neurpir").fit(files, labels=tags)
    assert probe.class_counts_ == {"PV+": 15, "PV-": 60}
    with pytest.raises(NeurPIRError, match="^labels table: only 24 of its 75 rows match a neuron by neuron_id .* name "
                                           "that column unit_name$"):
        npir.LabelProbe("opto", inputs="neurpir").fit(files, labels=tags.rename(columns={"unit_name": "neuron_id"}))


def test_embed_json_gives_each_units_unit_name(model: Path, phy: Path, neurpir: Callable[..., Finished]) -> None:
    shown = neurpir("embed", str(model), str(phy), "--json", "--no-progress")
    assert shown.code == 0, shown.stderr
    for recording in json.loads(shown.stdout)["recordings"]:
        assert recording["unit_names"] == [cluster_id(row) for row in recording["neuron_ids"]]
        assert len(recording["embeddings"]) == 25


def test_predictions_csv_gives_each_neurons_unit_name(phy: Path, tags: pd.DataFrame, tmp_path: Path,
                                                      neurpir: Callable[..., Finished]) -> None:
    shown = neurpir("evaluate", str(phy), "--label", "cell_type", "--methods", "hand", "--out",
                    str(tmp_path / "report"), "--no-plots")
    assert shown.code == 0, shown.stderr
    predictions = pd.read_csv(tmp_path / "report" / "predictions.csv", dtype=str)
    assert list(predictions.columns) == ["subject", "session", "source", "neuron_table", "neuron_id", "unit_name", "fold", "method",
                                         "true", "predicted"]
    assert len(predictions) == 75 and (predictions["unit_name"] == predictions["neuron_id"].astype(int)
                                       .map(cluster_id)).all()

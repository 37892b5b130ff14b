"""Files with units and calcium ROIs whose ids overlap (0..n in both): outside tables keyed by ``neuron_table``,
outputs that name the table of each neuron id, sidecars that name their source's table, and what ``inspect`` and
the readers say about the kind left out."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.recording import SourceInfo
from nwb_neurpir.store import read_embeddings, write_sidecar
from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile
from nwb_neurpir.workflows.embedding_export import EmbeddedSources
from nwb_neurpir.workflows.labels_file import read_labels, relabel_recordings
from nwb_neurpir.workflows.vectors_file import read_vectors
from store_helpers import PROVENANCE

PLANE = "processing/ophys/ImageSegmentation/PlaneSegmentation"
N = 6


def _multimodal_file(folder: Path, subject: str = "m1", seed: int = 0) -> Path:
    """Six ROIs (ids 0..5) and six units (ids 0..5) in one file."""
    nwbfile = make_ophys_nwbfile(n_rois=N, n_frames=600, seed=seed, subject_id=subject, session_id=f"{subject}s1")
    nwbfile.add_unit_column("cell_type", "type of the unit")
    rng = np.random.default_rng(seed)
    for index in range(N):
        nwbfile.add_unit(id=index, spike_times=np.sort(rng.uniform(0, 20, 200)), cell_type="unit")
    return write_nwbfile(nwbfile, folder / f"sub-{subject}_ses-{subject}s1.nwb")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _multimodal_file(tmp_path_factory.mktemp("multimodal"))


def _rois(path: Path) -> npir.Recording:
    return read_nwb(path, modality="ophys")


def test_a_labels_neuron_table_column_keys_rows_to_their_table(mixed: Path) -> None:
    recording = _rois(mixed)
    identifier = recording.source.identifier
    table = pd.DataFrame({"identifier": identifier, "neuron_table": ["units"] * N + ["PlaneSegmentation"] * N,
                          "neuron_id": [*range(N), *range(N)], "opto": ["unit-label"] * N + ["roi-label"] * N})
    with pytest.warns(UserWarning, match=f"{N} of its {2 * N} rows match no neuron"):
        (relabelled,) = relabel_recordings([recording], read_labels(table, "opto"))
    assert relabelled.neuron_metadata["opto"].tolist() == ["roi-label"] * N


def test_labels_without_a_neuron_table_column_warn_which_table_their_ids_are_matched_to(mixed: Path) -> None:
    recording = _rois(mixed)
    table = pd.DataFrame({"identifier": recording.source.identifier, "neuron_id": range(N), "opto": "x"})
    with pytest.warns(UserWarning, match=f"no neuron_table column.*table read \\(/{PLANE}\\).*also hold /units"):
        relabel_recordings([recording], read_labels(table, "opto"))


def test_embeds_own_csv_is_read_back_as_vectors_of_the_table_read(mixed: Path, tmp_path: Path) -> None:
    rois = _rois(mixed)
    units = read_nwb(mixed, modality="spikes")
    roi_vectors, unit_vectors = np.full((N, 3), 1.0), np.full((N, 3), 2.0)
    path = EmbeddedSources([(units, unit_vectors), (rois, roi_vectors)], "ab" * 32).write(tmp_path / "both.csv")
    assert "neuron_table" in pd.read_csv(path).columns
    (given,) = read_vectors({"other": path})
    with pytest.warns(UserWarning, match=f"{N} of its {2 * N} rows are of other neuron tables"):
        (matrix,) = given.per_recording([rois])
    np.testing.assert_array_equal(matrix, roi_vectors)


def test_embed_json_records_name_their_neuron_table(mixed: Path) -> None:
    rois = _rois(mixed)
    (record,) = EmbeddedSources([(rois, np.zeros((N, 2)))], "ab" * 32).to_dict()["recordings"]
    assert record["neuron_table"] == PLANE


def test_predictions_name_the_file_and_table_of_each_neuron_given_as_embeddings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"subject_id": subject, "session_id": "s1", "neuron_id": index, "neuron_table": PLANE,
                           "file": f"{subject}.nwb", "cell_type": "AB"[index % 2],
                           "embedding": rng.normal(size=4) + 3 * (index % 2)}
                          for subject in ("a", "b", "c") for index in range(8)])
    result = evaluate(label="cell_type", embeddings=frame, methods=["neurpir"], progress=False)
    table = result.predictions_table()
    assert set(table["source"]) == {"a.nwb", "b.nwb", "c.nwb"} and set(table["neuron_table"]) == {PLANE}


def test_evaluate_reports_the_neuron_table_of_each_recording(tmp_path: Path) -> None:
    paths = [_multimodal_file(tmp_path, subject, seed) for seed, subject in enumerate(("a", "b", "c"))]
    recordings = [_rois(path) for path in paths]
    vectors = [np.random.default_rng(1).normal(size=(r.n_neurons, 3)) for r in recordings]
    result = evaluate(recordings, label="cell_type", embeddings=vectors, methods=["neurpir"], normalize="none",
                      progress=False)
    assert {source["neuron_table"] for source in result.settings["sources"]} == {PLANE}
    assert set(result.predictions_table()["neuron_table"]) == {PLANE}


def test_a_sidecar_names_the_neuron_table_of_its_source(mixed: Path, tmp_path: Path) -> None:
    sidecar = write_sidecar(tmp_path / "side.nwb", SourceInfo(location=str(mixed)), np.arange(N),
                            np.ones((N, 8), dtype=np.float32), PROVENANCE, neuron_table=PLANE)
    frame = read_embeddings(sidecar)
    assert frame.attrs["neuron_table"] == PLANE and set(frame["neuron_table"]) == {PLANE}
    assert set(npir.read_embeddings(sidecar)["neuron_table"]) == {PLANE}
    (summary,) = npir.inspect(sidecar, progress=False).files
    assert summary["embeddings"][0]["neuron_table"] == PLANE


def test_inspect_lists_the_units_and_the_imaging_planes_of_a_file_with_both(mixed: Path) -> None:
    result = CliRunner().invoke(app, ["inspect", str(mixed), "--json"])
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    assert summary["units_tables"] == ["units"]
    assert summary["planes"] == [{"segmentation": PLANE, "series": ["processing/ophys/DfOverF/DfOverFSeries",
                                                                   "processing/ophys/Fluorescence/RoiResponseSeries"]}]
    text = CliRunner().invoke(app, ["inspect", str(mixed)]).stdout
    assert "--modality ophys reads ROIs" in text and f"    /{PLANE}: /processing/ophys/DfOverF/DfOverFSeries" in text


def test_reading_units_of_a_file_with_rois_says_the_rois_are_left_out(mixed: Path) -> None:
    with pytest.warns(NWBReadWarning, match=f"holds both units and calcium ROIs; read the units of /units, "
                                                 f"the ROIs of /{PLANE} are left out .*--modality ophys"):
        assert read_nwb(mixed).neuron_table == "units"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_nwb(mixed, modality="spikes")

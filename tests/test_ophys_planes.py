"""A calcium file with two imaging planes, laid out as a Suite2p conversion writes it: the plane asked for is the one
inspected, embedded and annotated, and the vectors stored for it are read back with its own ROI traces; with a table
per plane in each file, the hand features and labels of the table read are those of its own plane."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from reader_files import suite2p_like_file
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.model import train
from nwb_neurpir.store import read_embeddings
from nwb_neurpir.testing import tiny_config
from nwb_neurpir.workflows.annotated import activity_source
from nwb_neurpir.workflows.probe_inputs import frame_hand_features, recording_hand_features

PLANE1 = "processing/ophys/ImageSegmentation/PlaneSegmentationPlane1"
PLANE1_TRACES = "processing/ophys/Fluorescence/RoiResponseSeriesPlane1"
OTHER_PLANE = "processing/ophys/ImageSegmentation/OtherPlane"


def test_the_second_plane_is_inspected_annotated_and_read_back_with_its_own_traces(tmp_path: Path) -> None:
    path = suite2p_like_file(tmp_path)
    runner = CliRunner()
    default = runner.invoke(app, ["inspect", str(path)])
    assert default.exit_code == 0 and "traces from /processing/ophys/Fluorescence/RoiResponseSeries\n" in default.stdout
    inspected = runner.invoke(app, ["inspect", str(path), "--series", "PlaneSegmentationPlane1", "--json"])
    (summary,) = json.loads(inspected.stdout)
    assert (summary["n_neurons"], summary["activity_series"]) == (3, PLANE1_TRACES)

    planes = [read_nwb(path), read_nwb(path, series="PlaneSegmentationPlane1")]
    train(planes, tiny_config(context="none", batch_size=6), out_dir=tmp_path / "model", progress=False)
    annotated = runner.invoke(app, ["annotate", str(tmp_path / "model"), str(path), "--series",
                                    "RoiResponseSeriesPlane1", "--json", "--no-progress"])
    assert annotated.exit_code == 0, annotated.output
    stored = read_embeddings(path)
    assert stored.attrs["neuron_table"] == PLANE1 and list(stored["neuron_id"]) == [0, 1, 2]
    assert f"Calcium traces read from /{PLANE1_TRACES}." in stored.attrs["model"]["description"]
    assert stored.attrs["model"]["hyperparameters"]["embedding"] == {"unit_filter": None,
                                                                     "activity_series": PLANE1_TRACES}
    sessions = json.loads((tmp_path / "model" / "model.json").read_text())["training"]["sessions"]
    assert [s["activity_series"] for s in sessions] == ["processing/ophys/Fluorescence/RoiResponseSeries",
                                                        PLANE1_TRACES]
    assert [(s["location"], s["neuron_table"]) for s in sessions] == [(str(path.resolve()), planes[0].neuron_table),
                                                                      (str(path.resolve()), PLANE1)]

    source, reading = activity_source(path)  # what evaluate and the label probe read for these vectors
    assert (source, reading) == (str(path), {"series": PLANE1_TRACES})
    again = read_nwb(source, **reading)
    np.testing.assert_array_equal(again.activity, planes[1].activity)


def _two_plane_file(folder: Path, subject_id: str, seed: int) -> Path:
    """Plane 0 (6 ROIs, Pvalb/Sst/Vip) and ``OtherPlane`` (4 ROIs, ids 0..3 as plane 0's, cell types X/Y, other
    traces), with the default embedding table over plane 0 and ``OtherEmb`` (sorting after it) over ``OtherPlane``;
    the vectors are random (what is checked is which neurons they are read with)."""
    from pynwb.ophys import RoiResponseSeries

    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import write_embeddings
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=6, n_frames=600, seed=seed, subject_id=subject_id, session_id=f"s{seed}",
                                 with_context=False)
    ophys = nwbfile.processing["ophys"]
    other = ophys["ImageSegmentation"].create_plane_segmentation(
        name="OtherPlane", description="plane 1", imaging_plane=nwbfile.imaging_planes["plane0"])
    other.add_column("cell_type", "type of the ROI")
    for index in range(4):
        other.add_roi(image_mask=np.eye(16, dtype=np.float32) * (index + 1), cell_type="XY"[index % 2])
    traces = np.random.default_rng(seed + 100).gamma(1.0 + 3.0 * (np.arange(4) % 2), size=(600, 4))
    ophys["DfOverF"].add_roi_response_series(RoiResponseSeries(
        name="OtherSeries", data=traces.astype(np.float32), unit="n.a.", rate=30.0,
        rois=other.create_roi_table_region(region=[0, 1, 2, 3], description="plane 1 ROIs")))
    path = write_nwbfile(nwbfile, folder / f"sub-{subject_id}.nwb")
    rng = np.random.default_rng(seed)
    for ids, table, name in ((np.arange(6), "processing/ophys/ImageSegmentation/PlaneSegmentation",
                              "NeurPIREmbeddings"), (np.arange(4), OTHER_PLANE, "OtherEmb")):
        write_embeddings(path, ids, rng.normal(size=(ids.size, 4)).astype(np.float32),
                         ModelProvenance({}, "ab" * 32, ["elsewhere"]), neuron_table=table, name=name,
                         progress=False)
    return path


@pytest.fixture(scope="module")
def two_plane_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three animals' files, each with an embedding table per plane (``_two_plane_file``)."""
    folder = tmp_path_factory.mktemp("two-planes")
    return [_two_plane_file(folder, subject, seed) for seed, subject in enumerate("abc")]


def test_hand_features_of_a_table_over_the_second_plane_are_read_from_that_plane(two_plane_files: list) -> None:
    import nwb_neurpir as npir

    frame = npir.read_embeddings(two_plane_files[0], name="OtherEmb", predictions=False)
    assert set(frame["neuron_table"]) == {OTHER_PLANE}
    matrix, columns, _ = frame_hand_features(frame)
    mine = read_nwb(two_plane_files[0], series="OtherPlane")
    plane0 = read_nwb(two_plane_files[0])
    expected = recording_hand_features(mine, frame["neuron_id"].to_numpy(), columns)
    np.testing.assert_allclose(matrix, expected)
    assert not np.allclose(matrix, recording_hand_features(plane0, frame["neuron_id"].to_numpy(), columns))


def test_evaluate_reads_the_labels_of_the_plane_of_the_table_it_is_given(two_plane_files: list) -> None:
    import nwb_neurpir as npir

    result = npir.evaluate(two_plane_files, label="cell_type", embeddings_name="OtherEmb", methods="neurpir,hand",
                           progress=False)
    predictions = result.predictions_table()
    assert result.n_neurons == 3 * 4 and set(predictions["true"]) == {"X", "Y"}
    assert set(predictions["method"]) == {"neurpir", "hand"}

"""A calcium file with two imaging planes, laid out as a Suite2p conversion writes it: the plane asked for is the one
inspected, embedded and annotated, and the vectors stored for it are read back with its own ROI traces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from reader_files import suite2p_like_file
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.model import train
from nwb_neurpir.store import read_embeddings
from nwb_neurpir.testing import tiny_config
from nwb_neurpir.workflows.annotated import activity_source

PLANE1 = "processing/ophys/ImageSegmentation/PlaneSegmentationPlane1"
PLANE1_TRACES = "processing/ophys/Fluorescence/RoiResponseSeriesPlane1"


def test_the_second_plane_is_inspected_annotated_and_read_back_with_its_own_traces(tmp_path: Path) -> None:
    path = suite2p_like_file(tmp_path)
    runner = CliRunner()
    default = runner.invoke(app, ["inspect", str(path)])
    assert default.exit_code == 0 and "traces from /processing/ophys/Fluorescence/RoiResponseSeries\n" in default.stdout
    inspected = runner.invoke(app, ["inspect", str(path), "--series", "PlaneSegmentationPlane1", "--json"])
    (summary,) = json.loads(inspected.stdout)
    assert (summary["n_neurons"], summary["activity_series"]) == (3, PLANE1_TRACES)

    planes = [read_nwb(path), read_nwb(path, ophys_series="PlaneSegmentationPlane1")]
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

    source, reading = activity_source(path)  # what evaluate and the label probe read for these vectors
    assert (source, reading) == (str(path), {"ophys_series": PLANE1})
    again = read_nwb(source, **reading)
    np.testing.assert_array_equal(again.activity, planes[1].activity)

"""Files holding units and a plane imaged in two channels (``DfOverFSeries`` and ``DfOverFSeriesRed`` over one
``PlaneSegmentation``): vectors made from the second channel get their hand features from that channel (evaluate,
the label probe, predict), a ``--series`` contradicting the vectors' is refused, a repeated ``--series`` too, and
reading the plane without ``--series`` warns about the channel left out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.store import read_predictions
from nwb_neurpir.workflows.annotated import activity_source
from nwb_neurpir.workflows.probe_inputs import frame_hand_features, recording_hand_features

GREEN = "processing/ophys/DfOverF/DfOverFSeries"
RED = "processing/ophys/DfOverF/DfOverFSeriesRed"
PLANE = "processing/ophys/ImageSegmentation/PlaneSegmentation"


def _two_channel_file(folder: Path, subject_id: str, seed: int) -> Path:
    """Units (3) and 9 ROIs whose green traces are ``make_ophys_nwbfile``'s and whose red ones are other,
    cell-type-dependent traces; an embedding table ``red`` over the ROIs, recorded as made from the red channel
    (random vectors: what is checked is which traces they are read with)."""
    from pynwb.ophys import RoiResponseSeries

    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import write_embeddings
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=9, n_frames=600, seed=seed, subject_id=subject_id, session_id=f"s{seed}",
                                 with_context=False)
    rng = np.random.default_rng(seed + 100)
    for unit in range(3):
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(0, 20, 200 + 50 * unit)))
    ophys = nwbfile.processing["ophys"]
    rois = ophys["ImageSegmentation"]["PlaneSegmentation"]
    red = rng.gamma(1.0 + 4.0 * (np.arange(9) % 3), size=(600, 9)).astype(np.float32)
    ophys["DfOverF"].add_roi_response_series(RoiResponseSeries(
        name="DfOverFSeriesRed", data=red, unit="n.a.", rate=30.0,
        rois=rois.create_roi_table_region(region=list(range(9)), description="the ROIs, red channel")))
    path = write_nwbfile(nwbfile, folder / f"sub-{subject_id}.nwb")
    provenance = ModelProvenance({"embedding": {"unit_filter": None, "activity_series": RED}}, "ab" * 32, ["x"])
    write_embeddings(path, np.arange(9), np.random.default_rng(seed).normal(size=(9, 4)).astype(np.float32),
                     provenance, neuron_table=PLANE, name="red", progress=False)
    return path


@pytest.fixture(scope="module")
def two_channel_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three animals' files (``_two_channel_file``)."""
    folder = tmp_path_factory.mktemp("two-channels")
    return [_two_channel_file(folder, subject, seed) for seed, subject in enumerate("abc")]


def test_the_hand_features_of_red_vectors_are_read_from_the_red_channel(two_channel_files: list) -> None:
    path = two_channel_files[0]
    assert activity_source(path) == (str(path), {"series": RED})
    frame = npir.read_embeddings(path, name="red", predictions=False)
    matrix, columns, _ = frame_hand_features(frame)
    ids = frame["neuron_id"].to_numpy()
    np.testing.assert_allclose(matrix, recording_hand_features(read_nwb(path, series=RED), ids, columns))
    assert not np.allclose(matrix, recording_hand_features(read_nwb(path, series=GREEN), ids, columns))


def test_a_sidecar_of_red_vectors_names_the_red_channel_of_its_source(two_channel_files: list,
                                                                      tmp_path: Path) -> None:
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import annotate_recording
    from nwb_neurpir.workflows.annotation import as_embedded

    recording = read_nwb(two_channel_files[0], series="DfOverFSeriesRed")
    provenance = as_embedded(ModelProvenance({}, "cd" * 32, ["x"]), recording, [])
    written = annotate_recording(recording, np.zeros((9, 4), dtype=np.float32), provenance, name="red", sidecar=True,
                                 output_dir=tmp_path, progress=False)
    assert written.kind == "sidecar"
    assert activity_source(written.path) == (str(two_channel_files[0]), {"series": RED})
    with pytest.raises(NeurPIRError, match=f"--series units contradicts the embeddings, made from /{RED}"):
        activity_source(written.path, series="units")


def _hand_predictions(result: npir.EvaluationResult) -> list:
    """The hand baseline's prediction of each neuron, by animal and neuron id."""
    table = result.predictions_table()
    return table[table["method"] == "hand"].sort_values(["subject", "neuron_id"])[
        ["subject", "neuron_id", "predicted"]].to_numpy().tolist()


def _red_hand_predictions(files: list) -> list:
    red = [read_nwb(path, series="DfOverFSeriesRed", keep_spike_times=True) for path in files]
    return _hand_predictions(npir.evaluate(red, label="cell_type", methods="hand", progress=False))


def test_evaluate_scores_the_hand_baseline_on_the_channel_the_vectors_came_from(two_channel_files: list) -> None:
    annotated = npir.evaluate(two_channel_files, label="cell_type", embeddings_name="red", methods="neurpir,hand",
                              progress=False)
    assert _hand_predictions(annotated) == _red_hand_predictions(two_channel_files)


def test_hand_features_alone_read_the_series_given_in_annotated_files(two_channel_files: list) -> None:
    alone = npir.evaluate(two_channel_files, label="cell_type", methods="hand", series="DfOverFSeriesRed",
                          progress=False)
    assert _hand_predictions(alone) == _red_hand_predictions(two_channel_files)


@pytest.mark.parametrize("series", ["units", "DfOverFSeries"])
def test_evaluate_refuses_a_series_that_contradicts_the_embeddings(two_channel_files: list, series: str) -> None:
    done = CliRunner().invoke(app, ["evaluate", *map(str, two_channel_files), "--label", "cell_type",
                                    "--embeddings", "red", "--methods", "neurpir,hand", "--series", series])
    assert done.exit_code == 1
    assert done.output == (f"error: {two_channel_files[0]}: --series {series} contradicts the embeddings, made from "
                           f"/{RED}; leave --series out (the vectors' own traces are read) or pick the embeddings "
                           "of that series with --embeddings\n")


@pytest.mark.parametrize("series", ["DfOverFSeriesRed", "PlaneSegmentation"])
def test_evaluate_takes_a_series_naming_the_embeddings_own(two_channel_files: list, series: str) -> None:
    result = npir.evaluate(two_channel_files, label="cell_type", embeddings_name="red", methods="hand",
                           series=series, progress=False)
    assert result.n_neurons == 27


def test_predict_reads_the_hand_features_of_the_vectors_channel(two_channel_files: list, tmp_path: Path) -> None:
    probe = npir.LabelProbe("cell_type").fit(two_channel_files[:2], "red")
    assert probe.reads_hand_features
    target = Path(shutil.copy(two_channel_files[2], tmp_path / "target.nwb"))
    frame = npir.read_embeddings(target, name="red", predictions=False)
    ids, vectors = frame["neuron_id"].to_numpy(), np.stack(frame["embedding"])
    expected = probe.predict_proba(vectors, read_nwb(target, series=RED, bin_size=probe.hand_bin_size_), ids)
    green = probe.predict_proba(vectors, read_nwb(target, series=GREEN, bin_size=probe.hand_bin_size_), ids)
    assert not np.allclose(expected, green)
    for series in (None, "DfOverFSeriesRed"):
        npir.predict(probe, target, embeddings="red", series=series, overwrite=True, progress=False)
        stored = read_predictions(target)
        np.testing.assert_allclose(np.stack(stored["probability"]), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(NeurPIRError, match=f"--series DfOverFSeries contradicts the embeddings, made from /{RED}"):
        npir.predict(probe, target, embeddings="red", series="DfOverFSeries", overwrite=True, progress=False)


def test_reading_the_plane_warns_about_the_other_channel(two_channel_files: list) -> None:
    with pytest.warns(UserWarning, match=f"read the ROIs of {PLANE} from {GREEN}; the other DfOverF traces of these "
                                         rf"ROIs \(another channel\?\) are not read: {RED} \(choose one with "
                                         "--series"):
        recording = read_nwb(two_channel_files[0], modality="ophys")
    assert recording.activity_series == GREEN


@pytest.mark.parametrize("command", [["inspect"], ["train", "--out", "model"], ["evaluate", "--label", "cell_type"],
                                     ["annotate", "model"], ["embed", "model", "--out", "vectors.npz"],
                                     ["predict", "model"]])
def test_a_repeated_series_is_refused(two_channel_files: list, command: list, tmp_path: Path) -> None:
    name, *rest = command
    arguments = [name, *rest[:1], str(two_channel_files[0]), *rest[1:]] if name in ("annotate", "embed", "predict") \
        else [name, str(two_channel_files[0]), *rest]
    done = CliRunner().invoke(app, [*arguments, "--series", "DfOverFSeries", "--series", "DfOverFSeriesRed"])
    assert done.exit_code == 1
    assert done.output == ("error: --series is given 2 times; a run reads one series (or units table) of each "
                           "file: run the command once per series\n")

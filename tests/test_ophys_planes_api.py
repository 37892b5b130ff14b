"""A Suite2p-like file with two imaging planes (ROI ids 0.. in each) through the Python API and the commands: the
estimator's rows say which plane's neuron they are, embeddings of one plane never silently replace the other's,
``inspect`` says whose neurons a stored table holds and names an empty label value, ``embed`` warns about ROIs
without activity, the estimator exposes ``training_summary_``, and ``NEURPIR_PROGRESS`` governs the API's bars."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from reader_files import suite2p_like_file
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.testing import tiny_config

PLANE0 = "processing/ophys/ImageSegmentation/PlaneSegmentation"
PLANE1 = "processing/ophys/ImageSegmentation/PlaneSegmentationPlane1"


@pytest.fixture(scope="module")
def two_planes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, npir.NeurPIR, Path]:
    """The two-plane file, an estimator fitted on both of its planes, and that model's folder."""
    folder = tmp_path_factory.mktemp("planes")
    path = suite2p_like_file(folder)
    planes = [*npir.open_recordings(path, progress=False),
              *npir.open_recordings(path, series="PlaneSegmentationPlane1", progress=False)]
    estimator = npir.NeurPIR(**tiny_config(context="none", batch_size=6, max_steps=2).to_dict())
    estimator.fit(planes, progress=False)
    return path, estimator, estimator.save(folder / "model")


def _copy(path: Path, folder: Path) -> Path:
    return Path(shutil.copy(path, folder / path.name))


def test_transform_rows_name_the_neuron_table_of_each_plane(two_planes: tuple) -> None:
    path, estimator, _ = two_planes
    planes = [*npir.open_recordings(path, progress=False),
              *npir.open_recordings(path, series="PlaneSegmentationPlane1", progress=False)]
    frame = estimator.transform(planes, progress=False)
    assert list(frame.columns[:4]) == ["subject_id", "session_id", "neuron_id", "neuron_table"]
    assert frame["neuron_table"].tolist() == [PLANE0] * 4 + [PLANE1] * 3
    assert frame["neuron_id"].tolist() == [0, 1, 2, 3, 0, 1, 2]  # ids shared by the planes: the table tells them apart
    assert not frame.duplicated(["file", "neuron_table", "neuron_id"]).any()


def test_the_estimator_exposes_what_training_did(two_planes: tuple) -> None:
    _, estimator, _ = two_planes
    assert estimator.training_summary_ is estimator.model_.training_summary_
    assert estimator.training_summary_["steps"] == 2 and estimator.training_summary_["resumed_from_step"] is None
    unfitted = npir.NeurPIR()
    with pytest.raises(npir.NotFittedError, match="not fitted yet"):
        unfitted.training_summary_  # noqa: B018
    assert not hasattr(unfitted, "training_summary_") and not hasattr(unfitted, "model_")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        estimator.nope  # noqa: B018


def test_annotating_the_other_plane_under_a_taken_name_is_refused_with_whose_neurons_they_are(
        two_planes: tuple, tmp_path: Path) -> None:
    path, _, model = two_planes
    path = _copy(path, tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["annotate", str(model), str(path), "--no-progress"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["annotate", str(model), str(path), "--series", "PlaneSegmentationPlane1",
                                 "--no-progress"])
    assert second.exit_code == 1
    said = " ".join(second.output.split())
    assert (f"already has embeddings named 'NeurPIREmbeddings' in processing/neurpir, of the neurons of /{PLANE0}, "
            f"not of /{PLANE1}; give these another name with --name NAME (name=...) to keep both" in said), said
    kept = npir.read_embeddings(path, predictions=False)
    assert kept["neuron_table"].tolist() == [PLANE0] * 4

    named = runner.invoke(app, ["annotate", str(model), str(path), "--series", "PlaneSegmentationPlane1",
                                "--name", "plane1", "--no-progress"])
    assert named.exit_code == 0, named.output
    assert {table: len(npir.read_embeddings(path, table, predictions=False))
            for table in ("NeurPIREmbeddings", "plane1")} == {"NeurPIREmbeddings": 4, "plane1": 3}
    inspected = runner.invoke(app, ["inspect", str(path), "--no-progress"])
    assert f"embeddings neurpir/NeurPIREmbeddings: 4 neurons of /{PLANE0}, model " in inspected.stdout
    assert f"embeddings neurpir/plane1: 3 neurons of /{PLANE1}, model " in inspected.stdout
    (summary,) = npir.inspect(path, progress=False).files
    assert [table["neuron_table"] for table in summary["embeddings"]] == [PLANE0, PLANE1]

    again = runner.invoke(app, ["annotate", str(model), str(path), "--overwrite", "--no-progress"])
    assert again.exit_code == 0, again.output  # --overwrite still replaces the table of the same plane


def test_writing_embeddings_keeps_the_overwrite_advice_for_the_same_table(two_planes: tuple, tmp_path: Path) -> None:
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import write_embeddings

    path = _copy(two_planes[0], tmp_path)
    provenance = ModelProvenance({}, "ab" * 32, ["elsewhere"])
    write_embeddings(path, [0, 1, 2, 3], np.ones((4, 2)), provenance, neuron_table=PLANE0, progress=False)
    with pytest.raises(NeurPIRError, match="in processing/neurpir; use --overwrite \\(overwrite=True\\) to replace"):
        write_embeddings(path, [0, 1], np.ones((2, 2)), provenance, neuron_table=PLANE0, progress=False)
    with pytest.raises(NeurPIRError, match=f"of the neurons of /{PLANE0}, not of /{PLANE1}; give these another name"):
        write_embeddings(path, [0, 1], np.ones((2, 2)), provenance, neuron_table=PLANE1, progress=False)
    write_embeddings(path, [0, 1], np.ones((2, 2)), provenance, neuron_table=PLANE1, overwrite=True, progress=False)
    assert npir.read_embeddings(path, predictions=False)["neuron_table"].tolist() == [PLANE1] * 2


def _rejected_and_dark_rois(folder: Path) -> Path:
    """A calcium file whose ROI 0 has an empty cell type (a rejected ROI) and ROI 1 no finite trace value."""
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=4, n_frames=300, with_context=False)
    ophys = nwbfile.processing["ophys"]
    ophys["ImageSegmentation"]["PlaneSegmentation"]["cell_type"].data[0] = ""
    for series in (ophys["Fluorescence"]["RoiResponseSeries"], ophys["DfOverF"]["DfOverFSeries"]):
        series.data[:, 1] = np.nan
    return write_nwbfile(nwbfile, folder / "rejected.nwb")


def test_inspect_names_an_empty_label_and_embed_warns_of_rois_without_activity(two_planes: tuple,
                                                                                tmp_path: Path) -> None:
    path = _rejected_and_dark_rois(tmp_path)
    runner = CliRunner()
    inspected = runner.invoke(app, ["inspect", str(path), "--no-progress"])
    assert "  label cell_type: (empty) 1, " in inspected.stdout, inspected.stdout

    from nwb_neurpir.workflows.embedding_export import embed_sources

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embedded = embed_sources(two_planes[2], [str(path)], progress=False)
    (vectors,) = [vectors for _, vectors in embedded.rows]
    assert np.isnan(vectors[1]).all() and np.isfinite(np.delete(vectors, 1, axis=0)).all()
    assert [str(w.message) for w in caught if "observed" in str(w.message)] == [
        f"{path}: 1 neurons have no observed activity and get NaN vectors"]


def test_neurpir_progress_decides_the_api_bars_unless_the_call_does(two_planes: tuple, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    path, estimator, _ = two_planes
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.nwb", "b.nwb"):
        shutil.copy(path, folder / name)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)

    def bars(call: object) -> str:
        capsys.readouterr()
        call()  # type: ignore[operator]
        return capsys.readouterr().err

    monkeypatch.setenv("NEURPIR_PROGRESS", "0")
    assert "reading" not in bars(lambda: npir.open_recordings(folder))
    assert "embed" not in bars(lambda: estimator.transform(path))
    assert "reading" in bars(lambda: npir.open_recordings(folder, progress=True))  # the call decides over it
    monkeypatch.delenv("NEURPIR_PROGRESS")
    assert "reading" in bars(lambda: npir.open_recordings(folder))
    assert "embed" in bars(lambda: estimator.transform(path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert "reading" not in bars(lambda: npir.open_recordings(folder))

"""The top-level API (``import nwb_neurpir as npir``) end to end on simulated NWB files: estimator, annotate,
read_embeddings of many files, LabelProbe, predict (Python and CLI), pynapple, and DANDI/NWB validators."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hardening_support import CliForkServer
from reader_files import SECOND_SORTING, two_sortings_file

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import NeurPIRConfig
from nwb_neurpir.testing import tiny_config
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s

pytest_plugins = ["hardening_fixtures"]  # cli_server: `neurpir` commands forked from a warm interpreter

TINY = tiny_config(max_steps=2).to_dict()
CLASSES = ["CH", "FS", "IB", "LTS", "RS"]
RESULT_TYPES = ("AnnotateOutcome", "EvaluationResult", "Inspection", "NotFittedError", "PredictOutcome", "Recording")
"""Exported for annotations: what the workflow functions return (or raise), with a docstring but no example."""


@pytest.fixture(scope="module")
def fitted(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[npir.NeurPIR, Path]:
    folder = tmp_path_factory.mktemp("model") / "model"
    recordings = npir.open_recordings(simulated, progress=False)
    model = npir.NeurPIR(**TINY).fit(recordings, checkpoint_dir=folder, progress=False)
    return model, folder


def _copy(simulated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(simulated, tmp_path / "data"))


def test_import_is_lazy_and_names_are_documented() -> None:
    code = "import sys, nwb_neurpir; print(sorted(m for m in ('torch', 'pynwb', 'cebra', 'pynapple', 'sklearn') " \
           "if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    code = "import sys, nwb_neurpir.cli.app as app; app._fail('a user error'); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # the CLI's error path asks which rank it is in without scikit-learn
    for name in npir.__all__:
        if name != "__version__":
            doc = getattr(npir, name).__doc__
            assert doc and (">>>" in doc or name in RESULT_TYPES), name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        npir.nope  # noqa: B018


def test_parameters_follow_the_config_dataclass() -> None:
    import inspect

    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    model = npir.NeurPIR(max_steps=7)
    assert set(model.get_params()) == {f.name for f in fields(NeurPIRConfig)}
    assert model.get_params()["max_steps"] == 7 and model.max_steps == 7 and repr(model) == "NeurPIR(max_steps=7)"
    assert model.set_params(seed=4) is model and model.config.seed == 4
    assert clone(model).get_params() == model.get_params()
    assert list(inspect.signature(npir.NeurPIR).parameters) == [f.name for f in fields(NeurPIRConfig)]  # help()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_errors_are_scikit_learns_and_values_are_checked_by_fit(tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.estimator_checks import check_do_not_raise_errors_in_init_or_set_params, check_set_params

    with pytest.raises(NotFittedError, match="not fitted yet") as caught:  # scikit-learn's, caught as such
        npir.NeurPIR().transform([])
    assert isinstance(caught.value, npir.NotFittedError) and isinstance(caught.value, AttributeError)
    with pytest.raises(ValueError, match="no parameter 'max_step'; did you mean 'max_steps'") as caught:
        npir.NeurPIR().set_params(max_step=1)
    assert isinstance(caught.value, NeurPIRError)  # the CLI prints it on one line
    for name, value, message in (("batch_size", 0, "batch_size must be at least 1"),
                                 ("device", "gpu", "device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'")):
        model = npir.NeurPIR(**{name: value})  # kept as given, as scikit-learn estimators keep their parameters
        assert model.get_params()[name] == value
        with pytest.raises(ValueError, match=message):
            model.fit(tmp_path / "missing")  # checked before any file is read
    model = npir.NeurPIR().set_params(segment_length_min=20.0)  # bound to segment_length_max: one at a time
    assert model.set_params(segment_length_max=30.0).config.segment_length_min == 20.0
    check_set_params("NeurPIR", npir.NeurPIR())
    check_do_not_raise_errors_in_init_or_set_params("NeurPIR", npir.NeurPIR())


def test_numpy_scalars_from_a_parameter_grid_are_parameters() -> None:
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    for params in ParameterGrid({"max_steps": np.arange(50, 101, 50), "learning_rate": [np.float32(1e-3)]}):
        model = clone(npir.NeurPIR(**params))  # clone checks that the parameters are kept as given
        assert type(model.config.max_steps) is int and type(model.config.learning_rate) is float


@pytest.mark.parametrize("items", [np.random.default_rng(0).random((10, 3)), [1, 2], [np.zeros(5)], 5,
                                   ["sim/sub-sim01", 2.5]])
def test_items_that_are_not_sources_are_a_type_error(items: object) -> None:
    with pytest.raises(TypeError, match=r"expected sources \(.*\) or Recording objects, not (ndarray|int|float)"):
        npir.NeurPIR(**TINY).fit(items, progress=False)


def test_any_path_like_item_is_read_as_a_path(simulated: Path) -> None:
    from nwb_neurpir.workflows.recordings import as_recordings

    class PathLike:  # as py.path.local or a cloud library's path: os.PathLike, not a pathlib.Path
        def __fspath__(self) -> str:
            return str(simulated / "sub-sim01")

    assert [recording.subject_id for recording in as_recordings([PathLike()], progress=False)] == ["sim01"]


def test_an_nwbfile_open_in_a_notebook_stands_for_its_file(fitted: tuple, simulated: Path, tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO

    from nwb_neurpir.testing import make_spikes_nwbfile

    path = sorted(_copy(simulated, tmp_path).rglob("*.nwb"))[0]
    with NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        vectors = fitted[0].transform(nwbfile)
        assert vectors["neuron_id"].tolist() == fitted[0].transform(path)["neuron_id"].tolist()
        assert [o.status for o in npir.annotate(fitted[1], [nwbfile], progress=False)] == ["in-place"]
    with NWBHDF5IO(str(path), "r") as io:
        assert len(npir.read_embeddings(io.read())) == len(vectors)
    with pytest.raises(TypeError, match="NWBFile .* was built in memory, not read from a file: write it with pynwb"):
        fitted[0].transform(make_spikes_nwbfile())

def test_the_training_summary_has_the_keys_its_docstring_names(fitted: tuple, tmp_path: Path) -> None:
    from nwb_neurpir.model.estimator import THIS_RUN

    model, _ = fitted
    named = set(re.findall(r"``(\w+)``", str(npir.NeurPIR.training_summary_.__doc__))) - {"fit", "NotFittedError"}
    assert set(model.training_summary_) == named
    assert set(npir.NeurPIR.load(model.save(tmp_path / "saved")).training_summary_) == named - set(THIS_RUN)


def test_fit_transform_save_load_and_resume(fitted: tuple, simulated: Path, tmp_path: Path) -> None:
    model, folder = fitted
    frame = model.transform(simulated, progress=False)
    assert len(frame) == 75 and frame.groupby("subject_id").size().to_dict() == {"sim01": 25, "sim02": 25,
                                                                                  "sim03": 25}
    assert {"subject_id", "session_id", "neuron_id", "embedding", "cell_type", "file"} <= set(frame.columns)
    assert np.stack(frame["embedding"]).shape == (75, 8)
    loaded = npir.NeurPIR.load(model.save(tmp_path / "saved"))
    assert loaded.get_params()["max_steps"] == 2
    np.testing.assert_allclose(np.stack(loaded.transform(simulated, progress=False)["embedding"]),
                               np.stack(frame["embedding"]), rtol=1e-5, atol=1e-6)
    assert (folder / "checkpoints" / "LATEST").is_file()
    copy = Path(shutil.copytree(folder, tmp_path / "resumed"))
    resumed = npir.NeurPIR(**{**TINY, "max_steps": 4}).fit(simulated, checkpoint_dir=copy, progress=False)
    history = [entry["step"] for entry in resumed.model_.training_summary_["history"]]
    assert history == [2, 4]  # continued from the 2-step checkpoint, not started over


def test_the_modality_parameter_picks_the_files_of_a_mixed_folder(fitted: tuple, simulated: Path,
                                                                    tmp_path: Path) -> None:
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    data = _copy(simulated, tmp_path)
    write_nwbfile(make_ophys_nwbfile(n_rois=5, n_frames=100, with_context=False), data / "rois_ophys.nwb")
    spikes_only = {**TINY, "modality": "spikes"}
    frame = npir.NeurPIR(**spikes_only).fit_transform(data, progress=False)  # fit read it as spikes; so does this
    assert len(frame) == 75 and not frame["file"].str.endswith("rois_ophys.nwb").any()
    result = npir.evaluate(data, label="cell_type", model=npir.NeurPIR(**spikes_only), methods=["neurpir"],
                           split="kfold", n_splits=2, transductive=True, progress=False)
    assert result.method("neurpir").n_scored == 75


def test_a_fitted_estimator_pickles_and_bad_input_is_named(fitted: tuple, simulated: Path) -> None:
    import pickle

    from sklearn.utils.validation import check_is_fitted

    model, _folder = fitted
    check_is_fitted(model)
    copy = pickle.loads(pickle.dumps(model))  # joblib and multiprocessing pickle estimators
    assert copy.provenance().checkpoint_sha256 == model.provenance().checkpoint_sha256
    assert copy.model_.config == model.model_.config  # runtime settings too, not only what a folder records
    np.testing.assert_array_equal(np.stack(copy.transform(simulated, progress=False)["embedding"]),
                                  np.stack(model.transform(simulated, progress=False)["embedding"]))
    with pytest.raises(TypeError, match="expected sources .* or Recording objects, not int"):
        model.transform(5)


def test_fit_takes_and_ignores_y_as_scikit_learn_transformers_do(simulated: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    recordings = npir.open_recordings(simulated, progress=False)
    labels = np.concatenate([recording.neuron_metadata["cell_type"] for recording in recordings])
    fitted = npir.NeurPIR(**TINY).fit(recordings, labels, progress=False)
    assert fitted.__sklearn_is_fitted__()
    assert len(npir.NeurPIR(**TINY).fit_transform(recordings, labels, progress=False)) == len(labels)
    monkeypatch.chdir(tmp_path)
    for call in (npir.NeurPIR(**TINY).fit, npir.NeurPIR(**TINY).fit_transform):
        with pytest.raises(TypeError, match="second argument is y .* checkpoint_dir='cell_type'"):
            call(recordings, "cell_type", progress=False)  # the old fit(recordings, folder)
    assert not (tmp_path / "cell_type").exists()


def test_a_second_training_run_into_a_busy_model_folder_is_refused(simulated: Path, tmp_path: Path) -> None:
    from nwb_neurpir.store.target_lock import held_lock
    from nwb_neurpir.workflows.estimator import TRAINING_LOCK

    folder = tmp_path / "model"
    folder.mkdir()
    recordings = npir.open_recordings(simulated, progress=False)
    with held_lock(folder / TRAINING_LOCK, timeout=0.0):  # as a first run holds it
        with pytest.raises(NeurPIRError, match="another training run is writing this model folder"):
            npir.NeurPIR(**TINY).fit(recordings, checkpoint_dir=folder, progress=False)
    assert list(folder.iterdir()) == []
    npir.NeurPIR(**TINY).fit(recordings, checkpoint_dir=folder, progress=False)  # free again
    assert (folder / "manifest.json").is_file() and not (folder / TRAINING_LOCK).exists()


def test_the_training_lock_is_inside_the_model_folder(simulated: Path, tmp_path: Path) -> None:
    """A run writes nothing beside its model folder (whose parent the user may not write); a folder it cannot make
    is one line naming it; a first run that fails leaves no folder, and one killed leaves only its lock file, which
    does not make the folder look foreign to the next run."""
    from nwb_neurpir.store.atomic import lock_path
    from nwb_neurpir.store.target_lock import held_lock
    from nwb_neurpir.workflows.estimator import TRAINING_LOCK
    from nwb_neurpir.workflows.training import check_out

    folder = tmp_path / "model"
    recordings = npir.open_recordings(simulated, progress=False)
    with held_lock(lock_path(folder.absolute()), timeout=0.0):  # where the lock used to be: beside the folder
        npir.NeurPIR(**TINY).fit(recordings, checkpoint_dir=folder, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"] and (folder / "manifest.json").is_file()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(NeurPIRError, match=r"a-file/model: cannot write to the model folder \(Not a directory\)"):
        npir.NeurPIR(**TINY).fit(recordings, checkpoint_dir=tmp_path / "a-file" / "model", progress=False)
    with pytest.raises(NeurPIRError, match="unknown context_architecture"):  # fails once training has started
        npir.NeurPIR(**{**TINY, "context_architecture": "no-such"}).fit(recordings, checkpoint_dir=tmp_path / "new",
                                                                        progress=False)
    assert not (tmp_path / "new").exists()
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / TRAINING_LOCK).touch()
    check_out(killed)


def test_annotate_and_read_many_files(fitted: tuple, simulated: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from nwb_neurpir.model import NeurPIR as TrainedModel

    data = _copy(simulated, tmp_path)
    outcomes = npir.annotate(fitted[1], data, progress=False)
    assert [outcome.status for outcome in outcomes] == ["in-place"] * 3
    files = sorted(data.rglob("*.nwb"))
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    monkeypatch.setattr(TrainedModel, "embed", lambda *_args, **_kwargs: pytest.fail("embedded before deciding"))
    again = npir.annotate(fitted[1], data, progress=False)  # the same model, neurons and settings: left as they are
    assert [(o.status, o.n_neurons, o.error) for o in again] == [("unchanged", 25, None)] * 3
    assert sorted(Path(o.path) for o in again) == files and sorted(data.rglob("*")) == sorted(
        [*files, *{path.parent for path in files}])  # no temporary or lock files left
    assert {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in files} == before
    filtered = npir.annotate(fitted[1], data, unit_filter="cell_type == 'RS'", raise_on_failure=False,
                             progress=False)  # other vectors under that name: refused as before
    assert all(o.status == "failed" and "already has embeddings named 'NeurPIREmbeddings'" in o.error
               for o in filtered)
    monkeypatch.undo()
    frame = npir.read_embeddings(data)
    assert len(frame) == 75 and frame["file"].nunique() == 3 and set(frame["subject_id"]) == {"sim01", "sim02",
                                                                                              "sim03"}
    assert frame["session_id"].nunique() == 3 and frame.attrs["model_sha256"] == [fitted[0].provenance()
                                                                                  .checkpoint_sha256]
    scaled = npir.read_embeddings(sorted(data.rglob("*.nwb")), zscore=True)
    for _, block in scaled.groupby("file"):
        matrix = np.stack(block["embedding"])
        np.testing.assert_allclose(matrix.mean(axis=0), 0, atol=1e-5)
    with pytest.raises(NeurPIRError, match="no annotated NWB file"):
        npir.read_embeddings(simulated)
    with pytest.raises(NeurPIRError, match="DANDI:000021/sub-1/sub-1.nwb: embeddings are read from local annotated"):
        npir.read_embeddings(["DANDI:000021/sub-1/sub-1.nwb"])  # refused before any network call
    with pytest.raises(NeurPIRError, match="has no NeurPIR embeddings"):
        npir.read_embeddings(sorted(simulated.rglob("*.nwb"))[0])  # a file named on its own must hold embeddings


def test_annotate_continues_past_an_unreadable_file(fitted: tuple, simulated: Path, tmp_path: Path,
                                                   deny: Callable[[Path], Path]) -> None:
    data = _copy(simulated, tmp_path)
    secret = deny(sorted(data.rglob("*.nwb"))[-1])
    outcomes = npir.annotate(fitted[1], data, raise_on_failure=False, progress=False)
    assert [outcome.status for outcome in outcomes] == ["in-place", "in-place", "failed"]
    assert outcomes[-1].source == str(secret) and "cannot read: permission denied" in outcomes[-1].error


@pytest.fixture(scope="module")
def messy(fitted: tuple, simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Annotated copies whose identities are messy: sim02's file says its animal is 'sim01 ' (one animal, two
    files) and every session id is 'ses1'."""
    from eval_files import set_text

    data = Path(shutil.copytree(simulated, tmp_path_factory.mktemp("messy") / "data"))
    npir.annotate(fitted[1], data, progress=False)
    files = sorted(data.rglob("*.nwb"))
    for path in files:
        set_text(path, "general/session_id", "ses1")
    set_text(files[1], "general/subject/subject_id", "sim01 ")
    return files


def test_unit_columns_named_like_identity_columns_are_kept_under_a_prefix(messy: list[Path], tmp_path: Path) -> None:
    from eval_files import add_unit_column

    files = sorted(Path(shutil.copytree(messy[0].parents[1], tmp_path / "data")).rglob("*.nwb"))
    for name in ("subject_id", "file", "neuron_id"):
        add_unit_column(files[0], name, [f"{name}-{index % 2}" for index in range(25)])
    with pytest.warns(UserWarning, match="column\\(s\\) subject_id, file, neuron_id are read as unit_subject_id, "
                                         "unit_file, unit_neuron_id"):
        frame = npir.read_embeddings(files[0])
    assert frame["unit_subject_id"].tolist() == [f"subject_id-{index % 2}" for index in range(25)]
    assert set(frame["file"]) == {str(files[0])} and set(frame["subject_id"]) == {"sim01"}
    assert frame["neuron_id"].tolist() == list(range(25)) and "unit_neuron_id" in frame.columns
    recording = npir.open_recordings(files[0], progress=False)[0]
    assert recording.neuron_metadata["unit_file"].tolist() == frame["unit_file"].tolist()
    for methods in (["neurpir"], ["neurpir", "hand"], ["hand"]):
        result = npir.evaluate(files, label="cell_type", methods=methods, progress=False)
        assert [fold.name for fold in result.folds] == ["sim01", "sim03"]
    probe = npir.LabelProbe("unit_subject_id", inputs="neurpir").fit(files[0])
    assert probe.classes_ == ["subject_id-0", "subject_id-1"]


def test_annotated_files_give_the_same_animals_and_sessions_with_or_without_their_activity(
        messy: list[Path]) -> None:
    frame = npir.read_embeddings(messy)
    assert frame["subject_id"].unique().tolist() == ["sim01", "sim03"]
    # sim01's two files claim one session: leave-one-session-out holds them out together
    for split, folds in (("animal", ["sim01", "sim03"]), ("session", ["sim01/ses1", "sim03/ses1"])):
        alone, beside = (npir.evaluate(messy, label="cell_type", methods=methods, split=split, progress=False)
                         for methods in (["neurpir"], ["neurpir", "hand"]))
        assert [fold.name for fold in alone.folds] == [fold.name for fold in beside.folds] == folds
        assert alone.method("neurpir").modes == beside.method("neurpir").modes == ["transductive"] * len(folds)
        assert ([score.balanced_accuracy for score in alone.method("neurpir").scores]
                == [score.balanced_accuracy for score in beside.method("neurpir").scores])


def test_annotated_files_say_which_covariates_the_context_read(fitted: tuple, simulated: Path,
                                                                tmp_path: Path) -> None:
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.store import read_embeddings

    path = sorted(_copy(simulated, tmp_path).rglob("*.nwb"))[0]
    npir.annotate(fitted[1], path, progress=False)
    model = read_embeddings(path).attrs["model"]
    read = TrainedModel.load(fitted[1]).context_.columns
    assert "behavior/BehavioralTimeSeries/running_speed" in read
    assert model["hyperparameters"]["context_covariates"] == read
    assert f"Its CEBRA context read {len(read)} covariates of each file: {', '.join(read)}." in model["description"]


@pytest.fixture(scope="module")
def predicted(fitted: tuple, simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Probe fitted on two annotated animals, predictions written into the third animal's (unannotated) file."""
    data = _copy(simulated, tmp_path_factory.mktemp("predicted"))
    model, folder = fitted
    npir.annotate(model, [data / "sub-sim01", data / "sub-sim02"], progress=False)
    probe = npir.LabelProbe("cell_type").fit([data / "sub-sim01", data / "sub-sim02"])
    saved = probe.save(probe.default_folder(folder))
    outcomes = npir.predict(npir.LabelProbe.load(saved), data / "sub-sim03", model=model, progress=False)
    return {"data": data, "probe": probe, "saved": saved, "outcomes": outcomes}


def test_probe_is_fitted_measured_and_saved_without_pickle(predicted: dict, tmp_path: Path) -> None:
    probe, saved = predicted["probe"], predicted["saved"]
    assert probe.classes_ == CLASSES and set(probe.fold_accuracy_) == {"sim01", "sim02"}
    assert 0.0 <= probe.cross_animal_accuracy_ <= 1.0
    assert saved.name == "cell_type" and saved.parent.name == "probes"
    assert sorted(p.name for p in saved.iterdir()) == ["manifest.json", "probe.json", "probe.safetensors"]
    meta = json.loads((saved / "probe.json").read_text())
    assert meta["label"] == "cell_type" and meta["kind"] == "logistic" and len(meta["training_data"]) == 2
    assert meta["inputs"] == "neurpir+hand" and "skewness" not in meta["hand_columns"]  # spikes: spike-train features
    assert {"log_rate_vs_session", "burst_index"} <= set(meta["hand_columns"])
    assert meta["format"] == "nwb-neurpir-probe/3" and meta["hand_isis"] == "spike times"  # as evaluate takes them
    loaded = npir.LabelProbe.load(saved)
    (binned,) = npir.open_recordings(predicted["data"] / "sub-sim03", progress=False)
    (recording,) = npir.open_recordings(predicted["data"] / "sub-sim03", progress=False, keep_spike_times=True)
    vectors = np.random.default_rng(0).normal(size=(25, 8))
    with pytest.raises(NeurPIRError, match="take ISIs from exact spike times.*read it with keep_spike_times=True"):
        loaded.predict_proba(vectors, binned)
    probabilities = probe.predict_proba(vectors, recording)
    np.testing.assert_allclose(loaded.predict_proba(vectors, recording), probabilities, atol=1e-6)
    assert not np.allclose(probe.predict_proba(vectors, recording, recording.neuron_ids[::-1]), probabilities)
    with pytest.raises(NeurPIRError, match="also reads the neurons' hand features: pass the recording"):
        loaded.predict_proba(vectors)
    with pytest.raises(NeurPIRError, match="has no neuron 999"):
        loaded.predict_proba(vectors[:1], recording, [999])
    from nwb_neurpir.model.checkpoint import read_folder, write_folder

    parsed, _ = read_folder(saved, ("probe.json", "probe.safetensors"))  # as saved by 0.2.2, the earlier scoring rule
    earlier = tmp_path / "earlier"
    write_folder(earlier, {**parsed, "probe.json": {**parsed["probe.json"], "package_version": "0.2.2"}})
    with pytest.warns(UserWarning, match=r"saved by nwb-neurpir 0\.2\.2, whose cross-animal accuracy left out"):
        npir.LabelProbe.load(earlier)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        npir.LabelProbe.load(saved)  # saved by this release: nothing to say
    second = {key: value for key, value in parsed["probe.json"].items() if key != "hand_isis"}
    write_folder(tmp_path / "v2", {**parsed, "probe.json": {**second, "format": "nwb-neurpir-probe/2"}})
    fitted_on_bins = npir.LabelProbe.load(tmp_path / "v2")  # a format 2 probe took its ISIs between bins: so it does
    assert fitted_on_bins.hand_reading() == {"bin_size": 0.01, "keep_spike_times": False}
    np.testing.assert_allclose(fitted_on_bins.predict_proba(vectors, recording),
                               fitted_on_bins.predict_proba(vectors, binned), atol=1e-6)
    (saved / "probe.json").write_text((saved / "probe.json").read_text().replace("logistic", "knn"))
    with pytest.raises(NeurPIRError, match="does not match its checksum"):
        npir.LabelProbe.load(saved)
    with pytest.raises(NeurPIRError, match="cannot be saved without pickle"):
        npir.LabelProbe(kind="gb")


def test_predict_computes_the_hand_features_from_exact_spike_times_as_the_probe_was_fitted(predicted: dict) -> None:
    """The probe fitted (as ``evaluate`` does) on hand features with ISIs from exact spike times; ``predict`` reads
    the file it labels the same way, not its 10 ms bins."""
    from nwb_neurpir.store import read_predictions

    path = predicted["outcomes"][0].path
    frame = npir.read_embeddings(path, predictions=False)
    (recording,) = npir.open_recordings(path, progress=False, keep_spike_times=True)
    expected = predicted["probe"].predict_proba(np.stack(frame["embedding"]), recording, frame["neuron_id"])
    written = read_predictions(path).set_index("neuron_id")
    rows = pd.Index(frame["neuron_id"]).get_indexer(written.index)
    np.testing.assert_allclose(np.stack(written["probability"]), expected[rows], atol=1e-6)


def _annotated_frame(predicted: dict) -> object:
    """The two annotated animals' embeddings (a read_embeddings frame, attrs included)."""
    return npir.read_embeddings([predicted["data"] / "sub-sim01", predicted["data"] / "sub-sim02"],
                                predictions=False)


def _single_animal_notes(caught: list) -> list[str]:
    return [str(w.message) for w in caught if "labelled in one animal only" in str(w.message)]


def test_probe_accuracy_counts_a_class_its_fold_never_trained_on_as_missed(predicted: dict) -> None:
    frame = _annotated_frame(predicted)
    sim01 = frame["subject_id"] == "sim01"
    rare = frame.index[sim01 & (frame["cell_type"] == frame.loc[sim01, "cell_type"].mode()[0])][:3]
    frame.loc[rare, "cell_type"] = None  # fold sim01 without those neurons
    unlabelled = npir.LabelProbe("cell_type", inputs="neurpir").fit(frame)
    present = frame.loc[sim01, "cell_type"].nunique()
    frame.loc[rare, "cell_type"] = "RARE"  # the same neurons, of a class sim02 lacks: recall 0 in fold sim01
    with pytest.warns(UserWarning) as caught:
        renamed = npir.LabelProbe("cell_type", inputs="neurpir").fit(frame)
    assert renamed.fold_accuracy_["sim01"] == pytest.approx(
        unlabelled.fold_accuracy_["sim01"] * present / (present + 1))
    assert _single_animal_notes(caught) == [
        "cross-animal accuracy: cell_type classes labelled in one animal only: RARE (only in sim01); their neurons "
        "cannot be predicted when that animal is held out, so its fold scores them recall 0 (the estimate is "
        "pessimistic for them)"]


def test_probe_accuracy_is_the_evaluations_where_every_class_is_in_two_animals(predicted: dict) -> None:
    from nwb_neurpir.evaluation import evaluate

    frame = _annotated_frame(predicted)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = npir.LabelProbe("cell_type", inputs="neurpir").fit(frame)
    result = evaluate(label="cell_type", embeddings=frame, methods=["neurpir"], normalize="session", progress=False)
    (method,) = result.methods
    assert probe.fold_accuracy_ == pytest.approx({fold.name: score.balanced_accuracy
                                                  for fold, score in zip(result.folds, method.scores)})
    assert not _single_animal_notes(caught)


def test_probe_accuracy_skips_a_fold_whose_training_neurons_hold_one_class(predicted: dict) -> None:
    frame = _annotated_frame(predicted)
    frame["opto"] = np.where((frame["subject_id"] == "sim01") & (frame["cell_type"] == "FS"), "PV+", "PV-")
    with pytest.warns(UserWarning, match=r"fold sim01 left out \(opto training neurons all PV-\)"):
        probe = npir.LabelProbe("opto", inputs="neurpir").fit(frame)
    assert list(probe.fold_accuracy_) == ["sim02"] and probe.cross_animal_accuracy_ is not None


def test_probe_and_evaluation_tell_of_unlabelled_neurons_and_rare_classes(predicted: dict) -> None:
    from nwb_neurpir.evaluation import evaluate

    frame = _annotated_frame(predicted)
    frame.loc[frame.index[:2], "cell_type"] = "rare"
    with pytest.warns(UserWarning, match=r"cell_type rare \(2\): fewer than 5 labelled neurons"):
        result = evaluate(label="cell_type", embeddings=frame, methods=["neurpir"], normalize="none",
                          progress=False)
    assert any(note.startswith("cell_type rare (2): fewer than 5") for note in result.notes)
    frame.loc[frame["subject_id"] == "sim02", "cell_type"] = None
    with pytest.warns(UserWarning, match=r"cell_type RS \(3\), rare \(2\): fewer than 5 labelled neurons"):
        probe = npir.LabelProbe("cell_type", inputs="neurpir").fit(frame)
    assert re.search(r"^probe cell_type \(neurpir\): 25 labelled neurons \(25 unlabelled left out\), classes CH "
                     r"\d+, .*, rare 2; cross-animal balanced accuracy n/a$", probe.summary_line())
    assert probe.summary()["class_counts"]["rare"] == 2 and probe.summary()["n_unlabelled"] == 25


def test_a_probe_fitted_on_a_merged_frame_knows_its_model(predicted: dict, fitted: tuple) -> None:
    frame = _annotated_frame(predicted)
    tags = frame[["session_id", "neuron_id"]].assign(opto=np.where(frame["cell_type"] == "FS", "PV+", "PV-"))
    tags.attrs = {}  # as read from a CSV: merging it drops the frame's attrs
    merged = frame.merge(tags, on=["session_id", "neuron_id"])
    assert not merged.attrs
    probe = npir.LabelProbe("opto", inputs="neurpir").fit(merged)
    assert probe.model_sha256_ == predicted["probe"].model_sha256_
    with pytest.raises(NeurPIRError, match="the embeddings frame has no 'file' column"):
        npir.LabelProbe("opto", inputs="neurpir").fit(merged.drop(columns="file"))
    with pytest.warns(UserWarning, match="the probe cannot tell which model made its embeddings"):
        unknown = npir.LabelProbe("opto", inputs="neurpir").fit(merged.assign(file="moved-away.nwb"))
    with pytest.raises(NeurPIRError, match="the probe does not record which model made the embeddings"):
        npir.predict(unknown, predicted["data"] / "sub-sim03", model=fitted[0], progress=False)


def test_a_probe_reads_labels_kept_outside_the_files(predicted: dict, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _annotated_frame(predicted)
    identifiers = {path: npir.open_recordings(path, progress=False)[0].source.identifier
                   for path in frame["file"].unique()}
    table = pd.DataFrame({"identifier": frame["file"].map(identifiers), "neuron_id": frame["neuron_id"],
                          "opto": np.where(frame["cell_type"] == "FS", "PV+", "PV-")})
    files = [predicted["data"] / "sub-sim01", predicted["data"] / "sub-sim02"]
    probe = npir.LabelProbe("opto", inputs="neurpir").fit(files, labels=table)
    assert probe.class_counts_ == {"PV+": 10, "PV-": 40} and probe.model_sha256_ == predicted["probe"].model_sha256_
    assert probe.labels_file_ is None and probe.labels_file_sha256_ is None  # a DataFrame has no file to name
    table.to_csv(tmp_path / "opto.csv", index=False)
    monkeypatch.chdir(tmp_path)
    from_file = npir.LabelProbe("opto", inputs="neurpir").fit(files, labels="opto.csv")
    sha256 = hashlib.sha256((tmp_path / "opto.csv").read_bytes()).hexdigest()
    assert (from_file.labels_file_, from_file.labels_file_sha256_) == (str(tmp_path / "opto.csv"), sha256)
    assert from_file.fold_accuracy_ == probe.fold_accuracy_ and from_file.summary()["labels_file"] == \
        str(tmp_path / "opto.csv")
    meta = json.loads((from_file.save(tmp_path / "probe") / "probe.json").read_text())
    assert (meta["labels_file"], meta["labels_file_sha256"]) == (str(tmp_path / "opto.csv"), sha256)
    assert meta["class_counts"] == {"PV+": 10, "PV-": 40} and meta["fold_accuracy"] == from_file.fold_accuracy_
    loaded = npir.LabelProbe.load(tmp_path / "probe")
    assert (loaded.labels_file_, loaded.labels_file_sha256_) == (str(tmp_path / "opto.csv"), sha256)
    frame["session_id"] = "s1"  # two recordings of one session name: a labels table keyed by it is ambiguous
    with pytest.raises(NeurPIRError, match=r"^labels table: session_id s1 names 2 recordings \(.*\) whose neuron ids "
                                           "overlap; add a subject_id column$"):
        npir.LabelProbe("opto", inputs="neurpir").fit(frame, labels=table.drop(columns="identifier")
                                                      .assign(session_id="s1").drop_duplicates(["neuron_id"]))


def test_a_probe_records_its_training_files_by_absolute_path(predicted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(predicted["data"])
    probe = npir.LabelProbe("cell_type", inputs="neurpir").fit(["sub-sim01", "sub-sim02"])
    assert len(probe.training_data_) == 2 and all(Path(p).is_absolute() and Path(p).exists()
                                                   for p in probe.training_data_)


def test_a_probe_fitted_on_sidecars_reads_the_hand_features_from_their_sources(fitted: tuple, simulated: Path,
                                                                               tmp_path: Path) -> None:
    data = _copy(simulated, tmp_path)
    sidecars = tmp_path / "sidecars"
    npir.annotate(fitted[0], [data / "sub-sim01", data / "sub-sim02"], sidecar=True, output_dir=sidecars,
                  progress=False)
    probe = npir.LabelProbe("cell_type").fit(sidecars)
    assert set(probe.fold_accuracy_) == {"sim01", "sim02"} and "burst_index" in probe.hand_columns_
    sessions = {r.session_id for r in npir.open_recordings([data / "sub-sim01", data / "sub-sim02"], progress=False)}
    assert set(npir.read_embeddings(sidecars)["session_id"]) == sessions  # the source's, not the sidecar's own
    shutil.rmtree(data / "sub-sim02")
    with pytest.raises(NeurPIRError, match="fit it with inputs='neurpir' to read the vectors alone"):
        npir.LabelProbe("cell_type").fit(sidecars)
    assert npir.LabelProbe("cell_type", inputs="neurpir").fit(sidecars).classes_ == CLASSES
    npir.annotate(fitted[0], data / "sub-sim01", sidecar=True, output_dir=sidecars, name="Other", progress=False)
    with pytest.raises(NeurPIRError, match="hold one recording .* would count twice: give only one of them"):
        npir.read_embeddings(sidecars)
    assert len(npir.read_embeddings(sidecars, "NeurPIREmbeddings")) == 50  # the other name's sidecars left out


def test_predictions_are_in_the_third_animals_file(predicted: dict) -> None:
    from nwb_neurpir.store import read_predictions

    (outcome,) = predicted["outcomes"]
    assert outcome.status == "in-place" and outcome.n_neurons == 25 and sum(outcome.counts.values()) == 25
    frame = read_predictions(outcome.path)
    assert frame.attrs["class_names"] == CLASSES and frame.attrs["probe"]["inputs"] == "neurpir+hand"
    assert frame.attrs["probe"]["training_subjects"] == ["sim01", "sim02"]  # the recordings, not the local paths
    assert not set(frame.attrs["probe"]["training_data"]) & set(predicted["probe"].training_data_)
    np.testing.assert_allclose(np.stack(frame["probability"]).sum(axis=1), 1.0, atol=1e-5)
    table = npir.read_embeddings(predicted["data"])
    third = table[table["subject_id"] == "sim03"]
    assert len(third) == 25 and set(third["predicted_cell_type"]) <= set(CLASSES)
    assert table[table["subject_id"] != "sim03"]["predicted_cell_type"].isna().all()


def test_predictions_into_a_copy_of_an_annotated_read_only_file(predicted: dict, tmp_path: Path) -> None:
    from nwb_neurpir.store import read_predictions

    (annotated,) = sorted((predicted["data"] / "sub-sim01").rglob("*.nwb"))
    source = Path(shutil.copy(annotated, tmp_path / annotated.name))
    source.chmod(0o444)
    original = source.read_bytes()
    (outcome,) = npir.predict(predicted["probe"], source, output_dir=tmp_path / "out", progress=False)  # no model
    assert outcome.status == "copy" and Path(outcome.path) == tmp_path / "out" / "sub-sim01" / source.name  # DANDI
    assert len(read_predictions(outcome.path)) == 25 and len(npir.read_embeddings(outcome.path)) == 25
    assert source.read_bytes() == original
    (again,) = npir.predict(predicted["probe"], source, output_dir=tmp_path / "out", progress=False)
    assert (again.status, again.path, again.n_neurons) == ("unchanged", outcome.path, 25)  # this probe's already


def test_predict_after_annotate_adds_to_the_sidecar_of_a_read_only_file(fitted: tuple, predicted: dict,
                                                                        simulated: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from nwb_neurpir.store import list_embeddings, read_predictions

    (original,) = sorted((simulated / "sub-sim03").rglob("*.nwb"))
    source = Path(shutil.copy(original, tmp_path / original.name))
    source.chmod(0o444)
    monkeypatch.chdir(tmp_path)
    (annotated,) = npir.annotate(fitted[0], source, progress=False)
    (outcome,) = npir.predict(predicted["probe"], source, model=fitted[0], progress=False)
    assert annotated.status == outcome.status == "sidecar" and outcome.path == annotated.path
    assert len(read_predictions(outcome.path)) == 25 and len(list_embeddings(outcome.path)) == 1
    with pytest.raises(NeurPIRError, match=r"holds predictions \(neurpir/predicted_cell_type\) made from the"):
        npir.annotate(fitted[0], source, overwrite=True, progress=False)
    assert len(read_predictions(outcome.path)) == 25


def test_predict_into_the_folder_annotate_wrote_its_copies_to(fitted: tuple, predicted: dict, simulated: Path,
                                                               tmp_path: Path) -> None:
    from nwb_neurpir.store import list_embeddings, read_predictions

    out = tmp_path / "annotated"
    (annotated,) = npir.annotate(fitted[0], simulated / "sub-sim03", output_dir=out, progress=False)
    (outcome,) = npir.predict(predicted["probe"], simulated / "sub-sim03", model=fitted[0], output_dir=out,
                              progress=False)
    assert outcome.status == "copy" and outcome.path == annotated.path
    assert len(list_embeddings(outcome.path)) == 1 and len(read_predictions(outcome.path)) == 25


def test_predict_reads_the_table_and_the_neurons_asked_for(fitted: tuple, predicted: dict, simulated: Path,
                                                          tmp_path: Path) -> None:
    from nwb_neurpir.store import read_predictions

    data = _copy(simulated, tmp_path)
    target = data / "sub-sim03"
    npir.annotate(fitted[1], target, unit_filter='cell_type == "FS"', name="FSonly", progress=False)  # sorts first
    npir.annotate(fitted[1], target, progress=False)
    (path,) = target.rglob("*.nwb")
    npir.predict(predicted["probe"], target, progress=False)
    assert len(read_predictions(path, "predicted_cell_type")) == 25  # the default table, not the first by name
    npir.predict(predicted["probe"], target, unit_filter='cell_type == "LTS"', name="lts", progress=False)
    labels = npir.read_embeddings(path, "NeurPIREmbeddings").set_index("neuron_id")["cell_type"]
    assert set(labels[read_predictions(path, "lts")["neuron_id"]]) == {"LTS"}
    npir.predict(predicted["probe"], target, embeddings="FSonly", name="fs", progress=False)
    assert set(labels[read_predictions(path, "fs")["neuron_id"]]) == {"FS"}
    with pytest.raises(NeurPIRError, match=r"no embedding table 'Nope' of the probe's model"):
        npir.predict(predicted["probe"], target, embeddings="Nope", model=fitted[1], progress=False)
    other = data / "sub-sim02"
    for name in ("A", "B"):
        npir.annotate(fitted[1], other, name=name, progress=False)
    with pytest.raises(NeurPIRError, match=r"several embedding tables of the probe's model \(neurpir/A, neurpir/B\)"):
        npir.predict(predicted["probe"], other, progress=False)


def test_predict_skips_files_of_the_other_modality_beside_its_own(fitted: tuple, predicted: dict,
                                                                   tmp_path: Path) -> None:
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    (spikes,) = sorted((predicted["data"] / "sub-sim02").rglob("*.nwb"))  # annotated with the model, no predictions
    shutil.copy(spikes, tmp_path / spikes.name)
    write_nwbfile(make_ophys_nwbfile(n_rois=5, n_frames=100, with_context=False), tmp_path / "rois_ophys.nwb")
    outcomes = npir.predict(predicted["probe"], tmp_path, model=fitted[1], progress=False)
    assert sorted(outcome.status for outcome in outcomes) == ["in-place", "skipped"]
    assert predicted["probe"].model_modality_ == "spikes"
    without_model = npir.predict(predicted["probe"], tmp_path, overwrite=True, progress=False)  # stored vectors
    assert sorted(outcome.status for outcome in without_model) == ["in-place", "skipped"]
    with pytest.raises(NeurPIRError, match="trained on spikes data, but this file holds ophys data only"):
        npir.predict(predicted["probe"], tmp_path / "rois_ophys.nwb", model=fitted[1], progress=False)


def test_a_probe_of_another_models_embeddings_is_refused_before_it_is_saved(fitted: tuple, predicted: dict,
                                                                           simulated: Path, tmp_path: Path) -> None:
    from nwb_neurpir.workflows.prediction import predict_with_saved_probe

    other = tmp_path / "other-model"
    recordings = npir.open_recordings(simulated, progress=False)
    npir.NeurPIR(**{**TINY, "seed": 1}).fit(recordings, checkpoint_dir=other, progress=False)
    fit_on = [str(predicted["data"] / "sub-sim01"), str(predicted["data"] / "sub-sim02")]  # annotated by `fitted`
    with pytest.raises(NeurPIRError, match="no --fit-on file holds embeddings of this model; annotate them with it"):
        predict_with_saved_probe(other, [predicted["data"] / "sub-sim03"], fit_on=fit_on, label="cell_type")
    assert not (other / "probes").exists()
    predicted["probe"].save(other / "probes" / "cell_type")  # as an older version left it
    with pytest.raises(NeurPIRError, match=f"the probe saved in {other / 'probes' / 'cell_type'} was fitted on"):
        predict_with_saved_probe(other, [predicted["data"] / "sub-sim03"], label="cell_type")


_PLAIN_PYNWB = r"""
import json, sys, warnings
sys.modules["ndx_neurpir"] = None
sys.modules["nwb_neurpir"] = None
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r") as io:
    module = io.read().processing["neurpir"]
    table = module[sys.argv[2]]
    print(json.dumps({"labels": [str(x) for x in table["label"].data[:]], "shape": list(table["probability"].data.shape),
                      "classes": [str(x) for x in table.probe.class_names[:]], "target": table["neurons"].table.name,
                      "embeddings": list(module["NeurPIREmbeddings"]["embedding"].data.shape)}))
"""


def read_with_plain_pynwb(path: str | Path, name: str) -> dict:
    """Predictions and embeddings as plain pynwb reads them, in a process that cannot import our packages."""
    done = subprocess.run([sys.executable, "-I", "-c", _PLAIN_PYNWB, str(path), name], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_plain_pynwb_and_pynapple_read_the_predictions(predicted: dict) -> None:
    import pynapple

    path = predicted["outcomes"][0].path
    seen = read_with_plain_pynwb(path, "predicted_cell_type")
    assert seen["shape"] == [25, 5] and seen["classes"] == CLASSES and seen["target"] == "units"
    assert seen["embeddings"] == [25, 8] and set(seen["labels"]) <= set(CLASSES)
    assert len(pynapple.load_file(path)["units"]) == 25
    units = npir.to_pynapple(path)
    assert {"embedding_0", "embedding_7", "predicted_cell_type", "cell_type"} <= set(units.metadata_columns)
    assert list(units.metadata["predicted_cell_type"]) == seen["labels"]
    assert np.isfinite(units.metadata["embedding_3"].to_numpy(dtype=float)).all()


def test_the_predictions_table_says_what_the_probe_read_and_readers_give_the_probability(predicted: dict) -> None:
    import h5py

    from nwb_neurpir.io.h5_tables import decode_text
    from nwb_neurpir.store import read_predictions

    path = predicted["outcomes"][0].path
    with h5py.File(path, "r") as file:
        description = decode_text(file["processing/neurpir/predicted_cell_type"].attrs["description"])
    assert "from NeurPIR embeddings and hand features (late fusion)" in description  # it said "NeurPIR embeddings"
    stored = read_predictions(path)
    table = npir.read_embeddings(predicted["data"])
    third = table[table["subject_id"] == "sim03"].set_index("neuron_id")
    probability = stored.set_index("neuron_id")["label_probability"]
    np.testing.assert_allclose(third["predicted_cell_type_probability"], probability[third.index], rtol=1e-6)
    np.testing.assert_allclose(probability, np.stack(stored["probability"]).max(axis=1))
    assert table.loc[table["subject_id"] != "sim03", "predicted_cell_type_probability"].isna().all()
    units = npir.to_pynapple(path)
    np.testing.assert_allclose(units.metadata["predicted_cell_type_probability"], probability[units.index],
                               rtol=1e-6)


def test_a_saved_probe_is_recorded_by_its_recordings_classes_and_folds(predicted: dict, tmp_path: Path) -> None:
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import ProbeProvenance, read_predictions, write_predictions

    saved, probe = predicted["saved"], predicted["probe"]
    record = json.loads((saved / "probe.json").read_text())
    recorded = ProbeProvenance.from_record(record, "ab" * 32)
    recordings = npir.open_recordings([predicted["data"] / "sub-sim01", predicted["data"] / "sub-sim02"],
                                      progress=False)
    assert recorded.training_data == [r.source.identifier for r in recordings]  # as the model names them, no paths
    assert recorded.training_subjects == ["sim01", "sim02"]
    assert recorded.training_sessions == [r.session_id for r in recordings]
    assert recorded.inputs == "neurpir+hand" and recorded.hand_features == probe.hand_columns_
    assert recorded.class_counts == dict.fromkeys(CLASSES, 10) and recorded.fold_accuracy == probe.fold_accuracy_
    target = Path(shutil.copy(predicted["outcomes"][0].path, tmp_path / "copy.nwb"))
    model = read_predictions(target).attrs["model"]
    write_predictions(target, [0, 1], np.full((2, 5), 0.2), recorded, ModelProvenance(**model), name="again",
                      progress=False)
    again = read_predictions(target, "again").attrs["probe"]
    assert again["training_data"] == recorded.training_data and again["fold_accuracy"] == probe.fold_accuracy_
    assert again["class_counts"] == recorded.class_counts and again["inputs"] == "neurpir+hand"
    assert again["labels_file_sha256"] is None  # fitted on the files' own labels
    moved = ProbeProvenance.from_record({**record, "training_data": [str(tmp_path / "gone.nwb")]}, "ab" * 32)
    assert moved.training_data == ["gone.nwb"] and moved.training_subjects == [""]


def test_predict_command_fits_saves_and_reuses_the_probe(fitted: tuple, simulated: Path, tmp_path: Path,
                                                         cli_server: CliForkServer) -> None:
    data = _copy(simulated, tmp_path)
    model_dir = Path(shutil.copytree(fitted[1], tmp_path / "model", ignore=shutil.ignore_patterns("probes")))
    npir.annotate(model_dir, [data / "sub-sim01", data / "sub-sim02"], progress=False)
    target = data / "sub-sim03"
    outputs = tmp_path / "outputs"
    done = cli_server.run(["predict", model_dir, target, "--fit-on", data / "sub-sim01", "--fit-on",
                           data / "sub-sim02", "--label", "cell_type", "--json"], outputs)
    assert done.code == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout)
    assert row["status"] == "in-place" and row["n_neurons"] == 25
    assert "cross-animal balanced accuracy" in done.stderr and (model_dir / "probes" / "cell_type").is_dir()
    assert "probe cell_type (neurpir+hand): 50 labelled neurons, classes CH 10, FS 10, IB 10, LTS 10, RS 10;" \
        in done.stderr
    assert row["probe"]["class_counts"] == dict.fromkeys(CLASSES, 10) and row["probe"]["n_unlabelled"] == 0
    again = cli_server.run(["predict", model_dir, target, "--label", "cell_type"], outputs)
    assert again.code == 0 and "unchanged      25 neurons" in again.stdout, again.stderr[-2000:]
    assert "already predicted by this probe: skipped" in again.stdout
    assert "predicted 0 of 1 sources; 1 unchanged (already predicted)" in again.stderr
    sidecars = tmp_path / "sidecars"
    third = cli_server.run(["predict", model_dir, target, "--label", "cell_type", "--sidecar", "-o", sidecars],
                           outputs)
    assert third.code == 0, third.stderr[-2000:]
    (sidecar,) = sidecars.rglob("*.nwb")
    from nwb_neurpir.store import read_predictions

    assert len(read_predictions(sidecar)) == 25
    units = npir.to_pynapple(next(target.glob("*.nwb")), sidecar=sidecar)  # vectors and labels from the sidecar
    assert units.metadata["predicted_cell_type"].tolist() == read_predictions(sidecar)["label"].tolist()
    missing = cli_server.run(["predict", model_dir, target, "--label", "brain_area"], outputs)
    assert missing.code == 1 and missing.stderr.startswith("error: ") and "no probe saved here" in missing.stderr
    refit = cli_server.run(["predict", model_dir, target, "--fit-on", data / "sub-sim01", "--label", "cell_type"],
                           outputs)
    assert refit.code == 1 and "a different probe is already saved here (class_counts, " in refit.stderr
    assert "training_data, weights differ); use --overwrite" in refit.stderr
    assert not [path.name for path in (model_dir / "probes").iterdir() if path.name != "cell_type"]
    assert len(npir.LabelProbe.load(model_dir / "probes" / "cell_type").training_data_) == 2  # the first is kept
    wrong = cli_server.run(["predict", model_dir, target, "--fit-on", data / "sub-sim01", "--inputs", "hand"], outputs)
    assert wrong.code == 1 and "probe inputs 'hand' unknown; choose one of neurpir+hand, neurpir" in wrong.stderr


def test_predict_command_embeds_with_the_threads_asked_for(fitted: tuple, predicted: dict, simulated: Path,
                                                          tmp_path: Path, torch_threads: int) -> None:
    import torch
    from typer.testing import CliRunner

    from nwb_neurpir.cli.app import app

    model = Path(shutil.copytree(fitted[1], tmp_path / "model", ignore=shutil.ignore_patterns("probes")))
    predicted["probe"].save(predicted["probe"].default_folder(model))  # its saved copy is tampered with above
    done = CliRunner().invoke(app, ["predict", str(model), str(simulated / "sub-sim03"), "--label", "cell_type",
                                    "-o", str(tmp_path / "out"), "--threads", "1", "--no-progress"])
    assert done.exit_code == 0, done.output
    assert torch.get_num_threads() == 1 != torch_threads


def test_predict_refuses_a_probe_folder_it_cannot_write_before_fitting(fitted: tuple, simulated: Path, tmp_path: Path,
                                                                       deny: Callable[[Path], Path]) -> None:
    from nwb_neurpir.workflows.prediction import predict_with_saved_probe

    data = _copy(simulated, tmp_path)
    model_dir = Path(shutil.copytree(fitted[1], tmp_path / "model", ignore=shutil.ignore_patterns("probes")))
    npir.annotate(model_dir, data / "sub-sim01", progress=False)
    deny(model_dir)  # a model folder shared read-only
    said: list[str] = []
    with pytest.raises(NeurPIRError) as caught:
        predict_with_saved_probe(model_dir, [data / "sub-sim03"], fit_on=[str(data / "sub-sim01")], say=said.append)
    assert caught.value.one_line() == (f"{model_dir / 'probes' / 'cell_type'}: cannot save the probe here "
                                       f"({model_dir} is not writable); give a folder you can write with --probe-dir")
    assert said == []  # refused before fitting


def test_predict_fits_on_the_files_of_its_own_model_in_a_mixed_folder(fitted: tuple, simulated: Path,
                                                                       tmp_path: Path) -> None:
    from nwb_neurpir.workflows.prediction import predict_with_saved_probe

    data = _copy(simulated, tmp_path)
    model_dir = Path(shutil.copytree(fitted[1], tmp_path / "model", ignore=shutil.ignore_patterns("probes")))
    other = npir.NeurPIR(**{**TINY, "seed": 7}).fit(npir.open_recordings(simulated, progress=False), progress=False)
    npir.annotate(model_dir, [data / "sub-sim01", data / "sub-sim02"], progress=False)
    npir.annotate(other, data / "sub-sim03", progress=False)  # as an _ophys.nwb annotated with an ophys model
    with pytest.warns(UserWarning, match="1 --fit-on files hold embeddings of other models only; the probe is "
                                         "fitted on the 2 annotated with this one"):
        outcomes = predict_with_saved_probe(model_dir, [simulated / "sub-sim03"], fit_on=[str(data)],
                                            label="cell_type", output_dir=tmp_path / "out", progress=False)
    assert [outcome.status for outcome in outcomes] == ["copy"]
    assert len(npir.LabelProbe.load(model_dir / "probes" / "cell_type").training_data_) == 2



def _add_table_of_another_model(path: Path, name: str) -> None:
    """A second embedding table in ``path``, made (its provenance says) by a model other than the fixture's."""
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import read_embeddings, write_embeddings

    ids = read_embeddings(path)["neuron_id"].to_numpy()
    vectors = np.random.default_rng(0).normal(size=(ids.size, 8)).astype(np.float32)
    write_embeddings(path, ids, vectors, ModelProvenance({}, "cd" * 32, ["elsewhere"]),
                     name=name, progress=False)


def test_predict_fits_on_the_table_of_its_own_model_where_files_hold_two(fitted: tuple, simulated: Path,
                                                                        tmp_path: Path) -> None:
    from nwb_neurpir.workflows.prediction import predict_with_saved_probe

    data = _copy(simulated, tmp_path)
    model_dir = Path(shutil.copytree(fitted[1], tmp_path / "model", ignore=shutil.ignore_patterns("probes")))
    fit_on = [str(data / "sub-sim01"), str(data / "sub-sim02")]
    npir.annotate(model_dir, fit_on, name="Mine", progress=False)
    for folder in fit_on:
        _add_table_of_another_model(next(Path(folder).glob("*.nwb")), "B")
    outcomes = predict_with_saved_probe(model_dir, [data / "sub-sim03"], fit_on=fit_on, label="cell_type",
                                        probe_inputs="neurpir", progress=False)
    assert [outcome.status for outcome in outcomes] == ["in-place"], outcomes
    assert len(npir.LabelProbe.load(model_dir / "probes" / "cell_type").training_data_) == 2
    npir.annotate(model_dir, fit_on, name="Again", progress=False)  # the model's own tables are now two
    with pytest.raises(NeurPIRError, match=r"several embedding tables of the probe's model \(neurpir/Again, "
                                           r"neurpir/Mine\); pick one by name \(--embeddings\)"):
        predict_with_saved_probe(model_dir, [data / "sub-sim03"], fit_on=fit_on, label="cell_type",
                                 probe_inputs="neurpir", overwrite=True, progress=False)


def test_to_pynapple_reads_the_default_table_and_names_name_when_it_cannot_choose(fitted: tuple, simulated: Path,
                                                                                 tmp_path: Path) -> None:
    data = _copy(simulated, tmp_path)
    path = next((data / "sub-sim01").glob("*.nwb"))
    npir.annotate(fitted[1], path, progress=False)
    _add_table_of_another_model(path, "B")
    expected = npir.read_embeddings(path, "NeurPIREmbeddings").set_index("neuron_id")["embedding"]
    units = npir.to_pynapple(path)
    first = units.metadata["embedding_0"]
    assert np.allclose(first.to_numpy(dtype=float), [expected[unit][0] for unit in first.index])
    other = next((data / "sub-sim02").glob("*.nwb"))
    npir.annotate(fitted[1], other, name="C", progress=False)
    _add_table_of_another_model(other, "B")  # no default-named table: nothing tells B and C apart
    with pytest.raises(NeurPIRError, match=r"several embedding tables of units \(neurpir/B, neurpir/C\); pick one "
                                           r"by name \(name=\)"):
        npir.to_pynapple(other)


ROIS = "processing/ophys/ImageSegmentation/PlaneSegmentation"


def _units_and_rois(path: Path, units_table: bool) -> Path:
    """A file with 4 ROIs (ids 0..3) and 6 units (ids 0..5), the ROIs' vectors (``OphysEmb``, by default name without
    ``units_table``) and predicted labels (``predicted_roi``: "roi"); with ``units_table`` also the units' vectors
    (default name) and predicted labels (``predicted_unit``: "unit")."""
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import ProbeProvenance, write_embeddings, write_predictions
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=4, n_frames=90, with_context=False)
    for unit in range(6):
        nwbfile.add_unit(spike_times=np.linspace(0.1, 2.5, 5 + unit))
    write_nwbfile(nwbfile, path)
    model = ModelProvenance({}, "ab" * 32, ["elsewhere"])
    tables = [(ROIS, 4, "OphysEmb" if units_table else "NeurPIREmbeddings", "roi")]
    tables += [("units", 6, "NeurPIREmbeddings", "unit")] if units_table else []
    for table, count, name, kind in tables:
        ids = np.arange(count)
        write_embeddings(path, ids, np.full((count, 3), 1.0 if kind == "unit" else -1.0, dtype=np.float32), model,
                         neuron_table=table, name=name, progress=False)
        probe = ProbeProvenance(kind="logistic", label=kind, class_names=[kind, "other"], training_data=["x.nwb"],
                                checkpoint_sha256="ef" * 32)
        write_predictions(path, ids, np.tile([[0.9, 0.1]], (count, 1)), probe, model, neuron_table=table,
                          progress=False)
    return path


def test_predictions_and_vectors_of_rois_are_never_joined_to_units_of_the_same_ids(tmp_path: Path) -> None:
    path = _units_and_rois(tmp_path / "mixed.nwb", units_table=True)
    frame = npir.read_embeddings(path, "NeurPIREmbeddings")
    assert list(frame["neuron_table"]) == ["units"] * 6 and list(frame["predicted_unit"]) == ["unit"] * 6
    assert frame["predicted_roi"].isna().all()
    rois = npir.read_embeddings(path, "OphysEmb")
    assert list(rois["neuron_table"]) == [ROIS] * 4 and list(rois["predicted_roi"]) == ["roi"] * 4
    assert rois["predicted_unit"].isna().all()

    units = npir.to_pynapple(path)
    assert list(units.metadata["predicted_unit"]) == ["unit"] * 6 and "predicted_roi" not in units.metadata_columns
    assert (units.metadata["embedding_0"].to_numpy(dtype=float) == 1.0).all()
    with pytest.raises(NeurPIRError, match=r"mixed.nwb: embedding table 'OphysEmb' holds vectors of "
                                           r"processing/ophys/ImageSegmentation/PlaneSegmentation, not of the units"):
        npir.to_pynapple(path, name="OphysEmb")


def test_to_pynapple_leaves_out_the_vectors_of_a_files_only_table_when_it_is_of_rois(tmp_path: Path) -> None:
    units = npir.to_pynapple(_units_and_rois(tmp_path / "rois.nwb", units_table=False))
    assert len(units) == 6 and not [c for c in units.metadata_columns if c.startswith(("embedding_", "predicted"))]


def test_to_pynapple_gives_the_units_of_the_sorting_the_vectors_are_of(tmp_path: Path) -> None:
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.store import ProbeProvenance, write_embeddings, write_predictions

    path = two_sortings_file(tmp_path, top_units=False)  # units_ks4 and units_ms5, no /units
    model = ModelProvenance({}, "ab" * 32, ["elsewhere"])
    for table, ids, name, value in (("processing/ecephys/units_ks4", np.arange(6), "NeurPIREmbeddings", 1.0),
                                    (SECOND_SORTING, np.arange(10, 14), "ms5", 2.0)):
        write_embeddings(path, ids, np.full((ids.size, 3), value, dtype=np.float32), model, neuron_table=table,
                         name=name, progress=False)
        label = table.rsplit("_", 1)[1]
        probe = ProbeProvenance(kind="logistic", label=label, class_names=[label, "other"], training_data=["x.nwb"],
                                checkpoint_sha256="ef" * 32)
        write_predictions(path, ids, np.tile([[0.9, 0.1]], (ids.size, 1)), probe, model, neuron_table=table,
                          progress=False)
    first = npir.to_pynapple(path)
    assert list(first.index) == list(range(6)) and (first.metadata["embedding_2"].to_numpy(dtype=float) == 1).all()
    assert list(first.metadata["predicted_ks4"]) == ["ks4"] * 6 and "predicted_ms5" not in first.metadata_columns
    second = npir.to_pynapple(path, name="ms5")
    assert list(second.index) == [10, 11, 12, 13] and (second.metadata["embedding_0"].to_numpy(dtype=float) == 2).all()
    assert list(second.metadata["predicted_ms5"]) == ["ms5"] * 4 and "predicted_ks4" not in second.metadata_columns



def test_sidecars_find_their_moved_sources_among_the_files_given_by_nwb_identifier(fitted: tuple, simulated: Path,
                                                                                   tmp_path: Path) -> None:
    from nwb_neurpir.workflows.prediction import predict_with_saved_probe

    project = tmp_path / "project"
    shutil.copytree(simulated, project / "raw")
    npir.annotate(fitted[1], project / "raw", sidecar=True, output_dir=project / "side", progress=False)
    for sidecar in (project / "side").rglob("*.nwb"):  # the sources' lab, institution, subject's description are
        with h5py.File(sidecar, "r") as file:  # not copied; what evaluate and predict use below (and DANDI asks) is
            assert sorted(file["general/subject"]) == ["age", "sex", "species", "subject_id"]
            assert sorted(file["general"]) == ["session_id", "subject"]
            assert str(project) not in file["session_description"][()].decode()
    moved = Path(shutil.move(project, tmp_path / "moved"))  # the sidecars record project/raw/... by absolute path
    sidecars, raw = moved / "side", moved / "raw"
    result = npir.evaluate([sidecars, raw], label="cell_type", methods=["neurpir", "hand"], progress=False)
    assert result.method("hand").n_scored == 75
    probe = npir.LabelProbe("cell_type").fit([sidecars / "sub-sim01", sidecars / "sub-sim02"],
                                             moved_sources=[raw])
    assert probe.n_training_neurons_ == 50 and probe.reads_hand_features
    outcomes = predict_with_saved_probe(fitted[1], [raw / "sub-sim03"], fit_on=[str(sidecars / "sub-sim01"),
                                        str(sidecars / "sub-sim02"), str(raw)], label="cell_type",
                                        probe_dir=tmp_path / "probe", sidecar=True, output_dir=tmp_path / "out",
                                        progress=False)
    assert [outcome.status for outcome in outcomes] == ["sidecar"], outcomes
    with pytest.raises(NeurPIRError, match=r"sub-sim01_ses-sim01s01_desc-NeurPIREmbeddings.nwb: the recording "
                                           r"whose embeddings this sidecar holds is not at .*/project/raw/sub-sim01/"
                                           r"sub-sim01_ses-sim01s01_ecephys.nwb any more, and none of the 3 files "
                                           r"given has its NWB identifier"):
        npir.evaluate([sidecars], label="cell_type", methods=["neurpir", "hand"], progress=False)

OUR_TYPES = ("NeuronEmbeddings", "NeuronPredictions", "NeurPIRModel", "NeurPIRProbe", "NeurPIRSource")


def test_dandi_validate_and_nwbinspector_find_nothing_about_our_objects(predicted: dict) -> None:
    import os

    from nwbinspector import inspect_nwbfile, load_config

    path = Path(predicted["outcomes"][0].path)
    messages = [m for m in inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi"))
                if m.check_function_name != "check_processing_module_name"]  # the `neurpir` module is the design
    ours = [f"{m.importance.name} {m.location} {m.message}" for m in messages
            if "processing/neurpir" in str(m.location) or m.object_type in OUR_TYPES]
    assert ours == []
    root = predicted["data"]
    (root / "dandiset.yaml").write_text('identifier: "000000"\nname: neurpir test\ndescription: annotated files\n')
    done = subprocess.run(["dandi", "validate", "--min-severity", "HINT", "-f", "json", str(root)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "DANDI_NO_ET": "1"})
    issues = json.loads(done.stdout) if done.stdout.strip().startswith("[") else []
    assert "No errors found" in done.stdout or issues == [], done.stdout[-3000:]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.mark.parametrize("kind", ["logistic", "knn"])
def test_probe_from_a_frame_round_trips_its_arrays(kind: str, tmp_path: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(1)
    labels = np.repeat(["A", "B", "C"], 20)
    vectors = rng.normal(size=(60, 4)) + (labels == "B")[:, None] * 3.0 - (labels == "C")[:, None] * 3.0
    frame = pd.DataFrame({"subject_id": np.tile(["m1", "m2"], 30), "file": np.tile(["a.nwb", "b.nwb"], 30),
                          "embedding": list(vectors), "kind": labels})
    probe = npir.LabelProbe("kind", kind=kind, inputs="neurpir").fit(frame)
    assert probe.classes_ == ["A", "B", "C"] and probe.cross_animal_accuracy_ > 0.8
    loaded = npir.LabelProbe.load(probe.save(tmp_path / kind))
    np.testing.assert_allclose(loaded.predict_proba(vectors), probe.predict_proba(vectors), atol=1e-6)
    assert list(loaded.predict(vectors[:3])) == list(probe.predict(vectors[:3]))
    with pytest.raises(NeurPIRError, match="expects 4-dimensional embeddings"):
        loaded.predict_proba(vectors[:, :2])
    assert probe.fold_accuracy_.keys() == {"m1", "m2"}


def test_a_first_format_probe_loads_and_predicts_as_before(tmp_path: Path) -> None:
    import pandas as pd

    from nwb_neurpir.model.checkpoint import write_folder

    rng = np.random.default_rng(2)
    labels = np.repeat(["A", "B"], 20)
    vectors = rng.normal(size=(40, 3)) + (labels == "B")[:, None] * 2.0
    frame = pd.DataFrame({"subject_id": np.tile(["m1", "m2"], 20), "file": np.tile(["a.nwb", "b.nwb"], 20),
                          "embedding": list(vectors), "kind": labels})
    files = npir.LabelProbe("kind", inputs="neurpir").fit(frame)._files()
    meta = {key: value for key, value in files["probe.json"].items() if key != "inputs"}
    write_folder(tmp_path / "v1", {**files, "probe.json": {**meta, "format": "nwb-neurpir-probe/1"}})
    old = npir.LabelProbe.load(tmp_path / "v1")
    assert old.inputs == "neurpir" and not old.zscore_per_recording
    single = old.predict_proba(vectors[:1])  # one neuron: format 1 standardises with the training statistics only
    np.testing.assert_allclose(single, old.predict_proba(vectors)[:1], atol=1e-6)
    write_folder(tmp_path / "v9", {**files, "probe.json": {**meta, "format": "nwb-neurpir-probe/9"}})
    with pytest.raises(NeurPIRError, match="newer than this package reads"):
        npir.LabelProbe.load(tmp_path / "v9")


def test_evaluate_from_python_with_a_fitted_or_an_unfitted_estimator(fitted: tuple, simulated: Path,
                                                                      cli_server: CliForkServer,
                                                                      tmp_path: Path) -> None:
    model, folder = fitted
    methods = ["neurpir", "hand"]
    result = npir.evaluate(simulated, label="cell_type", model=model, methods=methods, progress=False,
                           report_dir=tmp_path / "report")
    table = result.table()
    assert repr(result).startswith("<EvaluationResult 'cell_type': 3 folds") and len(repr(result)) < 300
    assert list(table.index) == methods and list(table.columns[-3:]) == [fold.name for fold in result.folds]
    assert table.loc["hand", "n_scored"] == 75
    assert (tmp_path / "report" / "report.json").exists()
    titles = [axis.get_title().split("\n")[0] for axis in result.plot().axes[:2]]  # the report's confusion.png
    assert titles == ["neurpir (transductive)", "hand"]
    assert _points(result.plot("embeddings", projection="pca").axes[0]) == 75  # and its umap.png
    assert {path.name for path in (tmp_path / "report").glob("*.png")} == {"confusion.png", "umap.png"}
    shown = cli_server.run(["evaluate", simulated, "--label", "cell_type", "--model", folder, "--methods",
                            ",".join(methods), "--json"], tmp_path / "logs")
    assert shown.code == 0, shown.stderr[-2000:]
    from_cli = {m["name"]: m["pooled"]["balanced_accuracy"] for m in json.loads(shown.stdout)["methods"]}
    assert from_cli == table["pooled_balanced_accuracy"].to_dict()
    as_text = npir.evaluate(simulated, label="cell_type", model=model, methods="neurpir, hand", progress=False)
    assert as_text.table()["pooled_balanced_accuracy"].to_dict() == from_cli  # the command's comma-separated form
    trained = npir.evaluate([simulated], label="cell_type", model=npir.NeurPIR(**TINY), methods=["neurpir"],
                            split="kfold", n_splits=2, transductive=True, progress=False)
    assert trained.settings["config"]["max_steps"] == 2 and trained.method("neurpir").mode == "transductive"


def _points(axis: object) -> int:
    """How many points a scatter panel draws."""
    return sum(len(collection.get_offsets()) for collection in axis.collections)


def test_simulate_and_inspect_from_python_as_the_commands_do(cli_server: CliForkServer, tmp_path: Path) -> None:
    paths = npir.simulate_nwb(tmp_path / "sim", preset="demo", animals=2, neurons=10, duration=5, seed=1,
                              progress=False)
    assert [path.relative_to(tmp_path / "sim").as_posix() for path in paths] == [
        "sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb", "sub-sim02/sub-sim02_ses-sim02s01_ecephys.nwb"]
    assert all(path.is_file() for path in paths)
    with pytest.raises(NeurPIRError, match="--shifted-animal needs --shift"):
        npir.simulate_nwb(tmp_path / "shifted", preset="demo", shifted_animals=[2], progress=False)
    inspection = npir.inspect(tmp_path / "sim", progress=False)
    shown = cli_server.run(["inspect", tmp_path / "sim", "--json"], tmp_path / "logs")
    assert shown.code == 0, shown.stderr[-2000:]
    assert inspection.files == json.loads(shown.stdout)  # what `neurpir inspect --json` prints
    assert [summary["n_neurons"] for summary in inspection.files] == [10, 10]
    assert inspection.files[0]["label_counts"]["cell_type"] == {name: 2 for name in CLASSES}
    assert list(inspection.table()["subject_id"]) == ["sim01", "sim02"]
    assert f"{paths[0]}: 10 units of sim01/sim01s01, 5 s observed, labels cell_type" in repr(inspection)


def test_plot_embeddings_returns_a_figure_of_files_or_of_a_frame(fitted: tuple, predicted: dict,
                                                                 tmp_path: Path) -> None:
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    annotated = [predicted["data"] / "sub-sim01", predicted["data"] / "sub-sim02"]
    matplotlib.use("pdf")  # a backend the user chose (a notebook's inline one): drawing keeps it
    try:
        figure = npir.plot_embeddings(annotated, color_by="cell_type", projection="pca", save=tmp_path / "u.png")
        assert matplotlib.get_backend() == "pdf" and not plt.get_fignums()  # returned, not left open in pyplot
    finally:
        matplotlib.use("Agg")
    assert isinstance(figure, Figure) and (tmp_path / "u.png").read_bytes()[:4] == b"\x89PNG"
    by_label, by_animal = figure.axes[:2]
    assert _points(by_label) == _points(by_animal) == 50
    assert [text.get_text() for text in by_label.get_legend().get_texts()] == [f"{name} (10)" for name in CLASSES]
    assert [text.get_text() for text in by_animal.get_legend().get_texts()] == ["sim01 (25)", "sim02 (25)"]
    frame = fitted[0].transform(npir.open_recordings(predicted["data"] / "sub-sim03", progress=False), progress=False)
    assert _points(npir.plot_embeddings(frame, projection="pca").axes[0]) == 25
    with pytest.raises(NeurPIRError, match="the embeddings have no column 'opto'"):
        npir.plot_embeddings(frame, color_by="opto")


JUPYTER_WITHOUT_IPYWIDGETS = """
import sys, types, warnings
warnings.simplefilter("always")
shell = type("ZMQInteractiveShell", (), {})()  # what tqdm.autonotebook reads to tell a Jupyter kernel
ipython = types.ModuleType("IPython")
ipython.get_ipython = lambda: shell
sys.modules.update({"IPython": ipython, "ipykernel.zmqshell": types.ModuleType("ipykernel.zmqshell"),
                    "ipywidgets": None})
"""
"""A Jupyter kernel's modules as tqdm.auto sees them, with ipywidgets not importable."""


def test_a_notebook_without_ipywidgets_gets_text_bars_without_a_warning(simulated: Path) -> None:
    as_tqdm_auto_sees_it = JUPYTER_WITHOUT_IPYWIDGETS + "import tqdm.auto"
    done = subprocess.run([sys.executable, "-c", as_tqdm_auto_sees_it], capture_output=True, text=True, check=True)
    assert "TqdmWarning: IProgress not found" in done.stderr  # the kernel it warns in
    fit_and_draw = JUPYTER_WITHOUT_IPYWIDGETS + (
        "import numpy as np, nwb_neurpir as npir\n"
        "from nwb_neurpir.evaluation.plots import project_2d\n"
        f"npir.NeurPIR(max_steps=2, context='none', num_threads=1).fit(npir.open_recordings({str(simulated)!r}))\n"
        "project_2d(np.random.default_rng(0).normal(size=(12, 4)), 'umap')\n")  # umap imports tqdm.auto too
    done = subprocess.run([sys.executable, "-c", fit_and_draw], capture_output=True, text=True, check=True)
    assert "train" in done.stderr and "TqdmWarning" not in done.stderr, done.stderr[-2000:]

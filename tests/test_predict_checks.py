"""What ``predict`` refuses and tells beside writing labels: fitting options without --fit-on, neurons without
activity, labels outside the probe's classes, in-sample targets, and a second model's tables beside the first's."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_api_workflows import TINY, fitted  # noqa: F401 - the fixture: a tiny model fitted on `simulated`
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import list_embeddings, list_predictions, read_predictions
from nwb_neurpir.workflows.prediction import predict_with_saved_probe


@pytest.fixture(scope="module")
def saved(fitted: tuple, simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # noqa: F811
    """A copy of the data (sim01 and sim02 annotated) and of the model with a probe fitted on them saved beside it."""
    root = tmp_path_factory.mktemp("checks")
    data = Path(shutil.copytree(simulated, root / "data"))
    model_dir = Path(shutil.copytree(fitted[1], root / "model", ignore=shutil.ignore_patterns("probes")))
    npir.annotate(fitted[0], [data / "sub-sim01", data / "sub-sim02"], progress=False)
    probe = npir.LabelProbe("cell_type").fit([data / "sub-sim01", data / "sub-sim02"])
    probe.save(probe.default_folder(model_dir))
    return {"data": data, "model_dir": model_dir, "probe": probe}


def _nwb(folder: Path) -> Path:
    (path,) = sorted(folder.rglob("*.nwb"))
    return path


def test_probe_settings_without_fit_on_are_refused_unless_they_are_the_saved_ones(saved: dict,
                                                                                 tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nwb_neurpir.cli.app import app

    target = [saved["data"] / "sub-sim03"]
    with pytest.raises(NeurPIRError, match=r"--inputs neurpir chooses how a probe is fitted, so it needs --fit-on; "
                                           r"the probe saved here is logistic on neurpir\+hand"):
        predict_with_saved_probe(saved["model_dir"], target, label="cell_type", probe_inputs="neurpir")
    done = CliRunner().invoke(app, ["predict", str(saved["model_dir"]), str(target[0]), "--probe", "knn",
                                    "--inputs", "neurpir", "-o", str(tmp_path / "out"), "--no-progress"])
    assert done.exit_code == 1 and "--probe knn and --inputs neurpir choose how a probe is fitted" in done.output
    assert not (tmp_path / "out").exists()
    (outcome,) = predict_with_saved_probe(saved["model_dir"], target, label="cell_type", probe_kind="logistic",
                                          probe_inputs="neurpir+hand", output_dir=tmp_path / "out", progress=False)
    assert outcome.status == "copy" and outcome.n_neurons == 25


def test_a_saved_probe_fitted_with_another_grouping_of_the_same_name_is_refused(saved: dict, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from nwb_neurpir.cli.app import app

    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    fitted_with = tmp_path / "old" / "types.json"
    fitted_with.write_text(json.dumps({"bursty": ["CH", "IB"], "regular": ["RS", "FS", "LTS"]}))
    probe = npir.LabelProbe("cell_type", fitted_with).fit([saved["data"] / "sub-sim01", saved["data"] / "sub-sim02"])
    probe.save(probe.default_folder(saved["model_dir"]))  # probes/cell_type-types
    other = tmp_path / "new" / "types.json"  # the same name, other groups
    other.write_text(json.dumps({"A": ["CH", "IB"], "B": ["RS", "FS"]}))
    target = str(saved["data"] / "sub-sim03")
    done = CliRunner().invoke(app, ["predict", str(saved["model_dir"]), target, "--grouping", str(other),
                                    "-o", str(tmp_path / "out"), "--no-progress"])
    assert done.exit_code == 1 and not (tmp_path / "out").exists()
    assert "--grouping types differs from the grouping the probe saved here was fitted with (groups only in " \
           "--grouping: A, B; groups only in the saved probe: bursty, regular); refit it with --fit-on ... " \
           "--overwrite, or into another --probe-dir" in " ".join(done.output.split())
    other.write_text(json.dumps({"bursty": ["CH", "IB"], "regular": ["RS", "FS"]}))
    with pytest.raises(NeurPIRError, match=r"\(regular: LTS only in the saved probe\)"):
        predict_with_saved_probe(saved["model_dir"], [target], label="cell_type", grouping=str(other))
    other.write_text(json.dumps({"regular": ["LTS", "FS", "RS"], "bursty": ["IB", "CH"]}))  # the same, reordered
    (outcome,) = predict_with_saved_probe(saved["model_dir"], [target], label="cell_type", grouping=str(other),
                                          output_dir=tmp_path / "out", progress=False)
    assert outcome.status == "copy" and set(outcome.counts) <= {"bursty", "regular"}


def _silence_and_relabel(path: Path, silent: int, relabelled: list[int]) -> None:
    """Give the first ``silent`` units of the file no spikes (their spikes go to the next unit) and the units
    ``relabelled`` the cell type XX, in place."""
    with h5py.File(path, "r+") as file:
        units = file["units"]
        index = units["spike_times_index"][:]
        index[:silent] = 0
        units["spike_times_index"][:] = index
        units["spike_times"][: index[silent]] = np.sort(units["spike_times"][: index[silent]])
        for row in relabelled:
            units["cell_type"][row] = "XX"


def test_silent_neurons_are_left_unpredicted_and_foreign_labels_are_told(fitted: tuple, saved: dict,  # noqa: F811
                                                                         tmp_path: Path) -> None:
    target = Path(shutil.copy(_nwb(saved["data"] / "sub-sim03"), tmp_path / "sim03.nwb"))
    _silence_and_relabel(target, 3, [10, 11, 12, 13])
    with pytest.warns(UserWarning, match=r"4 of 22 labelled neurons have a cell_type outside the probe's classes CH, "
                                         r"FS, IB, LTS, RS \(XX 4\); their predicted labels are one of those"):
        (outcome,) = npir.predict(saved["probe"], target, model=fitted[0], progress=False)
    assert outcome.n_neurons == 22 and outcome.n_silent == 3 and outcome.to_dict()["n_silent"] == 3
    ids = npir.open_recordings(target, progress=False)[0].neuron_ids
    assert sorted(read_predictions(target)["neuron_id"]) == sorted(ids[3:])
    assert list(npir.to_pynapple(target).metadata["predicted_cell_type"][:3]) == ["", "", ""]
    assert len(npir.read_embeddings(target)) == 25  # their vectors stay


def test_predicting_a_recording_the_probe_was_fitted_on_is_called_in_sample(saved: dict, tmp_path: Path) -> None:
    training = _nwb(saved["data"] / "sub-sim01")
    copy = Path(shutil.copy(training, tmp_path / "elsewhere.nwb"))  # another path, the same recording
    with pytest.warns(UserWarning, match=f"the probe was fitted on this recording \\({training}\\); its predicted "
                                         "labels are in-sample"):
        npir.predict(saved["probe"], copy, progress=False)
    assert len(read_predictions(copy)) == 25


@pytest.fixture(scope="module")
def second(simulated: Path, saved: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple:  # noqa: F811
    """Another model and a probe fitted on copies of sim01 and sim02 annotated with it."""
    root = tmp_path_factory.mktemp("second")
    model = npir.NeurPIR(**{**TINY, "seed": 1}).fit(npir.open_recordings(simulated, progress=False),
                                                   checkpoint_dir=root / "model", progress=False)
    data = Path(shutil.copytree(simulated, root / "data"))
    npir.annotate(model, [data / "sub-sim01", data / "sub-sim02"], progress=False)
    return model, npir.LabelProbe("cell_type").fit([data / "sub-sim01", data / "sub-sim02"])


def test_a_second_models_predictions_go_beside_the_first_or_say_what_they_replace(fitted: tuple,  # noqa: F811
                                                                                  saved: dict, second: tuple,
                                                                                  tmp_path: Path) -> None:
    model, probe = second
    first_sha = saved["probe"].model_sha256_[:12]
    targets = [Path(shutil.copy(_nwb(saved["data"] / "sub-sim03"), tmp_path / f"{n}.nwb")) for n in ("a", "b")]
    for target in targets:
        npir.predict(saved["probe"], target, model=fitted[0], progress=False)
    with pytest.raises(NeurPIRError, match=rf"already has embeddings named 'NeurPIREmbeddings' in processing/neurpir "
                                           rf"\(model {first_sha}\); to keep both, give the new ones another name "
                                           r"\(--embeddings NAME and --name NAME\), or use --overwrite"):
        npir.predict(probe, targets[0], model=model, progress=False)
    npir.predict(probe, targets[0], model=model, embeddings="second", name="predicted_second", progress=False)
    assert list_embeddings(targets[0]) == ["neurpir/NeurPIREmbeddings", "neurpir/second"]
    assert list_predictions(targets[0]) == ["neurpir/predicted_cell_type", "neurpir/predicted_second"]
    (outcome,) = npir.predict(probe, targets[1], model=model, overwrite=True, progress=False)
    assert outcome.replaced == [f"neurpir/NeurPIREmbeddings (model {first_sha})",
                                f"neurpir/predicted_cell_type (model {first_sha})"]
    assert read_predictions(targets[1]).attrs["model"]["checkpoint_sha256"] == probe.model_sha256_


def test_a_groupings_name_makes_one_folder_inside_probes(saved: dict, tmp_path: Path) -> None:
    escaping = tmp_path / "escaping.yaml"
    escaping.write_text('name: "../../../../ESC2"\ngroups:\n  bursty: [CH, IB]\n  regular: [RS, FS, LTS]\n')
    probes = saved["model_dir"] / "probes"
    (outcome,) = predict_with_saved_probe(saved["model_dir"], [saved["data"] / "sub-sim03"], label="cell_type",
                                          grouping=str(escaping), fit_on=[str(saved["data"] / "sub-sim01"),
                                                                          str(saved["data"] / "sub-sim02")],
                                          output_dir=tmp_path / "out", progress=False)
    assert outcome.status == "copy"
    assert (probes / "cell_type-..-..-..-..-ESC2" / "probe.json").is_file()
    assert not list(saved["model_dir"].parent.rglob("ESC2"))  # nothing saved outside the model's probes folder
    (again,) = predict_with_saved_probe(saved["model_dir"], [saved["data"] / "sub-sim03"], label="cell_type",
                                        grouping=str(escaping), output_dir=tmp_path / "again", progress=False)
    assert again.status == "copy"  # read back from the same folder
    nested = npir.LabelProbe("cell_type", {"name": "MB/VIS – grob", "groups": {"fast": ["FS"], "other": ["RS"]}})
    assert nested.default_folder(saved["model_dir"]) == probes / "cell_type-MB-VIS – grob"


def test_hand_features_a_file_lacks_are_named_and_set_to_their_training_mean(fitted: tuple, saved: dict,  # noqa: F811
                                                                            tmp_path: Path) -> None:
    from nwb_neurpir.workflows.probe_inputs import recording_hand_features

    target = Path(shutil.copy(_nwb(saved["data"] / "sub-sim03"), tmp_path / "sim03.nwb"))
    with h5py.File(target, "r+") as file:
        del file["processing/behavior"]  # no running speed: its covariate correlation is a feature the file lacks
    probe, missing = saved["probe"], "covariate_corr[behavior/BehavioralTimeSeries/running_speed]"
    assert missing in probe.hand_columns_
    with pytest.warns(UserWarning) as caught:
        (outcome,) = npir.predict(probe, target, model=fitted[0], output_dir=tmp_path / "out", progress=False)
    assert outcome.n_neurons == 25
    (said,) = [str(w.message) for w in caught if "hand features" in str(w.message)]  # once per file
    assert said.endswith(f"sim03.nwb: 1 of the probe's {len(probe.hand_columns_)} hand features are missing and set "
                         f"to their training mean: {missing}")
    recording = npir.open_recordings(target, progress=False, keep_spike_times=True)[0]
    column = probe.hand_columns_.index(missing)
    with pytest.warns(UserWarning, match="set to their training mean"):
        hand = recording_hand_features(recording, recording.neuron_ids, probe.hand_columns_,
                                       training_means=probe.probes_["hand"].mean)
    np.testing.assert_array_equal(hand[:, column], probe.probes_["hand"].mean[column])


def test_a_label_named_like_a_group_it_is_not_in_is_explained(fitted: tuple, saved: dict,  # noqa: F811
                                                            tmp_path: Path) -> None:
    grouping = {"bursty": ["CH", "IB"], "regular": ["RS", "FS", "LTS"]}
    probe = npir.LabelProbe("cell_type", grouping).fit([saved["data"] / "sub-sim01", saved["data"] / "sub-sim02"])
    target = Path(shutil.copy(_nwb(saved["data"] / "sub-sim03"), tmp_path / "sim03.nwb"))
    with h5py.File(target, "r+") as file:
        for row in (10, 11, 12):
            file["units"]["cell_type"][row] = "bursty"  # a coarse label, as Steinmetz's TH beside group TH's nuclei
    with pytest.warns(UserWarning) as caught:
        npir.predict(probe, target, model=fitted[0], output_dir=tmp_path / "out", progress=False)
    (note,) = [str(w.message) for w in caught if "outside the probe's classes" in str(w.message)]
    assert "3 of 25 labelled neurons have a cell_type outside the probe's classes bursty, regular (values in none " \
           "of these groups of grouping" in note
    assert ": bursty 3; the value bursty is not among the values of group bursty (CH, IB)); their predicted " \
           "labels are one of those classes" in note

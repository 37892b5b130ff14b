"""What an evaluation's report says it held out, how its diagnostics were computed, and the Python API taking
recordings already read (real simulated NWB files: three animals, two sessions each but one, read by the real
reader)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_files import TINY, rendered

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation import evaluate, write_report
from nwb_neurpir.io import open_recordings
from nwb_neurpir.simulate import SimulationConfig
from nwb_neurpir.simulate.nwb_output import write_dataset

NOT_ANIMAL_HELD_OUT = "not animal-held-out"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sim01 and sim02 with two sessions each, sim03 with one."""
    out = tmp_path_factory.mktemp("two-sessions")
    config = SimulationConfig(n_animals=3, sessions_per_animal=2, n_neurons=25, duration_s=10.0, seed=3)
    written = write_dataset(out, config, progress=False)
    second = [path for path in written if "sim03s02" in path.name]
    assert len(second) == 1
    second[0].unlink()
    return out


@pytest.fixture(scope="module")
def recordings(folder: Path) -> list:
    return list(open_recordings([folder], progress=False, keep_spike_times=True))


def test_session_folds_say_which_session_they_hold_out_and_whether_its_animal_trains(recordings: list,
                                                                                     tmp_path: Path) -> None:
    result = evaluate(recordings, label="cell_type", split="session", methods=["hand"], progress=False)
    held_out = {fold.name: (fold.held_out, fold.animal_disjoint) for fold in result.folds}
    assert held_out["sim01/sim01s01"] == ("session sim01/sim01s01 (other sessions of animal sim01 train)", False)
    assert held_out["sim03/sim03s01"] == ("session sim03/sim03s01", True)
    (note,) = [note for note in result.notes if NOT_ANIMAL_HELD_OUT in note]
    assert note.startswith("4 of 5 folds are not animal-held-out (sim01/sim01s01, sim01/sim01s02, sim02/sim02s01, "
                           "sim02/sim02s02): their training data")
    assert note.endswith("accuracy on an unseen animal is `--split animal`")
    paths = write_report(result, tmp_path, plots=False)
    markdown = paths["markdown"].read_text()
    assert "| sim01/sim01s02 | session sim01/sim01s02 (other sessions of animal sim01 train) |" in markdown
    assert "| sim03/sim03s01 | session sim03/sim03s01 |" in markdown and note in rendered(markdown)
    folds = json.loads(paths["json"].read_text())["folds"]
    assert (folds[0]["held_out"], folds[0]["animal_disjoint"]) == held_out["sim01/sim01s01"]

    by_animal = evaluate(recordings, label="cell_type", methods=["hand"], progress=False)
    assert [fold.held_out for fold in by_animal.folds] == ["animal sim01", "animal sim02", "animal sim03"]
    assert all(fold.animal_disjoint for fold in by_animal.folds)
    assert not any(NOT_ANIMAL_HELD_OUT in note for note in by_animal.notes)


def test_kfold_folds_say_they_share_the_animals(recordings: list) -> None:
    result = evaluate(recordings, label="cell_type", split="kfold", n_splits=2, methods=["hand"], progress=False)
    assert result.folds[0].held_out == "neurons of sim01, sim02, sim03 (the animals also train)"
    assert any(note.startswith("2 of 2 folds are not animal-held-out") for note in result.notes)


@pytest.fixture(scope="module")
def trained(folder: Path) -> object:
    """A model per fold of a session split in which sim01's second session is unlabelled: the probe never trains on
    a labelled neuron of sim01 when sim01/sim01s01 is tested, but that fold's model learns from sim01s02."""
    recordings = list(open_recordings([folder], progress=False, keep_spike_times=True))
    (unlabelled,) = [r for r in recordings if r.session_id == "sim01s02"]
    unlabelled.neuron_metadata["cell_type"] = None
    return evaluate(recordings, label="cell_type", config=TINY, split="session", methods=["neurpir", "hand"],
                    progress=False)


@pytest.mark.slow
def test_a_fold_whose_model_learns_from_its_animal_is_not_animal_held_out(trained: object) -> None:
    result = trained
    first = result.folds[0]
    assert first.name == "sim01/sim01s01" and not first.animal_disjoint
    assert first.held_out == "session sim01/sim01s01 (other sessions of animal sim01 train)"
    assert next(fold for fold in result.folds if fold.name == "sim03/sim03s01").animal_disjoint
    assert any(note.startswith("3 of 4 folds are not animal-held-out (sim01/sim01s01, sim02/sim02s01, "
                               "sim02/sim02s02)") for note in result.notes)


@pytest.mark.slow
def test_diagnostics_of_a_representation_trained_per_fold_average_every_fold_model(trained: object,
                                                                                    tmp_path: Path) -> None:
    result = trained
    neurpir = result.diagnostics["representations"]["neurpir"]
    assert neurpir["n_models"] == 4
    for name in ("session_identity", "animal_identity"):
        assert len(neurpir[f"{name}_per_model"]) == 4
        assert neurpir[name]["balanced_accuracy"] == pytest.approx(np.mean(neurpir[f"{name}_per_model"]))
    assert neurpir["effective_rank"] == pytest.approx(np.mean(neurpir["effective_rank_per_model"]))
    hand = result.diagnostics["representations"]["hand"]
    assert hand["n_models"] == 1 and "session_identity_per_model" not in hand
    markdown = write_report(result, tmp_path, plots=False)["markdown"].read_text()
    assert "| neurpir (mean of 4 fold models) | 8 |" in markdown and "| hand | " in markdown
    assert "each number is the mean over its fold models" in markdown


def test_the_python_api_evaluates_recordings_already_read(folder: Path, recordings: list) -> None:
    from_paths = npir.evaluate(folder, label="cell_type", methods="hand,hand:gb,hand-pca", progress=False)
    given = npir.evaluate(recordings, label="cell_type", progress=False)  # no model: the hand features
    numbers = given.table().drop(columns="mode")
    np.testing.assert_allclose(numbers.to_numpy(float), from_paths.table()[numbers.columns].to_numpy(float))
    one_at_a_time = npir.evaluate(iter(recordings), label="cell_type", split="session", methods=["hand"],
                                  progress=False)
    assert len(one_at_a_time.folds) == 5
    with pytest.raises(NeurPIRError, match=r"unit_filter= says how to read files, but the recordings given were "
                                           r"read already"):
        npir.evaluate(recordings, label="cell_type", unit_filter="cell_type == 'FS'", progress=False)
    with pytest.raises(NeurPIRError, match="neurpir needs a model"):
        npir.evaluate(recordings, label="cell_type", methods=["neurpir"], progress=False)
    with pytest.raises(TypeError, match="not a mix of both"):
        npir.evaluate([recordings[0], str(folder)], label="cell_type", progress=False)

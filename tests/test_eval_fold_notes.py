"""Notes on what a fold's score rests on (a test class of a handful of neurons, a method predicting one class for a
whole fold, chance without a class the fold lacks), and every output carrying the same notes (real simulated NWB
files read by the real reader)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from eval_files import rendered, simulated_folder

from nwb_neurpir.evaluation import evaluate, format_table, write_report
from nwb_neurpir.evaluation.external import GivenVectors
from nwb_neurpir.evaluation.results import EvaluationResult
from nwb_neurpir.io import open_recordings
from nwb_neurpir.recording import Recording


def _relabelled(recording: Recording, n_fs_kept: int) -> Recording:
    """``recording`` with all but its first ``n_fs_kept`` FS neurons labelled RS."""
    metadata = recording.neuron_metadata.copy()
    fs = np.flatnonzero(metadata["cell_type"].astype(str).to_numpy() == "FS")
    metadata.loc[metadata.index[fs[n_fs_kept:]], "cell_type"] = "RS"
    return dataclasses.replace(recording, neuron_metadata=metadata)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    """sim01 as simulated (5 FS), sim02 with 2 FS, sim03 with none; ``flat``: the same vector for every neuron."""
    folder = simulated_folder(tmp_path_factory, seed=11, name="fold-notes")
    sim01, sim02, sim03 = open_recordings([folder], progress=False, keep_spike_times=True)
    recordings = [sim01, _relabelled(sim02, 2), _relabelled(sim03, 0)]
    flat = GivenVectors("flat", "the same vector for every neuron",
                        [np.ones((r.n_neurons, 4)) for r in recordings])
    with pytest.warns(UserWarning):
        return evaluate(recordings, label="cell_type", methods=["hand", "flat"], vectors=[flat], normalize="none",
                        progress=False)


def test_a_fold_testing_a_class_on_a_few_neurons_is_named(result: EvaluationResult) -> None:
    (note,) = [note for note in result.notes if "test neurons in a fold" in note]
    assert note.startswith("cell_type classes with fewer than 5 test neurons in a fold: fold sim02 FS (2); ")
    assert not any(note.startswith("cell_type FS") for note in result.notes)  # 7 FS neurons pooled: no pooled note


def test_a_method_predicting_one_class_for_whole_folds_is_named(result: EvaluationResult) -> None:
    flat = result.method("flat")
    assert all(len(set(p.y_pred.tolist())) == 1 for p in flat.predictions)
    constant = ", ".join(f"{p.fold} ({p.y_pred[0]})" for p in flat.predictions)
    assert (f"flat predicted a single class for every test neuron of folds {constant}; its score there measures no "
            "separation of the classes") in result.notes
    assert not any(note.startswith("hand predicted") for note in result.notes)


def test_every_output_carries_the_same_notes(result: EvaluationResult, tmp_path: Path) -> None:
    assert any(note.startswith("fold sim03: chance 0.200 is 1/5") for note in result.notes)
    paths = write_report(result, tmp_path, plots=False)
    markdown = rendered(paths["markdown"].read_text()).split("## Notes\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    table = [line.removeprefix("note: ") for line in format_table(result).splitlines() if line.startswith("note: ")]
    assert result.to_dict()["notes"] == json.loads(paths["json"].read_text())["notes"] == table == result.notes
    assert markdown == [f"- {note}" for note in result.notes]

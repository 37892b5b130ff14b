"""#14.5: the label-free neighbour-aware probe is its own method row, built from activity neighbours only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from eval_files import simulated_folder

from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.evaluation.neighbours import NEIGHBOURS, activity_neighbours
from nwb_neurpir.io import open_recordings



@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = simulated_folder(tmp_path_factory, seed=11, name="neighbours")
    return list(open_recordings([folder], progress=False, keep_spike_times=True))


def test_neighbours_are_the_most_correlated_co_recorded_neurons(recordings: list) -> None:
    recording = recordings[0]
    activity = np.array(recording.activity, copy=True)
    activity[7] = activity[3]  # neuron 7 now fires exactly like neuron 3
    twin = dataclasses.replace(recording, activity=activity)
    neighbours = activity_neighbours(twin)
    assert neighbours.shape == (twin.n_neurons, NEIGHBOURS)
    assert neighbours[3, 0] == 7 and neighbours[7, 0] == 3
    assert not np.any(neighbours == np.arange(twin.n_neurons)[:, None])


def test_neighbour_aware_probe_is_a_separate_row(recordings: list) -> None:
    rng = np.random.default_rng(0)
    vectors = [rng.normal(size=(r.n_neurons, 6)) for r in recordings]
    both = evaluate(recordings, label="cell_type", embeddings=vectors, normalize="none", progress=False)
    names = [m.method.name for m in both.methods]
    assert "neurpir-neighbours" in names and "neurpir" in names
    alone = evaluate(recordings, label="cell_type", embeddings=vectors, normalize="none", methods=["neurpir"],
                     progress=False)
    assert both.method("neurpir").pooled.balanced_accuracy == alone.method("neurpir").pooled.balanced_accuracy
    assert both.primary().method.name == "neurpir"
    assert both.method("neurpir-neighbours").mode == "unknown"

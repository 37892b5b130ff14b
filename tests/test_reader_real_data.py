"""The shared real files load with the counts h5py reads straight from them: units, spikes, trials, labels, windows."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning

pytestmark = pytest.mark.shared_data


def quietly(path: Path, **options: object):  # noqa: ANN201 - Recording
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NWBReadWarning)  # Steinmetz sessions have a few units without spikes
        return read_nwb(path, **options)


def test_every_steinmetz_session_matches_h5py(steinmetz_files: list[Path]) -> None:
    assert len(steinmetz_files) == 11
    for path in steinmetz_files:
        recording = quietly(path)
        with h5py.File(path, "r") as nwb:
            units = nwb["units"]
            n_spikes = units["spike_times"].shape[0]
            windows = units["obs_intervals"][: int(units["obs_intervals_index"][0])]
            areas = units["brain_area"].asstr()[()]
            n_trials = nwb["intervals/trials/id"].shape[0]
            contrast_left = nwb["intervals/trials/contrast_left"][()]
        assert recording.n_neurons == units_count(path) == len(areas)
        assert int(recording.activity.sum(dtype=np.int64)) == n_spikes  # every spike lies in an observed window
        assert recording.n_bins == 40 * len(windows) and recording.observed is None
        np.testing.assert_allclose(recording.bin_times[::40], windows[:, 0])
        assert list(recording.neuron_metadata["brain_area"]) == list(areas)
        assert len(recording.trials) == n_trials
        np.testing.assert_array_equal(recording.covariates["trials/contrast_left"][::40], contrast_left[:len(windows)])
        assert recording.subject_id == path.parent.name.removeprefix("sub-")
        assert recording.session_id in path.name and recording.source.identifier


def units_count(path: Path) -> int:
    with h5py.File(path, "r") as nwb:
        return int(nwb["units/id"].shape[0])


def test_steinmetz_filter_and_spike_times_agree_with_h5py(steinmetz_files: list[Path]) -> None:
    path = steinmetz_files[0]
    recording = quietly(path, unit_filter="brain_area in ['CA1', 'VISp']", keep_spike_times=True)
    with h5py.File(path, "r") as nwb:
        areas = nwb["units/brain_area"].asstr()[()]
        times = nwb["units/spike_times"][()]
        ends = nwb["units/spike_times_index"][()]
    chosen = np.flatnonzero(np.isin(areas, ["CA1", "VISp"]))
    assert list(recording.neuron_ids) == list(chosen) and chosen.size > 0
    per_unit = np.split(times, ends[:-1])
    for row, unit in enumerate(chosen):
        np.testing.assert_array_equal(recording.spike_times[row], np.sort(per_unit[unit]))


def test_human_mtl_file(human_mtl_file: Path) -> None:
    recording = read_nwb(human_mtl_file, keep_spike_times=True)
    assert recording.n_neurons == 35 and int(recording.activity.sum(dtype=np.int64)) == 214_278
    assert sum(t.size for t in recording.spike_times) == 214_278
    with h5py.File(human_mtl_file, "r") as nwb:
        rows = nwb["units/electrodes"][()]
        locations = nwb["general/extracellular_ephys/electrodes/location"].asstr()[()]
    assert list(recording.neuron_metadata["location"]) == list(locations[rows])
    assert set(recording.neuron_metadata["location"]) == {"hippocampus_right", "amygdala_right"}
    assert recording.subject_id == "4" and recording.trials is None
    assert recording.covariates["encoding_table/in_interval"].sum() > 0
    assert {"recognition_table/confidence", "timediscrimination_table/RT"} <= set(recording.covariates)
    assert not any(name.endswith("_time") for name in recording.covariates)

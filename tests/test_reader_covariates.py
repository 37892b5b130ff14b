"""Trials, behaviour and stimulus come out on the activity's grid, finite, named by origin."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from reader_files import copy_of, replace_dataset, spikes_file

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning

SPEED = "processing/behavior/BehavioralTimeSeries/running_speed"


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return spikes_file(tmp_path_factory.mktemp("covariates"))


@pytest.fixture()
def copy(base_file: Path, tmp_path: Path) -> Path:
    return copy_of(base_file, tmp_path)


def test_every_covariate_is_finite_float32_on_the_grid(base_file: Path) -> None:
    recording = read_nwb(base_file)
    assert set(recording.covariates) == {"trials/in_trial", "trials/time_since_start", "trials/contrast",
                                         "trials/feedback_type", "behavior/running_speed", "stimulus/visual_contrast"}
    matrix, names = recording.covariate_matrix()
    assert matrix.shape == (recording.n_bins, 6) and matrix.dtype == np.float32 and np.isfinite(matrix).all()


def test_trial_columns_are_step_functions_over_each_trial(base_file: Path) -> None:
    recording = read_nwb(base_file)
    trials = recording.trials
    centers = recording.bin_times + recording.bin_size / 2
    expected_in, expected_contrast, expected_since = [], [], []
    for center in centers:
        holding = trials[(trials.start_time <= center) & (center < trials.stop_time)]
        expected_in.append(len(holding) > 0)
        expected_contrast.append(holding.contrast.iloc[-1] if len(holding) else 0.0)
        expected_since.append(center - holding.start_time.iloc[-1] if len(holding) else 0.0)
    assert 0 < sum(expected_in) < len(centers)
    np.testing.assert_array_equal(recording.covariates["trials/in_trial"], np.array(expected_in, dtype=np.float32))
    np.testing.assert_allclose(recording.covariates["trials/contrast"], expected_contrast)
    np.testing.assert_allclose(recording.covariates["trials/time_since_start"], expected_since, atol=1e-6)


def test_series_are_averaged_per_bin(base_file: Path) -> None:
    recording = read_nwb(base_file, bin_size=0.05)
    with h5py.File(base_file, "r") as nwb:
        speed = nwb[f"{SPEED}/data"][()]
    sample = np.round(recording.bin_times * 100).astype(int)  # each 50 ms bin holds the five 100 Hz samples from its start
    expected = [speed[first:first + 5].mean() for first in sample]
    np.testing.assert_allclose(recording.covariates["behavior/running_speed"], expected, rtol=1e-5)


def test_bins_without_samples_are_interpolated_and_edges_held(copy: Path) -> None:
    with h5py.File(copy, "a") as nwb:
        del nwb[f"{SPEED}/starting_time"]
        nwb[f"{SPEED}/timestamps"] = np.arange(1.0, 13.0, 0.5)
    replace_dataset(copy, f"{SPEED}/data", np.arange(1.0, 13.0, 0.5))  # value = its own time
    recording = read_nwb(copy)
    speed = recording.covariates["behavior/running_speed"]
    centers = np.clip(recording.bin_times + 0.005, 1.0, 12.5)
    np.testing.assert_allclose(speed, centers, atol=0.006)


def test_a_series_with_mismatched_timestamps_is_skipped_with_a_warning(copy: Path) -> None:
    with h5py.File(copy, "a") as nwb:
        del nwb[f"{SPEED}/starting_time"]
        nwb[f"{SPEED}/timestamps"] = np.arange(10) / 100
    with pytest.warns(NWBReadWarning, match=r"running_speed has 10 timestamps for 2000 samples"):
        recording = read_nwb(copy)
    assert "behavior/running_speed" not in recording.covariates and "trials/contrast" in recording.covariates


def test_trials_with_negative_duration_are_ignored_with_a_warning(copy: Path) -> None:
    with h5py.File(copy, "r") as nwb:
        stops = nwb["intervals/trials/stop_time"][()]
        starts = nwb["intervals/trials/start_time"][()]
    stops[0] = starts[0] - 1.0
    replace_dataset(copy, "intervals/trials/stop_time", stops)
    with pytest.warns(NWBReadWarning, match="1 rows of intervals/trials have a negative duration"):
        recording = read_nwb(copy)
    first_trial = (recording.bin_times >= starts[0]) & (recording.bin_times < starts[0] + 0.8)
    assert first_trial.any() and not recording.covariates["trials/in_trial"][first_trial].any()

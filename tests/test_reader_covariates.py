"""Trials, behaviour and stimulus come out on the activity's grid, finite, named by origin."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb.base import TimeSeries
from pynwb.behavior import EyeTracking, Position, PupilTracking, SpatialSeries
from reader_files import WINDOWS, copy_of, replace_dataset

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

SPEED = "processing/behavior/BehavioralTimeSeries/running_speed"


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nwbfile = make_spikes_nwbfile(n_units=6, duration=20.0, obs_intervals=WINDOWS, n_trials=8)
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("covariates") / "spikes.nwb")


def test_every_covariate_is_finite_float32_on_the_grid(base_file: Path) -> None:
    recording = read_nwb(base_file)
    assert set(recording.covariates) == {"trials/in_trial", "trials/time_since_start", "trials/contrast",
                                         "trials/feedback_type", "behavior/BehavioralTimeSeries/running_speed",
                                         "stimulus/visual_contrast"}
    matrix, names = recording.covariate_matrix()
    assert matrix.shape == (recording.n_bins, 6) and matrix.dtype == np.float32 and np.isfinite(matrix).all()


def test_trial_columns_are_step_functions_over_each_trial(base_file: Path) -> None:
    recording = read_nwb(base_file)
    starts, stops = recording.trials.start_time.to_numpy(), recording.trials.stop_time.to_numpy()
    contrasts = recording.trials.contrast.to_numpy()
    centers = recording.bin_times + recording.bin_size / 2
    expected_in, expected_contrast, expected_since = [], [], []
    for center in centers:
        holding = np.flatnonzero((starts <= center) & (center < stops))
        expected_in.append(holding.size > 0)
        expected_contrast.append(contrasts[holding[-1]] if holding.size else 0.0)
        expected_since.append(center - starts[holding[-1]] if holding.size else 0.0)
    assert 0 < sum(expected_in) < len(centers)
    np.testing.assert_array_equal(recording.covariates["trials/in_trial"], np.array(expected_in, dtype=np.float32))
    np.testing.assert_allclose(recording.covariates["trials/contrast"], expected_contrast)
    np.testing.assert_allclose(recording.covariates["trials/time_since_start"], expected_since, atol=1e-6)


def test_series_are_averaged_per_bin(base_file: Path) -> None:
    recording = read_nwb(base_file, bin_size=0.05)
    with h5py.File(base_file, "r") as nwb:
        speed = nwb[f"{SPEED}/data"][()]
    sample = np.round(recording.bin_times * 100).astype(int)  # a 50 ms bin holds the 5 samples (100 Hz) from its start
    expected = [speed[first:first + 5].mean() for first in sample]
    np.testing.assert_allclose(recording.covariates["behavior/BehavioralTimeSeries/running_speed"], expected, rtol=1e-5)


def test_bins_without_samples_are_interpolated_and_edges_held(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    with h5py.File(copy, "a") as nwb:
        del nwb[f"{SPEED}/starting_time"]
        nwb[f"{SPEED}/timestamps"] = np.arange(1.0, 13.0, 0.5)
    replace_dataset(copy, f"{SPEED}/data", np.arange(1.0, 13.0, 0.5))  # value = its own time
    recording = read_nwb(copy)
    speed = recording.covariates["behavior/BehavioralTimeSeries/running_speed"]
    centers = np.clip(recording.bin_times + 0.005, 1.0, 12.5)
    np.testing.assert_allclose(speed, centers, atol=0.006)


def test_a_series_with_mismatched_timestamps_is_skipped(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    with h5py.File(copy, "a") as nwb:
        del nwb[f"{SPEED}/starting_time"]
        nwb[f"{SPEED}/timestamps"] = np.arange(10) / 100
    with pytest.warns(NWBReadWarning, match=r"running_speed has 10 timestamps for 2000 samples"):
        recording = read_nwb(copy)
    assert "behavior/BehavioralTimeSeries/running_speed" not in recording.covariates
    assert "trials/contrast" in recording.covariates


def test_trials_with_negative_duration_are_ignored(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    with h5py.File(copy, "r") as nwb:
        stops = nwb["intervals/trials/stop_time"][()]
        starts = nwb["intervals/trials/start_time"][()]
    stops[0] = starts[0] - 1.0
    replace_dataset(copy, "intervals/trials/stop_time", stops)
    with pytest.warns(NWBReadWarning, match="1 rows of intervals/trials have a negative duration"):
        recording = read_nwb(copy)
    first_trial = (recording.bin_times >= starts[0]) & (recording.bin_times < starts[0] + 0.8)
    assert first_trial.any() and not recording.covariates["trials/in_trial"][first_trial].any()


def test_position_and_pupil_series_become_covariates_with_their_columns(tmp_path: Path) -> None:
    nwbfile = make_spikes_nwbfile(n_units=3, duration=20.0, obs_intervals=[(0.0, 5.0)], n_trials=4)
    xy = np.column_stack([np.arange(1000) / 50.0, -np.arange(1000) / 50.0])  # 50 Hz: x = t, y = -t
    nwbfile.processing["behavior"].add(Position(spatial_series=SpatialSeries(
        name="position_xy", data=xy, reference_frame="arena centre", rate=50.0, starting_time=0.0,
        description="animal position")))
    nwbfile.add_acquisition(PupilTracking(time_series=TimeSeries(
        name="pupil_radius", data=np.full(200, 2.5), unit="mm", timestamps=np.arange(200) / 10.0,
        description="pupil radius")))
    recording = read_nwb(write_nwbfile(nwbfile, tmp_path / "behaviour.nwb"), bin_size=0.1)
    position = recording.covariates["behavior/Position/position_xy"]
    assert position.shape == (recording.n_bins, 2)
    # each 100 ms bin averages five 50 Hz samples starting at its start: mean time = start + 0.04
    np.testing.assert_allclose(position[:, 0], recording.bin_times + 0.04, atol=1e-5)
    np.testing.assert_allclose(position[:, 1], -(recording.bin_times + 0.04), atol=1e-5)
    np.testing.assert_allclose(recording.covariates["behavior/PupilTracking/pupil_radius"], 2.5)


def _with_positions(tmp_path: Path, name: str, eye: bool) -> Path:
    """A file with the head position (``Position/position``) and, with ``eye``, the eye's (``EyeTracking/position``)."""
    nwbfile = make_spikes_nwbfile(n_units=3, duration=20.0, obs_intervals=[(0.0, 5.0)], n_trials=4)
    head = np.column_stack([np.arange(1000) / 50.0] * 2)
    nwbfile.processing["behavior"].add(Position(spatial_series=SpatialSeries(
        name="position", data=head, reference_frame="arena", rate=50.0, starting_time=0.0, description="head")))
    if eye:
        nwbfile.processing["behavior"].add(EyeTracking(spatial_series=SpatialSeries(
            name="position", data=np.full((1000, 2), 0.01), reference_frame="screen", rate=50.0, starting_time=0.0,
            description="eye")))
    return write_nwbfile(nwbfile, tmp_path / name)


def test_a_series_is_named_by_its_path_whatever_else_the_file_holds(tmp_path: Path) -> None:
    both = read_nwb(_with_positions(tmp_path, "both.nwb", eye=True), bin_size=0.1)
    head_only = read_nwb(_with_positions(tmp_path, "head.nwb", eye=False), bin_size=0.1)
    assert {"behavior/Position/position", "behavior/EyeTracking/position"} <= set(both.covariates)
    assert "behavior/Position/position" in head_only.covariates and "behavior/position" not in head_only.covariates
    np.testing.assert_allclose(both.covariates["behavior/Position/position"],
                               head_only.covariates["behavior/Position/position"])
    np.testing.assert_allclose(both.covariates["behavior/EyeTracking/position"], 0.01)

"""Interval tables on the grid: an instantaneous row (start == stop) still marks its bin, and a NaN value is told
apart from the value 0."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb.epoch import TimeIntervals

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import Recording
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """20 s at 10 ms bins with instantaneous rewards at 5.0 s (3 uL) and 7.003 s (4 uL), and gratings of 2 s whose
    orientation cycles 0, 90, NaN (blank screen) from 0 s."""
    nwbfile = make_spikes_nwbfile(n_units=3, duration=20.0, n_trials=4)
    rewards = TimeIntervals(name="rewards", description="reward deliveries (instantaneous)")
    rewards.add_column("volume", "uL")
    for time, volume in ((5.0, 3.0), (7.003, 4.0)):
        rewards.add_row(start_time=time, stop_time=time, volume=volume)
    nwbfile.add_time_intervals(rewards)
    gratings = TimeIntervals(name="gratings", description="gratings; orientation NaN = blank screen")
    gratings.add_column("orientation", "deg")
    for k, start in enumerate(np.arange(0.0, 18.0, 2.0)):
        gratings.add_row(start_time=start, stop_time=start + 2.0, orientation=[0.0, 90.0, np.nan][k % 3])
    nwbfile.add_time_intervals(gratings)
    path = write_nwbfile(nwbfile, tmp_path_factory.mktemp("intervals") / "intervals.nwb")
    return read_nwb(path, bin_size=0.01)


def test_an_instantaneous_row_marks_the_bin_it_happens_in(recording: Recording) -> None:
    bins = [int(np.searchsorted(recording.bin_times, time + 1e-9, side="right") - 1) for time in (5.0, 7.003)]
    expected_in, expected_volume = np.zeros(recording.n_bins, np.float32), np.zeros(recording.n_bins, np.float32)
    expected_in[bins] = 1.0
    expected_volume[bins] = [3.0, 4.0]
    np.testing.assert_array_equal(recording.covariates["rewards/in_interval"], expected_in)
    np.testing.assert_array_equal(recording.covariates["rewards/volume"], expected_volume)
    assert (recording.covariates["rewards/time_since_start"] >= 0).all()


def test_a_nan_value_is_marked_missing_rather_than_read_as_zero(recording: Recording) -> None:
    centers = recording.bin_times + recording.bin_size / 2
    blank = (np.floor(centers / 2.0) % 3 == 2) & (centers < 18.0)
    np.testing.assert_array_equal(recording.covariates["gratings/orientation_missing"], blank.astype(np.float32))
    orientation = recording.covariates["gratings/orientation"]
    assert (orientation[blank] == 0).all() and (orientation[(np.floor(centers / 2.0) % 3 == 1)] == 90).all()
    assert not {"trials/contrast_missing", "rewards/volume_missing"} & set(recording.covariates)

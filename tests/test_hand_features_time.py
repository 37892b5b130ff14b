"""Hand features do not depend on where the session clock starts, and each unit's statistics cover only the time its
``obs_intervals`` say it was observed (real NWB files written with pynwb)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nwb_neurpir as npir
from nwb_neurpir.evaluation.features import hand_features

DURATION = 120.0
SAMPLING_RATE = 30_000.0
"""Spike times sit on this sample grid, as a sorter writes them: ISIs of exactly 10 ms (300 samples) occur."""


def _bursty_times(rng: np.random.Generator, rate: float) -> np.ndarray:
    """Bursts of 2-4 spikes 5, 10 or 15 ms apart at Poisson times, on the sample grid."""
    onsets = np.sort(rng.uniform(0.0, DURATION - 0.1, rng.poisson(rate * DURATION)))
    gaps = [np.cumsum(np.r_[0.0, rng.choice([0.005, 0.010, 0.015], size=rng.integers(1, 4))]) for _ in onsets]
    times = np.concatenate([onset + gap for onset, gap in zip(onsets, gaps)]) if gaps else np.zeros(0)
    return np.unique(np.round(times * SAMPLING_RATE) / SAMPLING_RATE)


def _write(path: Path, offset: float = 0.0, lost_at: float | None = None, observed_until: float = DURATION) -> Path:
    """12 bursty units observed from 0 to ``observed_until`` (unit 0 only to ``lost_at``), trials every 1.5 s with a
    contrast and running speed at 100 Hz; every time shifted by ``offset`` seconds."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.file import Subject

    rng = np.random.default_rng(7)
    nwb = NWBFile(session_description="clock test", identifier=str(uuid.uuid4()),
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc), session_id="s1",
                  subject=Subject(subject_id="m1", species="Mus musculus", sex="U", age="P90D"))
    for unit in range(12):
        times = _bursty_times(rng, rng.uniform(3.0, 12.0))
        until = lost_at if unit == 0 and lost_at is not None else observed_until
        nwb.add_unit(spike_times=times[times < until] + offset, obs_intervals=[[offset, until + offset]])
    nwb.add_trial_column("contrast", "stimulus contrast")
    for start in np.arange(0.5, DURATION - 1.0, 1.5):
        nwb.add_trial(start_time=float(start + offset), stop_time=float(start + 1.0 + offset),
                      contrast=float(rng.choice([0.0, 0.5, 1.0])))
    speed = np.abs(np.cumsum(rng.normal(0, 0.5, int(DURATION * 100))))
    module = nwb.create_processing_module("behavior", "running")
    module.add(BehavioralTimeSeries(time_series=TimeSeries(name="running_speed", data=speed, unit="cm/s", rate=100.0,
                                                           starting_time=offset)))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _features(path: Path, keep_spike_times: bool) -> pd.DataFrame:
    (recording,) = npir.open_recordings(path, progress=False, keep_spike_times=keep_spike_times)
    return hand_features(recording)


@pytest.mark.parametrize("offset", [3600.0, 3600.003])
@pytest.mark.parametrize("keep_spike_times", [False, True])
def test_shifting_the_clock_leaves_the_hand_features_unchanged(tmp_path: Path, offset: float,
                                                               keep_spike_times: bool) -> None:
    """ISIs of exactly one bin (binned) or exactly 10 ms (spike times) used to fall either side of the burst threshold
    by the float rounding of times an hour into the session; 3,600.003 s is no whole number of bins, and the grid
    starts at the observed window, so the bins hold the same spikes."""
    plain = _features(_write(tmp_path / "plain.nwb"), keep_spike_times)
    shifted = _features(_write(tmp_path / "shifted.nwb", offset=offset), keep_spike_times)
    assert plain["burst_index"].gt(0).sum() >= 10
    pd.testing.assert_frame_equal(shifted, plain, check_exact=False, rtol=0, atol=1e-9)


def test_a_unit_lost_half_way_gets_the_statistics_of_its_observed_half(tmp_path: Path) -> None:
    """Unit 0 is observed for the first half only: its Fano factor, PSTH, autocorrelation, couplings, covariate
    correlations and ISIs are those of the same unit in a file observed for that half alone (only its rate relative
    to the other units differs), not of a unit silent in the second half."""
    lost = _features(_write(tmp_path / "lost.nwb", lost_at=DURATION / 2), keep_spike_times=True)
    half = _features(_write(tmp_path / "half.nwb", observed_until=DURATION / 2), keep_spike_times=True)
    columns = [name for name in half.columns if name != "log_rate_vs_session"]
    assert {"fano_factor", "autocorr[10ms]", "population_coupling", "population_coupling_trials",
            "covariate_corr[behavior/BehavioralTimeSeries/running_speed]", "stim_tuning[contrast]", "trial_vs_overall"} <= set(columns)
    np.testing.assert_allclose(lost.loc[0, columns].to_numpy(float), half.loc[0, columns].to_numpy(float),
                               rtol=1e-6, atol=1e-9)
    (recording,) = npir.open_recordings(tmp_path / "lost.nwb", progress=False, keep_spike_times=True)
    starts = np.arange(0.5, DURATION - 1.0, 1.5)
    starts = starts[starts + 1.0 <= DURATION / 2]  # the trials wholly inside its observed half
    counts = np.array([np.sum((recording.spike_times[0] >= a) & (recording.spike_times[0] < a + 1.0))
                       for a in starts])
    assert lost.loc[0, "fano_factor"] == pytest.approx(counts.var() / counts.mean(), rel=1e-6)


def _imaging(path: Path, unobserved_rois: slice) -> Path:
    """1,800 frames of 10 ROIs; the ROIs ``unobserved_rois`` are NaN (not imaged) in the second half."""
    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_frames=1800, with_context=False)
    for module, name in (("Fluorescence", "RoiResponseSeries"), ("DfOverF", "DfOverFSeries")):
        nwbfile.processing["ophys"][module][name].data[900:, unobserved_rois] = np.nan
    return write_nwbfile(nwbfile, path)


def test_an_roi_not_imaged_half_way_gets_the_trace_statistics_of_its_imaged_half(tmp_path: Path) -> None:
    """ROI 0's frames NaN in the second half: its statistics are those of a file whose every ROI stops there (but
    for the shares of its top 1% / 10% frames, which count frames of the whole grid), not of a flat second half."""
    lost = _features(_imaging(tmp_path / "lost.nwb", slice(0, 1)), keep_spike_times=False)
    half = _features(_imaging(tmp_path / "half.nwb", slice(None)), keep_spike_times=False)
    columns = [name for name in half.columns if not name.startswith("deconv_top")]
    assert {"skewness", "event_rate", "log_decay_time", "z_percentile[50]", "deconv_fano_1s",
            "population_coupling"} <= set(columns)
    np.testing.assert_allclose(lost.loc[0, columns].to_numpy(float), half.loc[0, columns].to_numpy(float),
                               rtol=1e-5, atol=1e-6)

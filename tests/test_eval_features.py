"""Hand features on real NWB files written by the testing factories, and on recordings of known structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nwb_neurpir.evaluation.features import feature_matrix, hand_features
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import Recording, SourceInfo
from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, write_nwbfile


@pytest.fixture(scope="module")
def spikes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nwbfile(make_spikes_nwbfile(n_units=24, duration=120.0, n_trials=60, seed=3),
                         tmp_path_factory.mktemp("features") / "spikes.nwb")


def test_spike_features_of_poisson_units(spikes_file: Path) -> None:
    recording = read_nwb(spikes_file, keep_spike_times=True)
    table = hand_features(recording)
    assert len(table) == recording.n_neurons == 24
    assert np.isfinite(table.to_numpy()).all()
    for name in ("log_rate_vs_session", "fano_factor", "isi_cv", "isi_cv2", "isi_lv", "burst_index", "psth[0]",
                 "stim_tuning[contrast]", "reward_modulation[feedback_type]", "autocorr[10ms]",
                 "population_coupling", "covariate_corr[behavior/BehavioralTimeSeries/running_speed]"):
        assert name in table.columns
    counts = np.array([times.size for times in recording.spike_times])
    assert np.corrcoef(counts, table["log_rate_vs_session"])[0, 1] > 0.95
    busy = counts > 10 * 120.0
    assert 0.85 < table.loc[busy, "isi_cv"].median() < 1.15
    assert 0.85 < table.loc[busy, "isi_cv2"].median() < 1.15
    assert 0.7 < table["fano_factor"].median() < 1.4
    assert table["autocorr[10ms]"].abs().max() < 0.1


def _recording(activity: np.ndarray, trials: pd.DataFrame | None, bin_size: float = 0.01) -> Recording:
    n, n_bins = activity.shape
    return Recording(source=SourceInfo("made.nwb"), subject_id="m", session_id="s", session_start_time="",
                     modality="spikes", bin_size=bin_size, bin_times=np.arange(n_bins) * bin_size,
                     activity=activity.astype(np.uint16), neuron_ids=np.arange(n), neuron_table="units",
                     neuron_metadata=pd.DataFrame(index=range(n)), trials=trials)


def test_stimulus_reward_and_burst_features_follow_the_activity() -> None:
    rng = np.random.default_rng(0)
    n_bins, starts = 20_000, np.arange(1.0, 190.0, 2.0)
    contrast = rng.choice([0.0, 0.5, 1.0], starts.size)
    feedback = rng.choice([-1.0, 1.0], starts.size)
    trials = pd.DataFrame({"start_time": starts, "stop_time": starts + 0.5, "contrast": contrast,
                           "feedback_type": feedback})
    rate = np.full((3, n_bins), 0.02)
    for start, level, reward in zip(starts, contrast, feedback):
        window = slice(int(start * 100), int(start * 100) + 50)
        rate[0, window] += 0.3 * level
        rate[1, window] += 0.2 * (reward > 0)
    activity = rng.poisson(rate)
    bursts = rng.random(n_bins) < 0.004
    activity[2] = np.where(bursts, 4, rng.poisson(0.005, n_bins))
    table = hand_features(_recording(activity, trials))
    assert table.loc[0, "stim_minus_blank"] > 1.0 and table.loc[0, "stim_tuning[contrast]"] > 0.5
    assert abs(table.loc[1, "stim_minus_blank"]) < 0.5
    assert table.loc[1, "reward_modulation[feedback_type]"] > 1.0
    assert abs(table.loc[0, "reward_modulation[feedback_type]"]) < 0.5
    assert table.loc[2, "burst_index"] > 0.5 > table.loc[0, "burst_index"]


def test_calcium_trace_features(tmp_path: Path) -> None:
    path = write_nwbfile(make_ophys_nwbfile(n_rois=12, n_frames=3000, seed=1), tmp_path / "ophys.nwb")
    recording = read_nwb(path)
    table = hand_features(recording)
    assert len(table) == 12 and np.isfinite(table.to_numpy()).all()
    assert {"skewness", "log_snr", "event_rate", "log_decay_time", "psth[0]"} <= set(table.columns)
    assert (table["skewness"] > 0.5).all()
    decay = 10 ** table["log_decay_time"]
    assert 0.3 < decay.median() < 1.5


def test_calcium_statistics_of_roi_blocks_equal_those_of_all_rois_at_once(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from nwb_neurpir.evaluation.features import traces

    recording = read_nwb(write_nwbfile(make_ophys_nwbfile(n_rois=12, n_frames=600, seed=2), tmp_path / "o.nwb"))
    whole = traces.trace_features(recording)
    monkeypatch.setattr(traces, "ROWS_PER_BLOCK", 5)  # blocks of 5, 5 and 2 ROIs
    pd.testing.assert_frame_equal(traces.trace_features(recording), whole)


def test_signed_dff_traces_give_finite_features_on_the_cells_scale_without_numpy_warnings(tmp_path: Path) -> None:
    import warnings

    from reader_files import curated_ophys_file

    path = curated_ophys_file(tmp_path)
    recording = read_nwb(path)
    assert recording.activity.min() < 0  # the rejected ROIs' dF/F is zero-mean noise
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the log of a negative ratio warned
        table = hand_features(recording)
    assert np.isfinite(table.to_numpy()).all()
    noise = recording.neuron_metadata["Accepted"].to_numpy() == 0
    psth = table[[f"psth[{i}]" for i in range(20)]].to_numpy()
    assert np.abs(psth[noise]).max() < 5  # was 16: divided by a mean near 0
    assert np.abs(table.loc[noise, "trial_vs_overall"]).max() < 0.2  # noise is as strong in trials as outside
    raw = hand_features(read_nwb(path, series="RoiResponseSeries"))  # positive: divided by its mean, as before
    np.testing.assert_allclose(raw[[f"psth[{i}]" for i in range(20)]].mean(axis=1), 1.0, rtol=1e-5)


def test_feature_matrix_aligns_columns_across_recordings() -> None:
    rng = np.random.default_rng(1)
    trials = pd.DataFrame({"start_time": [1.0, 3.0, 5.0], "stop_time": [1.5, 3.5, 5.5], "contrast": [0.0, 1.0, 0.5]})
    with_trials = _recording(rng.poisson(0.1, (4, 800)), trials)
    without = _recording(rng.poisson(0.1, (3, 800)), None)
    matrices, names = feature_matrix([with_trials, without])
    assert [m.shape for m in matrices] == [(4, len(names)), (3, len(names))]
    assert "psth[0]" in names
    assert np.all(matrices[1][:, names.index("psth[0]")] == 0)


def test_activity_statistics_read_in_blocks_equal_the_direct_formulas() -> None:
    from nwb_neurpir.evaluation.features.activity import _BLOCK_BINS, autocorrelation, population_coupling

    rng = np.random.default_rng(0)
    n_bins = 2 * _BLOCK_BINS + 123  # three blocks; pairs cross block ends
    activity = rng.poisson(rng.uniform(0.1, 2.0, (4, 1)), (4, n_bins)).astype(np.uint8)
    epochs = np.repeat(np.arange(n_bins // 50 + 1), 50)[:n_bins]  # 50-bin trials: many pairs cross epochs
    x = activity - activity.mean(axis=1, keepdims=True)
    for column, lag in enumerate((1, 7, 20)):
        same = epochs[:-lag] == epochs[lag:]
        expected = (x[:, :-lag][:, same] * x[:, lag:][:, same]).mean(axis=1) / (x ** 2).mean(axis=1)
        np.testing.assert_allclose(autocorrelation(activity, epochs, (1, 7, 20))[:, column], expected, rtol=1e-10)
    others = activity.sum(axis=0) - activity
    expected = [np.corrcoef(activity[i], others[i])[0, 1] for i in range(4)]
    np.testing.assert_allclose(population_coupling(activity), expected, rtol=1e-10)


def test_a_neuron_unobserved_in_every_trial_gets_zeros_without_numpy_warnings() -> None:
    import dataclasses
    import warnings

    rng = np.random.default_rng(1)
    starts = np.arange(1.0, 50.0, 2.0)
    trials = pd.DataFrame({"start_time": starts, "stop_time": starts + 0.5, "contrast": rng.choice([0.0, 1.0], 25)})
    recording = _recording(rng.poisson(0.05, (2, 6000)), trials)
    observed = np.ones((2, 6000), bool)
    observed[1] = False  # its obs_intervals cover no trial
    observed[1, 5500:] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = hand_features(dataclasses.replace(recording, observed=observed))
    assert np.isfinite(table.to_numpy()).all() and table.loc[1, "stim_minus_blank"] == 0.0


def test_a_probe_saved_with_a_series_old_short_name_reads_that_series(spikes_file: Path) -> None:
    from nwb_neurpir.workflows.probe_inputs import recording_hand_features

    recording = read_nwb(spikes_file)
    ids = recording.neuron_ids
    new, old = "covariate_corr[behavior/BehavioralTimeSeries/running_speed]", "covariate_corr[behavior/running_speed]"
    (by_path,) = recording_hand_features(recording, ids, [new], exact_isis=False).T
    (by_old_name,) = recording_hand_features(recording, ids, [old], exact_isis=False).T
    assert np.abs(by_path).max() > 0
    np.testing.assert_array_equal(by_old_name, by_path)
    unknown = recording_hand_features(recording, ids, ["covariate_corr[behavior/no_such_series]"], exact_isis=False)
    assert not unknown.any()

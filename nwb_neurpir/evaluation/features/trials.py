"""Trial-aligned responses shared by spikes and calcium: PSTH shape, stimulus and reward modulation.

Trials come from ``Recording.trials``; stimulus columns are numeric trial columns whose name mentions a contrast,
stimulus or intensity, reward columns those that mention feedback or reward. A trial is used when its whole window
lies on contiguous observed bins, and for each neuron only when the neuron is observed throughout it (its own
``obs_intervals``): a neuron's unobserved trials are NaN and left out of its statistics.

PSTH and contrasts are divided by the neuron's activity level in the trial window, and compared with its level over
the session: the mean rate of spikes or raw fluorescence; for signed traces, the mean or, when that is near or below
the baseline, a fraction of the mean absolute value (``LEVEL_FLOOR``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nwb_neurpir.evaluation.features.activity import correlation_over_observed, observed_means
from nwb_neurpir.recording import Recording

__all__ = ["TrialWindows", "align_trials", "trial_response_features"]

STIMULUS_WORDS = ("contrast", "stim", "intensity")
REWARD_WORDS = ("feedback", "reward")
MAX_WINDOW_SECONDS = 1.0
N_PSTH_BINS = 20
LEVEL_FLOOR = 0.25
"""A signed trace (dF/F, baseline 0) whose mean is below this fraction of its mean absolute value is mostly noise
around its baseline: its level is that fraction instead (no ratio or log is taken of a mean near or below 0)."""


@dataclass(frozen=True)
class TrialWindows:
    """Activity cut into equal windows starting at each usable trial's start."""

    responses: np.ndarray
    """(n_neurons, n_trials, window_bins) float32; NaN for a trial the neuron is not observed throughout."""
    trials: pd.DataFrame
    """The usable trials, in the same order."""


def _numeric_columns(trials: pd.DataFrame, words: tuple[str, ...]) -> list[str]:
    return [name for name in trials.columns
            if name not in ("start_time", "stop_time") and any(word in name.lower() for word in words)
            and pd.api.types.is_numeric_dtype(trials[name]) and not pd.api.types.is_bool_dtype(trials[name])]


def align_trials(recording: Recording) -> TrialWindows | None:
    """Windows of activity from each trial's start, or None without a trials table or a usable trial."""
    trials = recording.trials
    if trials is None or len(trials) == 0 or "start_time" not in trials or recording.n_bins == 0:
        return None
    starts = trials["start_time"].to_numpy(dtype=float)
    durations = trials["stop_time"].to_numpy(dtype=float) - starts if "stop_time" in trials else np.array([np.nan])
    duration = float(np.nanmedian(durations)) if np.isfinite(durations).any() else MAX_WINDOW_SECONDS
    window = int(round(min(max(duration, recording.bin_size), MAX_WINDOW_SECONDS) / recording.bin_size))
    times = recording.bin_times
    first = np.searchsorted(times, starts - 0.5 * recording.bin_size)
    last = first + window - 1
    inside = (last < times.size) & np.isfinite(starts)
    first, last = first[inside], last[inside]
    on_time = np.abs(times[first] - starts[inside]) < recording.bin_size
    contiguous = np.abs((times[last] - times[first]) - (window - 1) * recording.bin_size) < 0.5 * recording.bin_size
    usable = np.flatnonzero(inside)[on_time & contiguous]
    if usable.size == 0:
        return None
    offsets = np.searchsorted(times, starts[usable] - 0.5 * recording.bin_size)[:, None] + np.arange(window)
    responses = recording.activity[:, offsets].astype(np.float32)
    if recording.observed is not None:
        responses[~recording.observed[:, offsets].all(axis=2)] = np.nan
    return TrialWindows(responses=responses, trials=trials.iloc[usable].reset_index(drop=True))


def _rebin(responses: np.ndarray, n_out: int) -> np.ndarray:
    """(n, trials, window) -> (n, trials, n_out) by averaging consecutive chunks."""
    edges = np.linspace(0, responses.shape[-1], n_out + 1).round().astype(int)
    return np.stack([np.nanmean(responses[..., a:b], axis=-1) for a, b in zip(edges[:-1], edges[1:])], axis=-1)


def _level(mean: np.ndarray, values: np.ndarray, absolute_mean: Callable[[], np.ndarray]) -> np.ndarray:
    """Per row, the activity level that ratios and logs use: the ``mean`` of ``values``, but for values with
    negative numbers (signed traces) at least ``LEVEL_FLOOR`` times their mean absolute value (``absolute_mean``)."""
    if values.dtype.kind == "u" or not (values < 0).any():
        return mean
    return np.maximum(mean, LEVEL_FLOOR * absolute_mean())


def _contrast(values: np.ndarray, split: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(mean over trials where split) - (mean where not split), divided by ``scale``; 0 if either side is empty."""
    if split.all() or not split.any():
        return np.zeros(values.shape[0])
    difference = np.nanmean(values[:, split], axis=1) - np.nanmean(values[:, ~split], axis=1)
    return difference / scale


def _correlation_with(values: np.ndarray, covariate: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of (n, trials) ``values`` with a (trials,) covariate over the row's trials
    that are not NaN (0 where undefined)."""
    seen = ~np.isnan(values)
    centred = np.where(seen, values - observed_means(values, seen)[:, None], 0.0)
    return correlation_over_observed(centred @ covariate, (centred ** 2).sum(axis=1), seen @ covariate,
                                     seen @ covariate ** 2, seen.sum(axis=1))


def trial_response_features(recording: Recording, windows: TrialWindows | None) -> pd.DataFrame:
    """PSTH shape, response latency, stimulus-minus-blank, per-stimulus-column tuning and reward modulation."""
    n = recording.n_neurons
    if windows is None:
        return pd.DataFrame(index=range(n))
    responses, trials = windows.responses, windows.trials
    n_psth = min(N_PSTH_BINS, responses.shape[-1])
    psth = np.nanmean(_rebin(responses, n_psth), axis=1)
    trial_level = _level(np.nanmean(psth, axis=1), responses, lambda: np.nanmean(np.abs(responses), axis=(1, 2)))
    scale = np.where(trial_level > 0, trial_level, 1.0)
    features = {f"psth[{i}]": psth[:, i] / scale for i in range(n_psth)}
    features["psth_peak_time"] = np.argmax(psth, axis=1) / max(n_psth - 1, 1)
    activity, observed = recording.activity, recording.observed
    overall_level = _level(observed_means(activity, observed), activity,
                           lambda: observed_means(np.abs(activity), observed))
    features["trial_vs_overall"] = np.log((trial_level + 1e-3) / (overall_level + 1e-3))
    per_trial = np.nanmean(responses, axis=2)
    stimulus_columns = _numeric_columns(trials, STIMULUS_WORDS)
    if stimulus_columns:
        levels = trials[stimulus_columns].to_numpy(dtype=float)
        blank = np.nan_to_num(np.abs(levels)).sum(axis=1) == 0
        features["stim_minus_blank"] = _contrast(per_trial, ~blank, scale)
        early = np.nanmean(responses[..., : max(1, responses.shape[-1] // 4)], axis=2)
        features["stim_minus_blank_early"] = _contrast(early, ~blank, scale)
        for column, values in zip(stimulus_columns, levels.T):
            features[f"stim_tuning[{column}]"] = _correlation_with(per_trial, np.nan_to_num(values))
    for column in _numeric_columns(trials, REWARD_WORDS):
        values = np.nan_to_num(trials[column].to_numpy(dtype=float))
        features[f"reward_modulation[{column}]"] = _contrast(per_trial, values > 0, scale)
    return pd.DataFrame(features)

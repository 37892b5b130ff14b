"""Spike-train statistics: rate relative to the session, Fano factor, ISI irregularity, bursts and ISI histogram.

ISIs are taken only between consecutive spikes inside one contiguous stretch of time the neuron is observed in (its
own ``obs_intervals`` as well as the recording's gaps). Without kept spike times they are whole numbers of bins
between the bins the spikes fell in, so they do not depend on where the session clock starts. An ISI within
``ISI_TOLERANCE_SECONDS`` of the burst threshold or a histogram edge counts as equal to it: float rounding of times
hours into a session (or of one-bin ISIs) does not decide which side it falls on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_neurpir.evaluation.features.activity import observed_means
from nwb_neurpir.io.binning import TimeGrid
from nwb_neurpir.recording import Recording

__all__ = ["spike_train_features"]

BURST_ISI_SECONDS = 0.010
ISI_HISTOGRAM_EDGES = np.logspace(-3, 0, 11)
"""Log-spaced ISI bins from 1 ms to 1 s."""
ISI_TOLERANCE_SECONDS = 1e-6
"""ISIs this close to a threshold or edge count as on it: far above the float rounding of spike times (1e-10 s a day
into a session), far below a sample period (33 us at 30 kHz)."""


def _stretch_starts(recording: Recording) -> np.ndarray:
    """(n_bins,) bool: the bins that start a contiguous stretch of the recording's observed time."""
    starts = np.zeros(recording.n_bins, dtype=bool)
    starts[recording.epoch_starts()] = True
    return starts


def _stretch_ids(grid_starts: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """(n_bins,) index of the stretch each bin belongs to, a stretch ending also where the neuron's own observation
    (``seen``, None: every bin) stops."""
    starts = grid_starts if seen is None else grid_starts | np.concatenate([[True], seen[1:] & ~seen[:-1]])
    return np.cumsum(starts)


def _isis(positions: np.ndarray, bins: np.ndarray, stretches: np.ndarray) -> np.ndarray:
    """ISIs between consecutive spikes at sorted ``positions`` (seconds) whose ``bins`` lie in one stretch."""
    if positions.size < 2:
        return np.zeros(0)
    stretch = stretches[bins]
    return np.diff(positions)[stretch[1:] == stretch[:-1]]


def _neuron_isis(recording: Recording, row: int, grid: TimeGrid, grid_starts: np.ndarray,
                 stretches: np.ndarray | None) -> np.ndarray:
    """One neuron's ISIs: from its kept spike times (in bins of ``grid``, the recording's, as the reader binned them),
    else whole numbers of bins between its counted spikes."""
    if stretches is None:
        stretches = _stretch_ids(grid_starts, recording.observed[row])
    if recording.spike_times is not None:
        times = np.sort(np.asarray(recording.spike_times[row], dtype=np.float64))
        bins = grid.locate(times)
        return _isis(times[bins >= 0], bins[bins >= 0], stretches)
    bins = np.repeat(np.arange(recording.n_bins), recording.activity[row].astype(np.int64))
    return _isis(bins * recording.bin_size, bins, stretches)


def _reached(isi: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of the increasing ``edges`` each ISI reaches (within ``ISI_TOLERANCE_SECONDS`` counts as reached)."""
    return np.searchsorted(np.asarray(edges) - ISI_TOLERANCE_SECONDS, isi, side="right")


def _isi_histogram(isi: np.ndarray) -> np.ndarray:
    """Fraction of ISIs in each ``[low, high)`` bin of ``ISI_HISTOGRAM_EDGES`` (the last bin holds its upper edge)."""
    n_bins = ISI_HISTOGRAM_EDGES.size - 1
    position = _reached(isi, ISI_HISTOGRAM_EDGES) - 1
    position[(position == n_bins) & (isi <= ISI_HISTOGRAM_EDGES[-1] + ISI_TOLERANCE_SECONDS)] = n_bins - 1
    inside = (position >= 0) & (position < n_bins)
    return np.bincount(position[inside], minlength=n_bins) / isi.size


def _irregularity(isi: np.ndarray) -> tuple[float, float, float, float]:
    """ISI CV, CV2, LV and burst index (fraction of ISIs under 10 ms); zeros with fewer than 3 ISIs."""
    if isi.size < 3:
        return 0.0, 0.0, 0.0, 0.0
    cv = float(isi.std() / isi.mean()) if isi.mean() > 0 else 0.0
    pair_sum = isi[1:] + isi[:-1]
    ok = pair_sum > 0
    ratio = np.abs(isi[1:] - isi[:-1])[ok] / pair_sum[ok]
    cv2 = float(2 * ratio.mean()) if ratio.size else 0.0
    lv = float(3 * (ratio ** 2).mean()) if ratio.size else 0.0
    return cv, cv2, lv, float((_reached(isi, [BURST_ISI_SECONDS]) == 0).mean())


def _fano_factor(trial_counts: np.ndarray) -> np.ndarray:
    """Variance over mean of each neuron's spike counts over the trials it was observed in (NaN: unobserved)."""
    seen = ~np.isnan(trial_counts)
    n_trials = np.maximum(seen.sum(axis=1), 1)
    mean = observed_means(trial_counts, seen)
    variance = (np.where(seen, trial_counts - mean[:, None], 0.0) ** 2).sum(axis=1) / n_trials
    return np.divide(variance, mean, out=np.zeros_like(mean), where=mean > 0)


def spike_train_features(recording: Recording, trial_counts: np.ndarray | None) -> pd.DataFrame:
    """Per-neuron spike statistics; ``trial_counts`` (n_neurons, n_trials; NaN where a neuron was not observed
    throughout the trial) gives the Fano factor when present."""
    counts = recording.activity  # summed in float64, never copied as float64 (a large session's counts are GBs)
    if recording.observed is not None:
        seconds = recording.observed.sum(axis=1) * recording.bin_size
        totals = np.where(recording.observed, counts, 0).sum(axis=1, dtype=np.float64)
    else:
        seconds = np.full(recording.n_neurons, recording.observed_seconds)
        totals = counts.sum(axis=1, dtype=np.float64)
    rate = np.divide(totals, seconds, out=np.zeros_like(totals), where=seconds > 0)
    log_rate = np.log10(rate + 0.1)
    features: dict[str, np.ndarray] = {"log_rate_vs_session": log_rate - np.median(log_rate)}
    if trial_counts is not None and trial_counts.shape[1] > 1:
        features["fano_factor"] = _fano_factor(trial_counts)
    grid, grid_starts = TimeGrid(recording.bin_times, recording.bin_size), _stretch_starts(recording)
    shared = _stretch_ids(grid_starts, None) if recording.observed is None else None
    irregularity = np.zeros((recording.n_neurons, 4))
    histogram = np.zeros((recording.n_neurons, ISI_HISTOGRAM_EDGES.size - 1))
    for index in range(recording.n_neurons):
        isi = _neuron_isis(recording, index, grid, grid_starts, shared)
        irregularity[index] = _irregularity(isi)
        if isi.size:
            histogram[index] = _isi_histogram(isi)
    for column, name in enumerate(("isi_cv", "isi_cv2", "isi_lv", "burst_index")):
        features[name] = irregularity[:, column]
    for column, (low, high) in enumerate(zip(ISI_HISTOGRAM_EDGES[:-1], ISI_HISTOGRAM_EDGES[1:])):
        features[f"isi_hist[{low * 1000:.3g}-{high * 1000:.3g}ms]"] = histogram[:, column]
    return pd.DataFrame(features)

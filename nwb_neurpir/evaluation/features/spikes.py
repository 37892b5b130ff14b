"""Spike-train statistics: rate relative to the session, Fano factor, ISI irregularity, bursts and ISI histogram.

ISIs are taken only between consecutive spikes inside one contiguous stretch of observed time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_neurpir.recording import Recording

__all__ = ["spike_train_features"]

BURST_ISI_SECONDS = 0.010
ISI_HISTOGRAM_EDGES = np.logspace(-3, 0, 11)
"""Log-spaced ISI bins from 1 ms to 1 s."""


def _epoch_of(times: np.ndarray, recording: Recording) -> np.ndarray:
    starts = recording.bin_times[recording.epoch_starts()]
    return np.searchsorted(starts, times, side="right")


def _isis(times: np.ndarray, recording: Recording) -> np.ndarray:
    if times.size < 2:
        return np.zeros(0)
    times = np.sort(times)
    epochs = _epoch_of(times, recording)
    return np.diff(times)[epochs[1:] == epochs[:-1]]


def _spike_times_from_bins(recording: Recording) -> list[np.ndarray]:
    """Spike times at bin centres when the reader did not keep spike times."""
    centres = recording.bin_times + 0.5 * recording.bin_size
    return [np.repeat(centres, row.astype(np.int64)) for row in recording.activity]


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
    return cv, cv2, lv, float((isi < BURST_ISI_SECONDS).mean())


def spike_train_features(recording: Recording, trial_counts: np.ndarray | None) -> pd.DataFrame:
    """Per-neuron spike statistics; ``trial_counts`` (n_neurons, n_trials) gives the Fano factor when present."""
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
        mean = np.nanmean(trial_counts, axis=1)
        features["fano_factor"] = np.divide(np.nanvar(trial_counts, axis=1), mean, out=np.zeros_like(mean),
                                            where=mean > 0)
    spike_times = recording.spike_times if recording.spike_times is not None else _spike_times_from_bins(recording)
    irregularity = np.zeros((recording.n_neurons, 4))
    histogram = np.zeros((recording.n_neurons, ISI_HISTOGRAM_EDGES.size - 1))
    for index, times in enumerate(spike_times):
        isi = _isis(np.asarray(times, dtype=np.float64), recording)
        irregularity[index] = _irregularity(isi)
        if isi.size:
            histogram[index] = np.histogram(isi, bins=ISI_HISTOGRAM_EDGES)[0] / isi.size
    for column, name in enumerate(("isi_cv", "isi_cv2", "isi_lv", "burst_index")):
        features[name] = irregularity[:, column]
    for column, (low, high) in enumerate(zip(ISI_HISTOGRAM_EDGES[:-1], ISI_HISTOGRAM_EDGES[1:])):
        features[f"isi_hist[{low * 1000:.3g}-{high * 1000:.3g}ms]"] = histogram[:, column]
    return pd.DataFrame(features)

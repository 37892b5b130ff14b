"""Calcium-trace statistics: shape of the trace (skewness, SNR, percentiles, rise steepness), events, decay time,
and spike-train-like statistics of a simple deconvolution (burstiness, variability, autocorrelation).

The deconvolution removes a generic indicator decay (``DECONVOLUTION_TAU_S``) frame by frame and keeps the positive
part, in units of the trace's noise: a rough, label-free stand-in for spike counts.

Each ROI's statistics cover only the frames it is observed in (``Recording.observed``: frames NaN for some ROIs).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from nwb_neurpir.evaluation.features.activity import autocorrelation, epoch_ids, observed_means
from nwb_neurpir.recording import Recording

__all__ = ["trace_features"]

EVENT_THRESHOLD_NOISE_SD = 3.0
DECAY_MAX_SECONDS = 5.0
DECONVOLUTION_TAU_S = 0.7
DECONVOLVED_LAGS_S = (0.033, 0.067, 0.1, 0.167, 0.333, 0.667)
TRACE_PERCENTILES = (50, 75, 90, 95, 99, 99.9)
ROWS_PER_BLOCK = 128


def _percentile(values: np.ndarray, q: float | tuple[float, ...], axis: int = 1, **kwargs: bool) -> np.ndarray:
    """``np.percentile``, ignoring NaN (unobserved frames) where there are any (a row of NaN gives 0)."""
    if not np.isnan(values).any():
        return np.percentile(values, q, axis=axis, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # All-NaN slice: an ROI observed in no frame
        return np.nan_to_num(np.nanpercentile(values, q, axis=axis, **kwargs))


def _noise_sd(traces: np.ndarray) -> np.ndarray:
    """Robust noise level from the median absolute first difference (Gaussian white noise assumed)."""
    difference = np.diff(traces, axis=1)
    mad = _percentile(np.abs(difference - _percentile(difference, 50, keepdims=True)), 50)
    return mad / (0.6745 * np.sqrt(2.0))


def _skew(x: np.ndarray) -> np.ndarray:
    seen = ~np.isnan(x)
    n = np.maximum(seen.sum(axis=1), 1)
    centred = np.where(seen, x - observed_means(x, seen)[:, None], 0.0)
    std = np.sqrt((centred ** 2).sum(axis=1) / n)
    return np.divide((centred ** 3).sum(axis=1) / n, std ** 3, out=np.zeros_like(std), where=std > 0)


def _lags(seconds: tuple[float, ...] | np.ndarray, bin_size: float, n_bins: int) -> tuple[int, ...]:
    bins = np.clip(np.round(np.asarray(seconds) / bin_size), 1, max(n_bins - 1, 1)).astype(int)
    return tuple(np.unique(bins).tolist())


def _decay_time(traces: np.ndarray, epochs: np.ndarray, bin_size: float, observed: np.ndarray | None) -> np.ndarray:
    """Seconds until the autocorrelation falls below 1/e (capped at ``DECAY_MAX_SECONDS``)."""
    max_lag = max(1, min(int(DECAY_MAX_SECONDS / bin_size), traces.shape[1] - 1))
    lags = _lags(np.geomspace(1, max_lag, num=min(max_lag, 24)) * bin_size, bin_size, traces.shape[1])
    below = autocorrelation(traces, epochs, lags, observed) < np.exp(-1)
    first = np.where(below.any(axis=1), np.argmax(below, axis=1), len(lags) - 1)
    return np.asarray(lags)[first] * bin_size


def _deconvolved_features(z: np.ndarray, epochs: np.ndarray, bin_size: float,
                          seen: np.ndarray) -> dict[str, np.ndarray]:
    """Burstiness, variability and autocorrelation of the positive part of ``z_t - exp(-dt/tau) z_{t-1}``, over the
    frames each ROI is observed in (``seen``; 0 elsewhere, and where the frame before is unobserved)."""
    keep = np.exp(-bin_size / DECONVOLUTION_TAU_S)
    drive = np.zeros_like(z)
    drive[:, 1:] = np.nan_to_num(np.clip(z[:, 1:] - keep * z[:, :-1], 0, None))
    drive[:, np.flatnonzero(np.diff(epochs)) + 1] = 0.0
    total = drive.sum(axis=1) + 1e-9
    counts = np.maximum(seen.sum(axis=1), 1)
    ranked = -np.sort(-drive, axis=1)
    n_bins = drive.shape[1]
    window = max(1, int(round(1.0 / bin_size)))
    n_windows = max(1, n_bins // window)
    sums = drive[:, : n_windows * window].reshape(drive.shape[0], n_windows, -1).sum(axis=2)
    whole = seen[:, : n_windows * window].reshape(drive.shape[0], n_windows, -1).all(axis=2)  # windows observed
    n_whole = np.maximum(whole.sum(axis=1), 1)
    mean_sum = np.where(whole, sums, 0.0).sum(axis=1) / n_whole
    lags = _lags(DECONVOLVED_LAGS_S, bin_size, n_bins)
    acf = autocorrelation(drive, epochs, lags, None if seen.all() else seen)
    features = {
        "deconv_log_mean": np.log10(drive.sum(axis=1) / counts + 1e-3),
        "deconv_top1pct_share": ranked[:, : max(1, n_bins // 100)].sum(axis=1) / total,
        "deconv_top10pct_share": ranked[:, : max(1, n_bins // 10)].sum(axis=1) / total,
        "deconv_fano_1s": (np.where(whole, sums - mean_sum[:, None], 0.0) ** 2).sum(axis=1) / n_whole
        / (mean_sum + 1e-9),
    }
    features.update({f"deconv_autocorr[{lag * bin_size * 1000:.0f}ms]": acf[:, i] for i, lag in enumerate(lags)})
    return features


def trace_features(recording: Recording) -> pd.DataFrame:
    """Per-ROI statistics of dF/F-like traces, in units of each trace's own noise where possible (computed for
    ``ROWS_PER_BLOCK`` ROIs at a time: every statistic is the ROI's own, and the float64 copies stay small)."""
    epochs = epoch_ids(recording)

    def rows(start: int, stop: int | None) -> pd.DataFrame:
        observed = None if recording.observed is None else recording.observed[start:stop]
        return _block_features(recording.activity[start:stop], observed, epochs, recording.bin_size)

    blocks = [rows(start, start + ROWS_PER_BLOCK) for start in range(0, recording.n_neurons, ROWS_PER_BLOCK)]
    return pd.concat(blocks, ignore_index=True) if blocks else rows(0, None)


def _block_features(activity: np.ndarray, observed: np.ndarray | None, epochs: np.ndarray,
                    bin_size: float) -> pd.DataFrame:
    traces = np.nan_to_num(activity.astype(np.float64))
    seen = np.ones(traces.shape, dtype=bool) if observed is None else observed
    with_gaps = np.where(seen, traces, np.nan)  # NaN: unobserved, left out of each statistic
    noise = _noise_sd(with_gaps)
    z = (with_gaps - _percentile(with_gaps, 50, keepdims=True)) / np.where(noise > 0, noise, 1.0)[:, None]
    rise = np.diff(z, axis=1)
    above = z > EVENT_THRESHOLD_NOISE_SD
    onsets = (above[:, 1:] & ~above[:, :-1] & seen[:, :-1]).sum(axis=1)
    seconds = np.maximum(seen.sum(axis=1), 1) * bin_size
    features = {
        "skewness": _skew(with_gaps),
        "log_snr": np.log10(np.clip(_percentile(z, 99), 1e-3, None)),
        "event_rate": onsets / seconds,
        "fraction_active": above.sum(axis=1) / np.maximum(seen.sum(axis=1), 1),
        "log_decay_time": np.log10(_decay_time(traces, epochs, bin_size, observed)),
        "rise_skewness": _skew(rise),
    }
    features.update({f"z_percentile[{q:g}]": _percentile(z, q) for q in TRACE_PERCENTILES})
    features.update({f"rise_percentile[{q:g}]": _percentile(rise, q) for q in (90, 99, 99.9)})
    features.update(_deconvolved_features(z, epochs, bin_size, seen))
    return pd.DataFrame(features)

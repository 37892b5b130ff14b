"""Calcium-trace statistics: skewness, signal-to-noise, event rate and autocorrelation decay time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_neurpir.recording import Recording
from nwb_neurpir.evaluation.features.activity import autocorrelation

__all__ = ["trace_features"]

EVENT_THRESHOLD_NOISE_SD = 3.0
DECAY_MAX_SECONDS = 5.0


def _noise_sd(traces: np.ndarray) -> np.ndarray:
    """Robust noise level from the median absolute first difference (Gaussian white noise assumed)."""
    difference = np.diff(traces, axis=1)
    mad = np.median(np.abs(difference - np.median(difference, axis=1, keepdims=True)), axis=1)
    return mad / (0.6745 * np.sqrt(2.0))


def _decay_time(recording: Recording) -> np.ndarray:
    """Seconds until the autocorrelation falls below 1/e (capped at ``DECAY_MAX_SECONDS``)."""
    max_lag = max(1, min(int(DECAY_MAX_SECONDS / recording.bin_size), recording.n_bins - 1))
    lags = tuple(np.unique(np.geomspace(1, max_lag, num=min(max_lag, 24)).round().astype(int)).tolist())
    acf = autocorrelation(recording, lags)
    below = acf < np.exp(-1)
    first = np.where(below.any(axis=1), np.argmax(below, axis=1), len(lags) - 1)
    return np.asarray(lags)[first] * recording.bin_size


def trace_features(recording: Recording) -> pd.DataFrame:
    """Per-ROI statistics of dF/F-like traces, scale-free where possible."""
    traces = np.nan_to_num(recording.activity.astype(np.float64))
    centre = np.median(traces, axis=1, keepdims=True)
    noise = _noise_sd(traces)
    safe_noise = np.where(noise > 0, noise, 1.0)
    z = (traces - centre) / safe_noise[:, None]
    mean = traces.mean(axis=1, keepdims=True)
    std = traces.std(axis=1)
    skew = np.divide(((traces - mean) ** 3).mean(axis=1), std ** 3, out=np.zeros_like(std), where=std > 0)
    above = z > EVENT_THRESHOLD_NOISE_SD
    onsets = (above[:, 1:] & ~above[:, :-1]).sum(axis=1)
    return pd.DataFrame({
        "skewness": skew,
        "log_snr": np.log10(np.clip(np.percentile(z, 99, axis=1), 1e-3, None)),
        "event_rate": onsets / max(recording.observed_seconds, recording.bin_size),
        "fraction_active": above.mean(axis=1),
        "log_decay_time": np.log10(_decay_time(recording)),
    })

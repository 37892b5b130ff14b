"""Statistics of binned activity shared by spikes and calcium: short-lag autocorrelation and population coupling.

Pairs of bins are only compared inside one contiguous stretch of observed time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_neurpir.recording import Recording

__all__ = ["autocorrelation", "binned_activity_features", "population_coupling"]

AUTOCORRELATION_LAGS = (1, 2, 3, 4, 5, 7, 10, 15, 20)


def _epoch_ids(recording: Recording) -> np.ndarray:
    ids = np.zeros(recording.n_bins, dtype=np.int64)
    ids[recording.epoch_starts()[1:]] = 1
    return np.cumsum(ids)


def autocorrelation(recording: Recording, lags: tuple[int, ...] = AUTOCORRELATION_LAGS) -> np.ndarray:
    """(n_neurons, len(lags)) autocorrelation coefficients of binned activity within observed stretches."""
    x = recording.activity.astype(np.float32)
    x = x - x.mean(axis=1, keepdims=True)
    variance = (x ** 2).mean(axis=1)
    epochs = _epoch_ids(recording)
    out = np.zeros((x.shape[0], len(lags)))
    for column, lag in enumerate(lags):
        if lag >= x.shape[1]:
            continue
        same = epochs[:-lag] == epochs[lag:]
        if not same.any():
            continue
        products = (x[:, :-lag][:, same] * x[:, lag:][:, same]).mean(axis=1)
        out[:, column] = np.divide(products, variance, out=np.zeros_like(products), where=variance > 0)
    return out


def population_coupling(activity: np.ndarray) -> np.ndarray:
    """Correlation of each neuron with the summed activity of all the others in the session, per column (bin)."""
    x = activity.astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    population = x.sum(axis=0)
    covariance = x @ population - (x ** 2).sum(axis=1)
    variance = (x ** 2).sum(axis=1)
    rest_variance = (population ** 2).sum() - 2 * (x @ population) + variance
    denominator = np.sqrt(variance * np.clip(rest_variance, 0, None))
    return np.divide(covariance, denominator, out=np.zeros_like(covariance), where=denominator > 0)


def binned_activity_features(recording: Recording, per_trial: np.ndarray | None) -> pd.DataFrame:
    """Autocorrelation at short lags (in bins), and population coupling per bin and per trial."""
    acf = autocorrelation(recording)
    features = {f"autocorr[{lag * recording.bin_size * 1000:g}ms]": acf[:, i]
                for i, lag in enumerate(AUTOCORRELATION_LAGS)}
    features["population_coupling"] = population_coupling(recording.activity)
    if per_trial is not None and per_trial.shape[1] > 2:
        features["population_coupling_trials"] = population_coupling(np.nan_to_num(per_trial))
    return pd.DataFrame(features)

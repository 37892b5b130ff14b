"""Statistics of binned activity shared by spikes and calcium: short-lag autocorrelation, population coupling and
correlation with each covariate (stimulus, behaviour, trial variables).

Pairs of bins are only compared inside one contiguous stretch of observed time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_neurpir.recording import Recording

__all__ = [
    "autocorrelation",
    "binned_activity_features",
    "epoch_ids",
    "covariate_correlations",
    "population_coupling",
]

AUTOCORRELATION_LAGS = (1, 2, 3, 4, 5, 7, 10, 15, 20)


def epoch_ids(recording: Recording) -> np.ndarray:
    """(n_bins,) index of the contiguous stretch of observed time each bin belongs to."""
    ids = np.zeros(recording.n_bins, dtype=np.int64)
    ids[recording.epoch_starts()[1:]] = 1
    return np.cumsum(ids)


def autocorrelation(values: np.ndarray, epochs: np.ndarray, lags: tuple[int, ...] = AUTOCORRELATION_LAGS) -> np.ndarray:
    """(n_rows, len(lags)) autocorrelation coefficients of (n_rows, n_bins) ``values`` at lags in bins, pairing only
    bins of the same epoch (``epochs``: per-bin stretch index)."""
    x = values.astype(np.float32)
    x = x - x.mean(axis=1, keepdims=True)
    variance = (x ** 2).mean(axis=1)
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


def covariate_correlations(recording: Recording) -> dict[str, np.ndarray]:
    """Pearson correlation of each neuron's binned activity with each covariate column (0 where undefined)."""
    covariates, names = recording.covariate_matrix()
    if not names:
        return {}
    x = np.nan_to_num(recording.activity.astype(np.float64))
    x = x - x.mean(axis=1, keepdims=True)
    c = np.nan_to_num(covariates.astype(np.float64))
    c = c - c.mean(axis=0, keepdims=True)
    denominator = np.sqrt(np.outer((x ** 2).sum(axis=1), (c ** 2).sum(axis=0)))
    correlation = np.divide(x @ c, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
    return {f"covariate_corr[{name}]": correlation[:, i] for i, name in enumerate(names)}


def binned_activity_features(recording: Recording, per_trial: np.ndarray | None) -> pd.DataFrame:
    """Autocorrelation at short lags (in bins), population coupling per bin and per trial, covariate correlations."""
    acf = autocorrelation(recording.activity, epoch_ids(recording))
    features = {f"autocorr[{lag * recording.bin_size * 1000:.0f}ms]": acf[:, i]
                for i, lag in enumerate(AUTOCORRELATION_LAGS)}
    features["population_coupling"] = population_coupling(recording.activity)
    if per_trial is not None and per_trial.shape[1] > 2:
        features["population_coupling_trials"] = population_coupling(np.nan_to_num(per_trial))
    features.update(covariate_correlations(recording))
    return pd.DataFrame(features)

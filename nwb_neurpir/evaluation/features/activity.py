"""Statistics of binned activity shared by spikes and calcium: short-lag autocorrelation, population coupling and
correlation with each covariate (stimulus, behaviour, trial variables).

Pairs of bins are only compared inside one contiguous stretch of observed time.
"""

from __future__ import annotations

from collections.abc import Iterator

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


_BLOCK_BINS = 4096
"""Bins per block: the statistics read float64 copies of this many columns at a time, never of the whole matrix (a
session of 2,000 neurons x 1 h of 10 ms bins is 720 M values)."""


def _centred_blocks(values: np.ndarray, extra: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, block)``: the rows' values minus their means, float64, over columns ``start:stop`` and the
    ``extra`` columns after them (for lagged products across the block's end)."""
    n_bins = values.shape[1]
    total = np.nansum(values, axis=1, dtype=np.float64) if values.dtype.kind == "f" else \
        values.sum(axis=1, dtype=np.float64)
    means = (total / max(n_bins, 1))[:, None]  # missing values count as 0, as in the blocks
    for start in range(0, n_bins, _BLOCK_BINS):
        stop = min(start + _BLOCK_BINS, n_bins)
        yield start, stop, np.nan_to_num(values[:, start:min(stop + extra, n_bins)].astype(np.float64)) - means


def _squares(block: np.ndarray, width: int) -> np.ndarray:
    """Per row, the sum of squares of the block's first ``width`` columns (its own bins, not the ``extra`` ones)."""
    return np.einsum("ij,ij->i", block[:, :width], block[:, :width])


def autocorrelation(values: np.ndarray, epochs: np.ndarray, lags: tuple[int, ...] = AUTOCORRELATION_LAGS) -> np.ndarray:
    """(n_rows, len(lags)) autocorrelation coefficients of (n_rows, n_bins) ``values`` at lags in bins, pairing only
    bins of the same epoch (``epochs``: per-bin stretch index)."""
    n_rows, n_bins = values.shape
    usable = [(column, lag, epochs[:-lag] == epochs[lag:]) for column, lag in enumerate(lags) if lag < n_bins]
    sums, squares = np.zeros((n_rows, len(lags))), np.zeros(n_rows)
    for start, stop, block in _centred_blocks(values, extra=max(lags)):
        squares += _squares(block, stop - start)
        for column, lag, same in usable:
            width = min(stop, n_bins - lag) - start  # pairs (t, t + lag) with t in this block
            if width <= 0:
                continue
            first, second, keep = block[:, :width], block[:, lag:lag + width], same[start:start + width]
            if not keep.all():
                first, second = first[:, keep], second[:, keep]
            sums[:, column] += np.einsum("ij,ij->i", first, second)
    variance = squares / n_bins
    out = np.zeros((n_rows, len(lags)))
    for column, _lag, same in usable:
        if same.any():
            products = sums[:, column] / same.sum()
            out[:, column] = np.divide(products, variance, out=np.zeros_like(products), where=variance > 0)
    return out


def population_coupling(activity: np.ndarray) -> np.ndarray:
    """Correlation of each neuron with the summed activity of all the others in the session, per column (bin)."""
    population, variance = np.zeros(activity.shape[1]), np.zeros(activity.shape[0])
    for start, stop, block in _centred_blocks(activity):
        population[start:stop] = block.sum(axis=0)
        variance += _squares(block, stop - start)
    with_population = sum((block @ population[start:stop] for start, stop, block in _centred_blocks(activity)),
                          np.zeros(activity.shape[0]))
    covariance = with_population - variance
    rest_variance = (population ** 2).sum() - 2 * with_population + variance
    denominator = np.sqrt(variance * np.clip(rest_variance, 0, None))
    return np.divide(covariance, denominator, out=np.zeros_like(covariance), where=denominator > 0)


def covariate_correlations(recording: Recording) -> dict[str, np.ndarray]:
    """Pearson correlation of each neuron's binned activity with each covariate column (0 where undefined)."""
    covariates, names = recording.covariate_matrix()
    if not names:
        return {}
    activity = recording.activity
    c = np.nan_to_num(covariates.astype(np.float64))
    c = c - c.mean(axis=0, keepdims=True)
    products, squares = np.zeros((activity.shape[0], len(names))), np.zeros(activity.shape[0])
    for start, stop, block in _centred_blocks(activity):
        products += block @ c[start:stop]
        squares += _squares(block, stop - start)
    denominator = np.sqrt(np.outer(squares, (c ** 2).sum(axis=0)))
    correlation = np.divide(products, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
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

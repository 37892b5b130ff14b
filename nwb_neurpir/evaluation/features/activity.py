"""Statistics of binned activity shared by spikes and calcium: short-lag autocorrelation, population coupling and
correlation with each covariate (stimulus, behaviour, trial variables).

Pairs of bins are only compared inside one contiguous stretch of observed time, and each neuron's statistics only
over the bins it is observed in (``Recording.observed``): a unit lost mid-session is not silent afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from nwb_neurpir.recording import Recording

__all__ = [
    "autocorrelation",
    "correlation_over_observed",
    "observed_counts",
    "observed_means",
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


def observed_counts(observed: np.ndarray | None, n_rows: int, n_bins: int) -> np.ndarray:
    """(n_rows,) float64: how many bins each row is observed in (``observed`` None: every bin)."""
    if observed is None:
        return np.full(n_rows, float(n_bins))
    return observed.sum(axis=1, dtype=np.float64)


def observed_means(values: np.ndarray, observed: np.ndarray | None) -> np.ndarray:
    """(n_rows,) mean of each row over the bins it is observed in (missing values count as 0; none observed: 0)."""
    seen = values if observed is None else np.where(observed, values, 0)
    total = np.nansum(seen, axis=1, dtype=np.float64) if values.dtype.kind == "f" else \
        seen.sum(axis=1, dtype=np.float64)
    counts = observed_counts(observed, *values.shape)
    return np.divide(total, counts, out=np.zeros_like(total), where=counts > 0)


def _centred_blocks(values: np.ndarray, extra: int = 0, observed: np.ndarray | None = None,
                    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray | None]]:
    """``(start, stop, block, seen)``: the rows' values minus their means over observed bins, float64, 0 where a row
    is not observed, over columns ``start:stop`` and the ``extra`` columns after them (for lagged products across the
    block's end); ``seen`` is the block of ``observed`` as float64 (None without it)."""
    n_bins = values.shape[1]
    means = observed_means(values, observed)[:, None]
    for start in range(0, n_bins, _BLOCK_BINS):
        stop, end = min(start + _BLOCK_BINS, n_bins), min(start + _BLOCK_BINS + extra, n_bins)
        block = np.nan_to_num(values[:, start:end].astype(np.float64)) - means
        if observed is None:
            yield start, stop, block, None
        else:
            seen = observed[:, start:end].astype(np.float64)
            yield start, stop, block * seen, seen


def _squares(block: np.ndarray, width: int) -> np.ndarray:
    """Per row, the sum of squares of the block's first ``width`` columns (its own bins, not the ``extra`` ones)."""
    return np.einsum("ij,ij->i", block[:, :width], block[:, :width])


def correlation_over_observed(products: np.ndarray, squares: np.ndarray, other_sums: np.ndarray,
                              other_squares: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row with another series over the row's observed bins, from sums over those bins:
    ``products`` of the row (centred on its observed mean, so it sums to 0) with the other, the row's ``squares``,
    the other's sums and squares, and the bins' ``counts``; rows first, any trailing axes (several series) after.
    0 where undefined."""
    shape = (-1,) + (1,) * (np.ndim(products) - 1)
    other_variance = other_squares - other_sums ** 2 / np.maximum(counts, 1).reshape(shape)
    denominator = np.sqrt(squares.reshape(shape) * np.clip(other_variance, 0, None))
    return np.divide(products, denominator, out=np.zeros(np.shape(denominator)), where=denominator > 0)


def autocorrelation(values: np.ndarray, epochs: np.ndarray, lags: tuple[int, ...] = AUTOCORRELATION_LAGS,
                    observed: np.ndarray | None = None) -> np.ndarray:
    """(n_rows, len(lags)) autocorrelation coefficients of (n_rows, n_bins) ``values`` at lags in bins, pairing only
    bins of the same epoch (``epochs``: per-bin stretch index) that the row is observed in (``observed``, None:
    every bin), around its mean over those bins."""
    n_rows, n_bins = values.shape
    usable = [(column, lag, epochs[:-lag] == epochs[lag:]) for column, lag in enumerate(lags) if lag < n_bins]
    sums, pairs, squares = np.zeros((n_rows, len(lags))), np.zeros((n_rows, len(lags))), np.zeros(n_rows)
    for start, stop, block, seen in _centred_blocks(values, extra=max(lags), observed=observed):
        squares += _squares(block, stop - start)
        for column, lag, same in usable:
            width = min(stop, n_bins - lag) - start  # pairs (t, t + lag) with t in this block
            if width <= 0:
                continue
            keep = same[start:start + width]
            pick = slice(None) if keep.all() else keep
            sums[:, column] += np.einsum("ij,ij->i", block[:, :width][:, pick], block[:, lag:lag + width][:, pick])
            pairs[:, column] += keep.sum() if seen is None else \
                np.einsum("ij,ij->i", seen[:, :width][:, pick], seen[:, lag:lag + width][:, pick])
    variance = squares / np.maximum(observed_counts(observed, n_rows, n_bins), 1)
    products = np.divide(sums, pairs, out=np.zeros_like(sums), where=pairs > 0)
    return np.divide(products, variance[:, None], out=np.zeros_like(products),
                     where=(variance > 0)[:, None] & (pairs > 0))


def population_coupling(activity: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
    """Correlation of each neuron with the summed activity of all the others in the session, per column (bin), over
    the bins it is observed in (``observed``, None: every bin; a neuron adds its mean to the sum where unobserved)."""
    n_rows, n_bins = activity.shape
    population, variance = np.zeros(n_bins), np.zeros(n_rows)
    for start, stop, block, _seen in _centred_blocks(activity, observed=observed):
        population[start:stop] = block.sum(axis=0)
        variance += _squares(block, stop - start)
    with_population, seen_sums, seen_squares = np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows)
    for start, stop, block, seen in _centred_blocks(activity, observed=observed):
        part = population[start:stop]
        with_population += block @ part
        if seen is not None:
            seen_sums += seen @ part
            seen_squares += seen @ part ** 2
    if observed is None:
        seen_sums[:], seen_squares[:] = population.sum(), (population ** 2).sum()
    covariance = with_population - variance  # with the others: the population minus the neuron itself
    rest_squares = seen_squares - 2 * with_population + variance
    return correlation_over_observed(covariance, variance, seen_sums, rest_squares,
                                     observed_counts(observed, n_rows, n_bins))


def covariate_correlations(recording: Recording) -> dict[str, np.ndarray]:
    """Pearson correlation of each neuron's binned activity with each covariate column over the bins the neuron is
    observed in (0 where undefined)."""
    covariates, names = recording.covariate_matrix()
    if not names:
        return {}
    activity, observed = recording.activity, recording.observed
    c = np.nan_to_num(covariates.astype(np.float64))
    c = c - c.mean(axis=0, keepdims=True)
    products, squares = np.zeros((activity.shape[0], len(names))), np.zeros(activity.shape[0])
    sums, c_squares = np.zeros_like(products), np.zeros_like(products)
    if observed is None:
        sums[:], c_squares[:] = c.sum(axis=0), (c ** 2).sum(axis=0)
    for start, stop, block, seen in _centred_blocks(activity, observed=observed):
        products += block @ c[start:stop]
        squares += _squares(block, stop - start)
        if seen is not None:
            sums += seen @ c[start:stop]
            c_squares += seen @ c[start:stop] ** 2
    correlation = correlation_over_observed(products, squares, sums, c_squares,
                                            observed_counts(observed, *activity.shape))
    return {f"covariate_corr[{name}]": correlation[:, i] for i, name in enumerate(names)}


def binned_activity_features(recording: Recording, per_trial: np.ndarray | None) -> pd.DataFrame:
    """Autocorrelation at short lags (in bins), population coupling per bin and per trial, covariate correlations;
    each over the bins (trials) the neuron is observed in (``per_trial``: NaN where it is not)."""
    acf = autocorrelation(recording.activity, epoch_ids(recording), observed=recording.observed)
    features = {f"autocorr[{lag * recording.bin_size * 1000:.0f}ms]": acf[:, i]
                for i, lag in enumerate(AUTOCORRELATION_LAGS)}
    features["population_coupling"] = population_coupling(recording.activity, recording.observed)
    if per_trial is not None and per_trial.shape[1] > 2:
        features["population_coupling_trials"] = population_coupling(per_trial, ~np.isnan(per_trial))
    features.update(covariate_correlations(recording))
    return pd.DataFrame(features)

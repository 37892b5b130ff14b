"""Activity normalisation: per-neuron affine maps (optionally followed by log1p) computed from observed bins only.

Rates differ about 2x between animals, so spikes are by default divided by their session's mean count per bin; calcium
traces are by default z-scored per neuron. The maps are applied lazily to the small slices a batch needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BLOCK_CELLS", "Normalizer", "fit_normalizer", "row_blocks"]

BLOCK_CELLS = 4_000_000
"""Neurons x bins handled at once by the whole-session statistics (32 MB of float64): a long session's memory then
grows with its activity, not with temporaries of it."""


def row_blocks(n_rows: int, n_columns: int) -> range:
    """Starts of row blocks of at most ``BLOCK_CELLS`` cells (at least one row each); a block is ``start:start +
    range.step``."""
    return range(0, n_rows, max(1, BLOCK_CELLS // max(n_columns, 1)))


@dataclass(frozen=True)
class Normalizer:
    """``x = g(raw * scale[n] + offset[n])`` with ``g = log1p`` when ``log`` else identity."""

    scale: np.ndarray
    """(n_neurons,) float32."""
    offset: np.ndarray
    """(n_neurons,) float32."""
    log: bool

    def apply(self, raw: np.ndarray, neurons: np.ndarray) -> np.ndarray:
        """Normalise ``raw`` (rows belong to ``neurons``; any trailing shape) into float32."""
        shape = (-1,) + (1,) * (raw.ndim - 1)
        values = raw.astype(np.float32) * self.scale[neurons].reshape(shape) + self.offset[neurons].reshape(shape)
        return np.log1p(np.maximum(values, 0.0)) if self.log else values


def fit_normalizer(activity: np.ndarray, observed: np.ndarray | None, modality: str, method: str) -> Normalizer:
    """Statistics of one session's ``activity`` (n_neurons, n_bins) over its observed bins."""
    n_neurons = activity.shape[0]
    ones, zeros = np.ones(n_neurons, np.float32), np.zeros(n_neurons, np.float32)
    if method == "none":
        return Normalizer(ones, zeros, log=modality == "spikes")
    mean, std = _neuron_moments(activity, observed)
    if method == "neuron":
        std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        return Normalizer((1.0 / std).astype(np.float32), (-mean / std).astype(np.float32), log=False)
    counts = _observed_counts(activity, observed)
    total = max(float(counts.sum()), 1.0)
    if modality == "spikes":
        session_mean = float((mean * counts).sum() / total)
        return Normalizer(ones / max(session_mean, 1e-6), zeros, log=True)
    pooled_var = float(((std**2 + (mean - (mean * counts).sum() / total) ** 2) * counts).sum() / total)
    return Normalizer(ones / max(np.sqrt(pooled_var), 1e-6), zeros, log=False)


def _observed_counts(activity: np.ndarray, observed: np.ndarray | None) -> np.ndarray:
    if observed is None:
        return np.full(activity.shape[0], activity.shape[1], dtype=np.float64)
    return observed.sum(axis=1).astype(np.float64)


def _neuron_moments(activity: np.ndarray, observed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and standard deviation over observed bins, in row blocks to bound memory."""
    n_neurons = activity.shape[0]
    mean = np.zeros(n_neurons, np.float64)
    std = np.zeros(n_neurons, np.float64)
    blocks = row_blocks(*activity.shape)
    for start in blocks:
        rows = slice(start, start + blocks.step)
        block = activity[rows].astype(np.float64)
        weight = np.ones_like(block) if observed is None else observed[rows].astype(np.float64)
        block = np.where(weight > 0, block, 0.0)
        count = np.maximum(weight.sum(axis=1), 1.0)
        block_mean = block.sum(axis=1) / count
        mean[rows] = block_mean
        std[rows] = np.sqrt((weight * (block - block_mean[:, None]) ** 2).sum(axis=1) / count)
    return mean.astype(np.float32), std.astype(np.float32)

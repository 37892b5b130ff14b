"""A label-free, neighbour-aware representation (#14.5): each neuron's NeurPIR vector beside the mean vector of the
``k`` co-recorded neurons most correlated with it in activity.

Neighbours are chosen among *all* neurons of the recording (labelled or not) from activity alone, so no label
reaches the representation; the probe still reads one row per labelled neuron. Reported as its own method
(``neurpir-neighbours``), never mixed into the per-neuron ``neurpir`` row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from nwb_neurpir.evaluation.dataset import LabelledNeurons
from nwb_neurpir.evaluation.representations import gather_rows
from nwb_neurpir.recording import Recording

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.representations import FixedRepresentation, TrainedRepresentation

__all__ = ["NEIGHBOURS", "NeighbourRepresentation", "activity_neighbours", "neighbour_mean"]

NEIGHBOURS = 5
"""Co-recorded neurons pooled per neuron."""
_CORRELATION_SECONDS = 0.1
"""Activity is summed into bins of about this length before correlating (10 ms spike counts are too sparse)."""


def activity_neighbours(recording: Recording, k: int = NEIGHBOURS) -> np.ndarray:
    """(n_neurons, min(k, n_neurons - 1)) indices of each neuron's most correlated other neurons (Pearson
    correlation of activity in ~100 ms bins; unobserved bins count as 0)."""
    activity = np.asarray(recording.activity, dtype=np.float32)
    if recording.observed is not None:
        activity = np.where(recording.observed, activity, 0.0)
    factor = max(1, int(round(_CORRELATION_SECONDS / recording.bin_size)))
    n_bins = activity.shape[1] // factor * factor
    if n_bins >= 2 * factor:
        activity = activity[:, :n_bins].reshape(activity.shape[0], -1, factor).sum(axis=2)
    centred = activity - activity.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    correlation = (centred @ centred.T) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(correlation, -np.inf)
    k = min(k, recording.n_neurons - 1)
    if k <= 0:
        return np.zeros((recording.n_neurons, 0), dtype=np.int64)
    return np.argsort(-correlation, axis=1, kind="stable")[:, :k]


@dataclass
class NeighbourRepresentation:
    """``base``'s vectors beside the mean of each neuron's activity neighbours' vectors, on every fold."""

    name: str
    base: FixedRepresentation | TrainedRepresentation
    recordings: Sequence[Recording]
    neurons: LabelledNeurons
    _neighbours: list[np.ndarray] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return self.base.mode

    @property
    def training_data(self) -> tuple[str, ...]:
        return self.base.training_data

    @property
    def checkpoint_sha256(self) -> str:
        return ""

    def needs_training(self, train_recordings: Sequence[int]) -> bool:
        return self.base.needs_training(train_recordings)

    def for_fold(self, train_recordings: Sequence[int]) -> np.ndarray:
        return gather_rows(self.neurons, self.full_for_fold(train_recordings))

    def full_for_fold(self, train_recordings: Sequence[int]) -> list[np.ndarray]:
        """Per recording, every neuron's vector beside the mean vector of its neighbours."""
        full = self.base.full_for_fold(train_recordings)
        if not self._neighbours:
            self._neighbours = [activity_neighbours(r) if rows.size else np.zeros((r.n_neurons, 0), dtype=np.int64)
                                for r, rows in zip(self.recordings, self.neurons.recording_rows)]
        return [np.hstack([matrix, neighbour_mean(matrix, index)]) for matrix, index in zip(full, self._neighbours)]


def neighbour_mean(matrix: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per neuron, the mean of its neighbours' vectors, ignoring neighbours without one (NaN rows)."""
    import warnings

    if index.shape[1] == 0:
        return np.zeros_like(matrix)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a neuron whose neighbours all lack a vector: NaN
        return np.nanmean(matrix[index], axis=1)

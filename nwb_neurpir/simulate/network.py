"""Sparse random recurrent connectivity, stored by presynaptic neuron so a spike touches only its own targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Connectivity", "random_connectivity"]


@dataclass(frozen=True)
class Connectivity:
    """Compressed rows by presynaptic neuron: neuron ``j`` projects to ``targets[indptr[j]:indptr[j+1]]`` with
    the matching ``weights`` (positive from excitatory, negative from inhibitory neurons)."""

    indptr: np.ndarray
    """(n + 1,) int64."""
    targets: np.ndarray
    """(n_synapses,) int64, ascending within each presynaptic row."""
    weights: np.ndarray
    """(n_synapses,) float64: added to the target's input current in the step after the spike."""

    @property
    def n_neurons(self) -> int:
        return int(self.indptr.size - 1)

    def input_from(self, fired: np.ndarray) -> np.ndarray:
        """(n,) float64 input that the neurons in ``fired`` (ascending indices) send, summed in synapse order."""
        starts, stops = self.indptr[fired], self.indptr[fired + 1]
        lengths = stops - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.n_neurons)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        return np.bincount(self.targets[offsets], weights=self.weights[offsets], minlength=self.n_neurons)


def random_connectivity(
    excitatory: np.ndarray,
    rng: np.random.Generator,
    in_degree: int = 100,
    excitatory_weight: float = 1.0,
    inhibitory_weight: float = 2.0,
) -> Connectivity:
    """Each neuron receives ``in_degree`` synapses from distinct other neurons drawn uniformly at random.

    Weights are uniform on [0, 2 × mean]: ``excitatory_weight`` is the mean from an excitatory neuron,
    ``inhibitory_weight`` the mean magnitude (negative sign) from an inhibitory one. A fixed in-degree keeps the
    summed recurrent input the same whatever the population size.
    """
    n = excitatory.size
    k = min(in_degree, n - 1)
    pre = np.empty((n, k), dtype=np.int64)
    for post in range(n):
        chosen = rng.choice(n - 1, size=k, replace=False)
        pre[post] = chosen + (chosen >= post)
    post_index = np.repeat(np.arange(n, dtype=np.int64), k)
    pre_index = pre.ravel()
    order = np.lexsort((post_index, pre_index))
    pre_index, post_index = pre_index[order], post_index[order]
    mean = np.where(excitatory[pre_index], excitatory_weight, -inhibitory_weight)
    weights = rng.uniform(0.0, 2.0, size=pre_index.size) * mean
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre_index, minlength=n), out=indptr[1:])
    return Connectivity(indptr=indptr, targets=post_index, weights=weights)

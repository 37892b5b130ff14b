"""The compiled twin of ``integrator._numpy_chunk``: same arithmetic in the same order, so both give the same spikes.

Imported only when numba is installed; ``integrator`` falls back to numpy otherwise. Each step looks up the noise
(a gather kept out of the main loop), runs one branch-free loop over neurons (which LLVM vectorises), then scans for
neurons at the peak and adds their synapses.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["numba_chunk"]


@njit(cache=True, nogil=True)
def numba_chunk(
    v: np.ndarray, u: np.ndarray, recurrent: np.ndarray,
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray,
    baseline: np.ndarray, w_sustained: np.ndarray, w_transient: np.ndarray, running_gain: np.ndarray,
    noise_sd: np.ndarray, sustained: np.ndarray, transient: np.ndarray, running: np.ndarray,
    noise_codes: np.ndarray, noise_table: np.ndarray,
    indptr: np.ndarray, targets: np.ndarray, weights: np.ndarray, v_peak: float, dt_ms: float,
    spike_steps: np.ndarray, spike_neurons: np.ndarray,
) -> int:  # pragma: no cover - compiled; covered through the numpy/numba equality test
    """Advance ``noise_codes.shape[0]`` steps in place; write fired (step, neuron) pairs and return how many."""
    n = v.size
    half = 0.5 * dt_ms
    count = 0
    noise = np.empty(n)
    for k in range(noise_codes.shape[0]):
        s, t, gain = sustained[k], transient[k], running[k]
        codes = noise_codes[k]
        for i in range(n):
            noise[i] = noise_table[codes[i]]
        for i in range(n):
            current = baseline[i] + w_sustained[i] * s + w_transient[i] * t + noise[i] * noise_sd[i]
            current = current * (1.0 + running_gain[i] * gain) + recurrent[i]
            recurrent[i] = 0.0
            vi = v[i]
            ui = u[i]
            vi = vi + (((0.04 * vi) * vi + 5.0 * vi + 140.0 - ui + current) * half)
            vi = min(vi, v_peak)
            vi = vi + (((0.04 * vi) * vi + 5.0 * vi + 140.0 - ui + current) * half)
            vi = min(vi, v_peak)
            u[i] = ui + ((b[i] * vi - ui) * a[i]) * dt_ms
            v[i] = vi
        first = count
        for i in range(n):
            if v[i] >= v_peak:
                v[i] = c[i]
                u[i] = u[i] + d[i]
                spike_steps[count] = k
                spike_neurons[count] = i
                count += 1
        for m in range(first, count):
            j = spike_neurons[m]
            for synapse in range(indptr[j], indptr[j + 1]):
                recurrent[targets[synapse]] += weights[synapse]
    return count

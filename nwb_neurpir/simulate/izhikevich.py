"""Izhikevich (2003) neuron types: the five classic parameter sets and per-neuron jitter around them.

The model: ``v' = 0.04 v² + 5 v + 140 − u + I``, ``u' = a (b v − u)``; when ``v ≥ 30`` mV, ``v ← c`` and ``u ← u + d``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CELL_TYPES",
    "EXCITATORY_TYPES",
    "IZHIKEVICH_PARAMETERS",
    "PARAMETER_DESCRIPTIONS",
    "CELL_TYPE_DESCRIPTIONS",
    "NeuronParameters",
    "draw_parameters",
    "resting_state",
]

IZHIKEVICH_PARAMETERS: dict[str, tuple[float, float, float, float]] = {
    "RS": (0.02, 0.2, -65.0, 8.0),
    "IB": (0.02, 0.2, -55.0, 4.0),
    "CH": (0.02, 0.2, -50.0, 2.0),
    "FS": (0.1, 0.2, -65.0, 2.0),
    "LTS": (0.02, 0.25, -65.0, 2.0),
}
"""Cell type -> (a, b, c, d) from Izhikevich (2003), Fig. 2."""

CELL_TYPES: tuple[str, ...] = tuple(IZHIKEVICH_PARAMETERS)
EXCITATORY_TYPES: frozenset[str] = frozenset({"RS", "IB", "CH"})

CELL_TYPE_DESCRIPTIONS: dict[str, str] = {
    "RS": "regular spiking (excitatory)",
    "IB": "intrinsically bursting (excitatory)",
    "CH": "chattering (excitatory)",
    "FS": "fast spiking (inhibitory)",
    "LTS": "low-threshold spiking (inhibitory)",
}

PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "a": "Izhikevich a: time scale of the recovery variable u (1/ms)",
    "b": "Izhikevich b: sensitivity of u to subthreshold v",
    "c": "Izhikevich c: after-spike reset value of v (mV)",
    "d": "Izhikevich d: after-spike increment of u",
}


@dataclass(frozen=True)
class NeuronParameters:
    """Per-neuron Izhikevich parameters (float64 arrays of equal length) and the type each was drawn around."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    cell_type: np.ndarray
    """(n,) str: one of ``CELL_TYPES``."""

    @property
    def n_neurons(self) -> int:
        return int(self.a.size)

    @property
    def excitatory(self) -> np.ndarray:
        """(n,) bool: True for RS, IB and CH."""
        return np.isin(self.cell_type, sorted(EXCITATORY_TYPES))


def draw_parameters(
    n_neurons: int,
    rng: np.random.Generator,
    relative_jitter: float = 0.05,
    reset_jitter_mv: float = 1.0,
) -> NeuronParameters:
    """Equal numbers of each type (in ``CELL_TYPES`` order, remainder to the first types), each parameter jittered.

    a, b and d get a relative Gaussian jitter (sd ``relative_jitter``), c an absolute one (sd ``reset_jitter_mv``);
    draws are clipped at ±2 sd so a neuron cannot drift into another type.
    """
    counts = np.full(len(CELL_TYPES), n_neurons // len(CELL_TYPES))
    counts[: n_neurons % len(CELL_TYPES)] += 1
    cell_type = np.repeat(np.array(CELL_TYPES), counts)
    base = np.array([IZHIKEVICH_PARAMETERS[name] for name in cell_type]).reshape(n_neurons, 4)
    z = np.clip(rng.standard_normal((n_neurons, 4)), -2.0, 2.0)
    return NeuronParameters(
        a=base[:, 0] * (1.0 + relative_jitter * z[:, 0]),
        b=base[:, 1] * (1.0 + relative_jitter * z[:, 1]),
        c=base[:, 2] + reset_jitter_mv * z[:, 2],
        d=base[:, 3] * (1.0 + relative_jitter * z[:, 3]),
        cell_type=cell_type,
    )


def resting_state(params: NeuronParameters) -> tuple[np.ndarray, np.ndarray]:
    """(v, u) at the stable rest point without input: the lower root of 0.04 v² + (5 − b) v + 140 = 0, u = b v.

    Where a large b leaves no rest point (the neuron fires tonically), the minimum of dv/dt is used instead.
    """
    slope = 5.0 - params.b
    v = (-slope - np.sqrt(np.maximum(slope**2 - 4 * 0.04 * 140.0, 0.0))) / (2 * 0.04)
    return v, params.b * v

"""Each Izhikevich type shows its textbook signature under a constant current, and both backends agree exactly."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_neurpir.simulate.integrator import NeuronDrive, PopulationState, available_backend, integrate_chunk
from nwb_neurpir.simulate.izhikevich import (
    CELL_TYPES,
    IZHIKEVICH_PARAMETERS,
    NeuronParameters,
    draw_parameters,
    resting_state,
)
from nwb_neurpir.simulate.network import Connectivity, random_connectivity

BURST_ISI_MS = 6


def _exact_types() -> NeuronParameters:
    table = np.array([IZHIKEVICH_PARAMETERS[name] for name in CELL_TYPES])
    return NeuronParameters(a=table[:, 0], b=table[:, 1], c=table[:, 2], d=table[:, 3],
                            cell_type=np.array(CELL_TYPES))


def _constant_current(current: float, duration_ms: int = 1000, backend: str = "numpy") -> dict[str, np.ndarray]:
    """Spike steps of one unconnected, noise-free neuron of each type, starting at rest."""
    params = _exact_types()
    n = params.n_neurons
    zeros = np.zeros(n)
    drive = NeuronDrive(baseline=np.full(n, current), w_sustained=zeros, w_transient=zeros, running_gain=zeros,
                        noise_sd=zeros)
    unconnected = Connectivity(indptr=np.zeros(n + 1, dtype=np.int64), targets=np.zeros(0, dtype=np.int64),
                               weights=np.zeros(0))
    state = PopulationState.at(*resting_state(params))
    signal = np.zeros(duration_ms)
    steps, neurons = integrate_chunk(state, params, drive, unconnected, signal, signal, signal,
                                     np.zeros((duration_ms, n), dtype=np.uint16), backend=backend)
    return {name: steps[neurons == index] for index, name in enumerate(CELL_TYPES)}


@pytest.fixture(scope="module")
def at_10() -> dict[str, np.ndarray]:
    return _constant_current(10.0)


def _burst_fraction(steps: np.ndarray) -> float:
    return float(np.mean(np.diff(steps) <= BURST_ISI_MS))


def test_fast_spiking_fires_fastest_without_adaptation(at_10: dict[str, np.ndarray]) -> None:
    rates = {name: steps.size for name, steps in at_10.items()}
    assert max(rates, key=rates.get) == "FS"
    later = np.diff(at_10["FS"])[1:]
    assert np.all(np.abs(later - np.median(later)) <= 0.15 * np.median(later))


def test_regular_spiking_adapts_more_than_fast_spiking(at_10: dict[str, np.ndarray]) -> None:
    def lengthening(steps: np.ndarray) -> float:
        isi = np.diff(steps)
        return float(isi[-1] / isi[0])

    assert lengthening(at_10["RS"]) >= 1.5
    assert lengthening(at_10["RS"]) > lengthening(at_10["FS"])
    assert _burst_fraction(at_10["RS"]) == 0.0


def test_chattering_bursts_most_and_intrinsic_bursting_starts_with_a_burst(at_10: dict[str, np.ndarray]) -> None:
    assert _burst_fraction(at_10["CH"]) >= 0.5
    assert _burst_fraction(at_10["CH"]) > _burst_fraction(at_10["IB"]) > _burst_fraction(at_10["FS"]) == 0.0
    ib_isi = np.diff(at_10["IB"])
    assert ib_isi[0] <= BURST_ISI_MS
    assert np.all(ib_isi[ib_isi.size // 2:] > 20)


def test_low_threshold_spiking_fires_below_the_others_threshold_and_adapts(at_10: dict[str, np.ndarray]) -> None:
    weak = _constant_current(2.5)
    assert weak["LTS"].size >= 5
    assert all(weak[name].size <= 1 for name in ("RS", "IB", "FS"))
    isi = np.diff(at_10["LTS"])
    assert isi[-1] >= 3 * isi[0]


@pytest.mark.skipif(available_backend() != "numba", reason="numba is not installed")
def test_numba_and_numpy_backends_give_identical_spikes() -> None:
    rng = np.random.default_rng(3)
    params = draw_parameters(60, rng)
    connectivity = random_connectivity(params.excitatory, rng, in_degree=20)
    n, steps = params.n_neurons, 400
    drive = NeuronDrive(baseline=rng.normal(3.0, 1.0, n), w_sustained=rng.normal(1.0, 1.0, n),
                        w_transient=rng.normal(1.0, 1.0, n), running_gain=rng.uniform(0, 1, n),
                        noise_sd=np.full(n, 3.0))
    signals = (rng.uniform(0, 1, steps), rng.uniform(0, 1, steps), rng.uniform(0, 1, steps))
    codes = rng.integers(0, 1 << 16, size=(steps, n), dtype=np.uint16)
    results = []
    for backend in ("numba", "numpy"):
        state = PopulationState.at(*resting_state(params))
        spikes = integrate_chunk(state, params, drive, connectivity, *signals, codes, backend=backend)
        results.append((*spikes, state.v, state.u))
    assert results[0][0].size > 100
    for from_numba, from_numpy in zip(*results):
        np.testing.assert_array_equal(from_numba, from_numpy)

"""The GCaMP-like fluorescence model: kernel shape, saturation, drift and noise."""

from __future__ import annotations

import numpy as np

from nwb_neurpir.simulate.calcium import CalciumSettings, simulate_calcium

CLEAN = CalciumSettings(noise_sd=0.0, drift=0.0, dff_per_spike=(0.2, 0.2), decay_tau_s=(0.7, 0.7))


def test_one_spike_rises_within_frames_and_decays_with_the_indicator_time_constant() -> None:
    traces = simulate_calcium(np.array([1.0]), np.array([0]), 1, 10.0, np.random.default_rng(0), CLEAN)
    dff = traces.dff[:, 0]
    assert dff.shape == (300,) and np.all(dff[:30] == 0)
    peak = int(np.argmax(dff))
    assert 30 <= peak <= 36
    assert abs(dff[peak] - 0.2 / (1 + 1 / CLEAN.saturation)) < 0.02
    one_tau_later = peak + int(round(0.7 * 30))
    assert 0.25 < dff[one_tau_later] / dff[peak] < 0.5


def test_responses_saturate_and_neurons_differ() -> None:
    spikes_per_neuron = [1, 10, 40]
    times = np.concatenate([np.full(k, 2.0) for k in spikes_per_neuron])
    neurons = np.repeat(np.arange(3), spikes_per_neuron)
    peak = simulate_calcium(times, neurons, 3, 6.0, np.random.default_rng(0), CLEAN).dff.max(axis=0)
    per_spike = peak / np.array(spikes_per_neuron)
    assert per_spike[0] > per_spike[1] > per_spike[2]


def test_raw_fluorescence_has_a_drifting_baseline_and_noise() -> None:
    settings = CalciumSettings(drift_period_s=(60.0, 60.0))
    traces = simulate_calcium(np.zeros(0), np.zeros(0, dtype=np.int64), 4, 120.0, np.random.default_rng(1),
                              settings)
    raw = traces.fluorescence
    assert raw.dtype == np.float32 and raw.shape == (3600, 4)
    smooth = raw.reshape(120, 30, 4).mean(axis=1)
    assert np.all((smooth.max(axis=0) - smooth.min(axis=0)) / smooth.mean(axis=0) > 0.05)
    assert 0.03 < float(np.std(np.diff(traces.dff, axis=0)) / np.sqrt(2)) < 0.08

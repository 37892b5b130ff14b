"""GCaMP-like fluorescence from simulated spikes: a rise/decay kernel, saturation, noise and slow baseline drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CalciumSettings", "CalciumTraces", "simulate_calcium"]


@dataclass(frozen=True)
class CalciumSettings:
    """Indicator and microscope settings; ranges are drawn uniformly per neuron."""

    frame_rate: float = 30.0
    rise_tau_s: float = 0.05
    decay_tau_s: tuple[float, float] = (0.5, 1.0)
    dff_per_spike: tuple[float, float] = (0.15, 0.3)
    """dF/F of an isolated spike at the kernel's peak, before saturation."""
    saturation: float = 15.0
    """Summed kernel value (≈ spikes in flight) at which the response is half of linear."""
    baseline: tuple[float, float] = (100.0, 400.0)
    """Resting fluorescence F0 (a.u.)."""
    noise_sd: float = 0.05
    """Gaussian noise per frame, as a fraction of F0."""
    drift: float = 0.05
    """Amplitude of the slow baseline drift, as a fraction of F0."""
    drift_period_s: tuple[float, float] = (60.0, 300.0)


@dataclass(frozen=True)
class CalciumTraces:
    """(n_frames, n_neurons) float32 traces sampled at ``frame_rate`` from time 0."""

    frame_rate: float
    fluorescence: np.ndarray
    dff: np.ndarray
    """(F − F_baseline) / F_baseline against the simulated, drifting baseline."""
    decay_tau_s: np.ndarray
    """(n_neurons,) each neuron's indicator decay time."""


def simulate_calcium(
    spike_times: np.ndarray,
    spike_neurons: np.ndarray,
    n_neurons: int,
    duration_s: float,
    rng: np.random.Generator,
    settings: CalciumSettings = CalciumSettings(),  # noqa: B008 - frozen dataclass
) -> CalciumTraces:
    """Bin every spike (time in s, neuron index) to frames, convolve with a normalised difference of exponentials,
    saturate, scale by a drifting baseline and add noise."""
    n = n_neurons
    n_frames = int(np.floor(duration_s * settings.frame_rate))
    frames = np.floor(np.asarray(spike_times) * settings.frame_rate).astype(np.int64)
    inside = frames < n_frames
    flat = frames[inside] * n + np.asarray(spike_neurons, dtype=np.int64)[inside]
    counts = np.bincount(flat, minlength=n_frames * n).astype(np.float32).reshape(n_frames, n)
    decay = rng.uniform(*settings.decay_tau_s, n)
    kernel = _double_exponential(counts, decay, settings)
    amplitude = rng.uniform(*settings.dff_per_spike, n).astype(np.float32)
    dff_true = amplitude * kernel / (1.0 + kernel / np.float32(settings.saturation))
    t = np.arange(n_frames, dtype=np.float32)[:, None] / np.float32(settings.frame_rate)
    period = rng.uniform(*settings.drift_period_s, n).astype(np.float32)
    phase = rng.uniform(0.0, 2 * np.pi, n).astype(np.float32)
    f0 = rng.uniform(*settings.baseline, n).astype(np.float32)
    baseline = f0 * (1.0 + np.float32(settings.drift) * np.sin(2 * np.pi * t / period + phase))
    noise = rng.standard_normal((n_frames, n), dtype=np.float32) * (np.float32(settings.noise_sd) * f0)
    fluorescence = baseline * (1.0 + dff_true) + noise
    dff = (fluorescence - baseline) / baseline
    return CalciumTraces(frame_rate=settings.frame_rate, fluorescence=fluorescence.astype(np.float32),
                         dff=dff.astype(np.float32), decay_tau_s=decay)


def _double_exponential(counts: np.ndarray, decay_tau: np.ndarray, settings: CalciumSettings) -> np.ndarray:
    """counts convolved with (e^(−t/τd) − e^(−t/τr)) scaled to peak 1, as two first-order recursions over frames."""
    dt = 1.0 / settings.frame_rate
    rise = settings.rise_tau_s
    peak_t = np.log(decay_tau / rise) * decay_tau * rise / (decay_tau - rise)
    scale = (1.0 / (np.exp(-peak_t / decay_tau) - np.exp(-peak_t / rise))).astype(np.float32)
    keep_decay = np.exp(-dt / decay_tau).astype(np.float32)
    keep_rise = np.float32(np.exp(-dt / rise))
    slow = np.zeros(counts.shape[1], dtype=np.float32)
    fast = np.zeros(counts.shape[1], dtype=np.float32)
    out = np.empty_like(counts)
    for frame in range(counts.shape[0]):
        slow *= keep_decay
        slow += counts[frame]
        fast *= keep_rise
        fast += counts[frame]
        np.subtract(slow, fast, out=out[frame])
    out *= scale
    return out

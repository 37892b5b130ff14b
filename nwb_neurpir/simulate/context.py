"""The surrounding information of a simulated session: stimulus trials at several contrasts and running speed.

Both are sampled at ``rate`` Hz (100 by default): the stimulus response has a sustained part (a Naka–Rushton
function of contrast while the stimulus is on) and an onset transient; running comes in bouts with a smooth speed.
``CONTEXT_SHIFTS`` name other peripheral conditions (more running, other contrasts and trial timing) for animals
that should not see what the others saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["CONTEXT_SHIFTS", "ContextSettings", "SessionContext", "make_context", "shift_context"]


@dataclass(frozen=True)
class ContextSettings:
    """How trials and running are drawn, and how they become input to the neurons."""

    rate: float = 100.0
    """Sampling rate (Hz) of the stimulus and running signals; trial edges fall on this grid."""
    contrasts: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    lead_in_s: float = 2.0
    """Blank screen before the first trial."""
    on_s: tuple[float, float] = (1.0, 2.0)
    """Range of stimulus durations (uniform)."""
    off_s: tuple[float, float] = (1.0, 3.0)
    """Range of blank intervals between trials (uniform)."""
    half_contrast: float = 0.3
    contrast_exponent: float = 2.0
    transient_tau_s: float = 0.15
    """Decay time of the onset transient."""
    still_bout_s: float = 20.0
    """Mean duration of a still bout (exponential)."""
    run_bout_s: float = 10.0
    """Mean duration of a running bout (exponential)."""
    run_speed_cm_s: tuple[float, float] = (10.0, 40.0)
    """Range of a bout's target speed (uniform)."""
    speed_tau_s: float = 1.0
    """Smoothing time constant of running speed."""
    speed_reference_cm_s: float = 20.0
    """Speed at which a neuron's input gain reaches 1 + its running gain."""


_MORE_RUNNING: dict[str, object] = {"still_bout_s": 4.0, "run_bout_s": 40.0, "run_speed_cm_s": (30.0, 60.0)}
_OTHER_STIMULUS: dict[str, object] = {"contrasts": (0.05, 0.8), "on_s": (0.3, 0.6), "off_s": (0.4, 1.2)}

CONTEXT_SHIFTS: dict[str, dict[str, object]] = {
    "behaviour": _MORE_RUNNING,
    "stimulus": _OTHER_STIMULUS,
    "both": {**_MORE_RUNNING, **_OTHER_STIMULUS},
}
"""Named changes of ``ContextSettings`` fields. ``behaviour``: running ~90 % of the time instead of ~33 %, at
30–60 cm/s instead of 10–40; ``stimulus``: contrasts 0.05 and 0.8 instead of 0.1–1.0, trials of 0.3–0.6 s every
0.7–1.8 s instead of 1–2 s every 2–5 s; ``both``: all of it. How the neurons respond to stimulus and running
(their weights, gains and the reference speed) is the animal's, not the context's, and never shifts."""


def shift_context(settings: ContextSettings, shift: str) -> ContextSettings:
    """``settings`` with the changes of ``CONTEXT_SHIFTS[shift]`` applied."""
    if shift not in CONTEXT_SHIFTS:
        raise NeurPIRError(f"unknown context shift {shift!r}; choose one of {', '.join(CONTEXT_SHIFTS)}",
                           source="simulation config")
    return replace(settings, **CONTEXT_SHIFTS[shift])


@dataclass(frozen=True)
class SessionContext:
    """Stimulus and behaviour of one session, sampled at ``rate`` Hz from time 0."""

    rate: float
    contrast: np.ndarray
    """(n_samples,) contrast on screen (0 between trials)."""
    sustained: np.ndarray
    """(n_samples,) sustained stimulus response in [0, 1)."""
    transient: np.ndarray
    """(n_samples,) onset transient in [0, 1)."""
    running_speed: np.ndarray
    """(n_samples,) cm/s, non-negative."""
    speed_reference: float
    trial_start: np.ndarray
    trial_stop: np.ndarray
    trial_contrast: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.contrast.size)

    def per_step(self, first_step: int, n_steps: int, steps_per_sample: int) -> tuple[np.ndarray, ...]:
        """(sustained, transient, normalised running speed) for ``n_steps`` integration steps from ``first_step``."""
        samples = np.minimum((first_step + np.arange(n_steps)) // steps_per_sample, self.n_samples - 1)
        return (self.sustained[samples], self.transient[samples],
                self.running_speed[samples] / self.speed_reference)


def make_context(duration_s: float, rng: np.random.Generator, settings: ContextSettings) -> SessionContext:
    """Draw trials and running bouts for a session of ``duration_s`` seconds."""
    n = int(round(duration_s * settings.rate))
    starts, stops, contrasts = _draw_trials(n, rng, settings)
    contrast = np.zeros(n)
    transient = np.zeros(n)
    decay = np.exp(-np.arange(int(10 * settings.transient_tau_s * settings.rate) + 1)
                   / (settings.transient_tau_s * settings.rate))
    for start, stop, value in zip(starts, stops, contrasts):
        contrast[start:stop] = value
        stop_decay = min(n, start + decay.size)
        transient[start:stop_decay] += _response(value, settings) * decay[: stop_decay - start]
    sustained = _response(contrast, settings)
    return SessionContext(
        rate=settings.rate,
        contrast=contrast,
        sustained=sustained,
        transient=np.minimum(transient, 1.0),
        running_speed=_draw_running(n, rng, settings),
        speed_reference=settings.speed_reference_cm_s,
        trial_start=starts / settings.rate,
        trial_stop=stops / settings.rate,
        trial_contrast=contrasts,
    )


def _response(contrast: np.ndarray | float, settings: ContextSettings) -> np.ndarray:
    power = np.power(contrast, settings.contrast_exponent)
    return power / (power + settings.half_contrast**settings.contrast_exponent)


def _draw_trials(n: int, rng: np.random.Generator, settings: ContextSettings) -> tuple[np.ndarray, ...]:
    """Trial onsets and offsets as sample indices, and their contrasts; the last trial ends before the session."""
    starts, stops = [], []
    t = int(round(settings.lead_in_s * settings.rate))
    while True:
        on = int(round(rng.uniform(*settings.on_s) * settings.rate))
        if t + on >= n:
            break
        starts.append(t)
        stops.append(t + on)
        t += on + int(round(rng.uniform(*settings.off_s) * settings.rate))
    contrasts = rng.choice(np.asarray(settings.contrasts), size=len(starts))
    return np.asarray(starts, dtype=np.int64), np.asarray(stops, dtype=np.int64), contrasts


def _draw_running(n: int, rng: np.random.Generator, settings: ContextSettings) -> np.ndarray:
    """Alternating still and running bouts; the speed follows each bout's target through a first-order filter."""
    target = np.zeros(n)
    t, running = 0, bool(rng.random() < 0.5)
    while t < n:
        mean = settings.run_bout_s if running else settings.still_bout_s
        length = max(1, int(round(rng.exponential(mean) * settings.rate)))
        if running:
            target[t:t + length] = rng.uniform(*settings.run_speed_cm_s)
        t += length
        running = not running
    jitter = rng.normal(0.0, 0.15, n)
    alpha = 1.0 / (settings.speed_tau_s * settings.rate)
    speed = np.empty(n)
    level = 0.0
    for i in range(n):
        level += alpha * (target[i] * (1.0 + jitter[i]) - level)
        speed[i] = level
    return np.maximum(speed, 0.0)

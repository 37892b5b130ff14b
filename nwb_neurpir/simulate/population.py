"""Simulated animals and sessions: what is drawn per animal, what per session, and the run over time.

Seeds: animal ``i`` uses ``SeedSequence(seed, spawn_key=(i, 0))`` for its neurons (parameter jitter, connectivity,
input gains) and session ``j`` of it ``spawn_key=(i, j + 1)`` for trials, running, noise and initial state. So an
animal does not change when more animals or sessions are asked for, and the same config gives the same spikes.
Shifted animals (``shifted_animals``) draw their neurons exactly as they would unshifted; only their sessions' trials
and running follow ``shifted_context``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.simulate.calcium import CalciumSettings
from nwb_neurpir.simulate.context import ContextSettings, SessionContext, make_context, shift_context
from nwb_neurpir.simulate.integrator import (
    Backend,
    NeuronDrive,
    PopulationState,
    available_backend,
    draw_noise_codes,
    integrate_chunk,
)
from nwb_neurpir.simulate.izhikevich import CELL_TYPES, NeuronParameters, draw_parameters, resting_state
from nwb_neurpir.simulate.network import Connectivity, random_connectivity

__all__ = [
    "DEMO",
    "PRESETS",
    "Animal",
    "SimulatedSession",
    "SimulationConfig",
    "iter_sessions",
    "make_animal",
    "session_id_of",
    "session_identifier",
    "simulate_population",
    "simulate_session",
    "subject_id_of",
]

_FIRST_SESSION = datetime(2024, 1, 8, 9, 0, 0, tzinfo=timezone.utc)
_IDENTIFIER_NAMESPACE = uuid.UUID("6f1d0c52-8a57-4b7e-9d0e-5e1b2a6c3f41")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a simulated data set; equal configs give equal data."""

    n_animals: int = 3
    sessions_per_animal: int = 1
    n_neurons: int = 2000
    """Per animal, split equally over the five types."""
    duration_s: float = 600.0
    dt: float = 0.001
    """Integration step (s); 1 ms as in Izhikevich (2003), or an integer fraction of the context sample."""
    seed: int = 0
    warmup_s: float = 1.0
    """Simulated before time 0 and discarded, so sessions start in a steady state."""
    parameter_jitter: float = 0.05
    """Relative sd of each neuron's a, b and d around its type (c: ``reset_jitter_mv``)."""
    reset_jitter_mv: float = 1.0
    animal_parameter_shift: float = 0.02
    """Relative sd of a per-animal, per-type offset of a, b and d: animals differ a little, as real ones do."""
    in_degree: int = 100
    excitatory_weight: float = 0.6
    """Mean weight of a synapse from RS/IB/CH (jump of v in mV)."""
    inhibitory_weight: float = 1.2
    """Mean magnitude of a synapse from FS/LTS."""
    baseline_current: tuple[float, float] = (1.0, 1.0)
    """Mean and sd of a neuron's constant input."""
    stimulus_weight: tuple[float, float] = (2.5, 2.0)
    """Mean and sd of a neuron's weight on the sustained stimulus response (negative: suppressed)."""
    transient_weight: tuple[float, float] = (3.0, 3.0)
    """Mean and sd of a neuron's weight on the onset transient."""
    running_gain_max: float = 1.0
    """A neuron's input gain (on all external input) while running at the reference speed is 1 + U(0, max)."""
    noise_sd: float = 5.0
    """Sd of the white background input per 1 ms step (each neuron's is scaled by U(0.8, 1.2)). Strong noise
    keeps every neuron fluctuating through its intrinsic dynamics (bursts, adaptation) in every context."""
    animal_gain_sd: float = 0.1
    """Sd of an animal's log input gain (scales all its baselines and stimulus weights)."""
    context: ContextSettings = field(default_factory=ContextSettings)
    shifted_animals: tuple[int, ...] = ()
    """Indices (0-based) of animals whose sessions follow ``shifted_context`` instead of ``context``: the same kind of
    neurons under other peripheral conditions (stimulus statistics, behaviour). See ``with_shift``."""
    shifted_context: ContextSettings = field(default_factory=lambda: shift_context(ContextSettings(), "both"))
    calcium: CalciumSettings = field(default_factory=CalciumSettings)
    """How spikes become fluorescence in ``_ophys.nwb`` files."""
    chunk_s: float = 1.0
    """Simulated seconds per integration chunk (noise is drawn per chunk)."""

    def validate(self) -> SimulationConfig:
        """Return self, or raise NeurPIRError naming the first invalid setting."""
        checks = [
            (self.n_animals >= 1, f"n_animals must be at least 1, got {self.n_animals}"),
            (self.sessions_per_animal >= 1, f"sessions_per_animal must be at least 1, got {self.sessions_per_animal}"),
            (self.n_neurons >= len(CELL_TYPES), f"n_neurons must be at least {len(CELL_TYPES)}, got {self.n_neurons}"),
            (self.duration_s > 0, f"duration must be positive, got {self.duration_s} s"),
            (0 < self.dt <= 0.001, f"dt must be in (0, 0.001] s, got {self.dt}"),
            (self.seed >= 0, f"seed must be non-negative, got {self.seed}"),
            (self.warmup_s >= 0 and self.chunk_s > 0, "warmup_s must be >= 0 and chunk_s > 0"),
            (all(0 <= index < self.n_animals for index in self.shifted_animals),
             f"shifted animal(s) {', '.join(subject_id_of(i) for i in self.shifted_animals)} not among the "
             f"{self.n_animals} animal(s) simulated"),
        ]
        for ok, message in checks:
            if not ok:
                raise NeurPIRError(message, source="simulation config")
        if self.shifted_animals and self.shifted_context.rate != self.context.rate:
            raise NeurPIRError("the shifted context must keep the context's sampling rate", source="simulation config")
        ratio = 1.0 / (self.context.rate * self.dt)
        if abs(ratio - round(ratio)) > 1e-9:
            raise NeurPIRError(f"dt={self.dt} s does not divide the context sample of {1 / self.context.rate} s",
                               source="simulation config")
        return self

    def context_of(self, animal_index: int) -> ContextSettings:
        """The peripheral conditions of animal ``animal_index``'s sessions."""
        return self.shifted_context if animal_index in self.shifted_animals else self.context

    def with_shift(self, animals: tuple[int, ...], shift: str = "both") -> SimulationConfig:
        """A copy in which ``animals`` (0-based) see ``context`` changed by ``CONTEXT_SHIFTS[shift]``."""
        return replace(self, shifted_animals=tuple(sorted(set(animals))),
                       shifted_context=shift_context(self.context, shift))

    @property
    def steps_per_sample(self) -> int:
        """Integration steps per context sample."""
        return int(round(1.0 / (self.context.rate * self.dt)))

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_s / self.dt))

    def session_settings(self) -> dict[str, object]:
        """The settings that shape each session (all but the numbers of animals and sessions), as plain data."""
        settings = asdict(self)
        del settings["n_animals"], settings["sessions_per_animal"]
        if not self.shifted_animals:  # unused: leaves the identifiers of unshifted data sets as they were
            del settings["shifted_animals"], settings["shifted_context"]
        return settings

    def fingerprint(self) -> str:
        """Short sha256 of ``session_settings``: part of every file identifier, so sessions simulated with different
        settings never share one, while asking for more animals leaves the existing ones unchanged."""
        text = json.dumps(self.session_settings(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_overrides(self, **overrides: object) -> SimulationConfig:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})


DEMO = SimulationConfig(n_animals=4, sessions_per_animal=1, n_neurons=250, duration_s=300.0)
"""Small enough to simulate in seconds and train on quickly; 50 neurons per type per animal, 4 animals."""

PRESETS: dict[str, SimulationConfig] = {"paper": SimulationConfig(), "demo": DEMO,
                                        "demo-shifted": DEMO.with_shift((DEMO.n_animals - 1,), "both")}
"""``paper``: 3 animals × 2,000 neurons (400 per type) × 10 min, as in the NeurPIR paper's simulation;
``demo-shifted``: the demo with its last animal (sim04) running far more and seeing other contrasts and trials."""


@dataclass(frozen=True)
class Animal:
    """One simulated animal: its neurons, their wiring and how they are driven."""

    index: int
    subject_id: str
    params: NeuronParameters
    connectivity: Connectivity
    drive: NeuronDrive


@dataclass
class SimulatedSession:
    """One simulated session: the animal, its context, and every spike as (step, neuron)."""

    config: SimulationConfig
    animal: Animal
    session_index: int
    context: SessionContext
    spike_steps: np.ndarray
    """(n_spikes,) int64: step index from time 0; a spike in step k (which covers [k·dt, (k + 1)·dt)) is stamped
    k·dt, so every spike lies in [0, duration)."""
    spike_neurons: np.ndarray
    """(n_spikes,) int32, ordered by step then neuron."""
    backend: str

    @property
    def subject_id(self) -> str:
        return self.animal.subject_id

    @property
    def session_id(self) -> str:
        return session_id_of(self.animal.index, self.session_index)

    @property
    def session_start_time(self) -> datetime:
        """Deterministic: one week per animal, one day per session."""
        return _FIRST_SESSION + timedelta(days=7 * self.animal.index + self.session_index)

    def identifier(self, modality: str) -> str:
        """UUID derived from the config, the session and the modality (never random)."""
        return session_identifier(self.config, self.session_id, modality)

    def spike_times(self) -> list[np.ndarray]:
        """Per-neuron spike times (s), ascending."""
        order = np.argsort(self.spike_neurons, kind="stable")
        times = self.spike_steps[order] * self.config.dt
        counts = np.bincount(self.spike_neurons, minlength=self.animal.params.n_neurons)
        return np.split(times, np.cumsum(counts)[:-1])

    def firing_rates(self) -> np.ndarray:
        """(n_neurons,) mean rate in Hz."""
        counts = np.bincount(self.spike_neurons, minlength=self.animal.params.n_neurons)
        return counts / self.config.duration_s


def subject_id_of(animal_index: int) -> str:
    """``sim01``, ``sim02``, ...: DANDI-safe (letters and digits only)."""
    return f"sim{animal_index + 1:02d}"


def session_identifier(config: SimulationConfig, session_id: str, modality: str) -> str:
    """The NWB identifier of a simulated session's file: a UUID derived from the config, the session and the
    modality (``spikes`` or ``ophys``), so the same settings give the same identifier."""
    return str(uuid.uuid5(_IDENTIFIER_NAMESPACE, f"{config.fingerprint()}/{session_id}/{modality}"))


def session_id_of(animal_index: int, session_index: int) -> str:
    """``sim01s01``, ...: unique across the data set, DANDI-safe."""
    return f"{subject_id_of(animal_index)}s{session_index + 1:02d}"


def make_animal(config: SimulationConfig, index: int) -> Animal:
    """Draw animal ``index``'s neurons, connectivity and input gains from its own seed."""
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index, 0)))
    params = draw_parameters(config.n_neurons, rng, config.parameter_jitter, config.reset_jitter_mv)
    params = _shift_per_type(params, rng, config.animal_parameter_shift)
    connectivity = random_connectivity(params.excitatory, rng, config.in_degree,
                                       config.excitatory_weight / (config.dt * 1000),
                                       config.inhibitory_weight / (config.dt * 1000))
    n = config.n_neurons
    gain = float(np.exp(rng.normal(0.0, config.animal_gain_sd)))
    drive = NeuronDrive(
        baseline=gain * rng.normal(*config.baseline_current, n),
        w_sustained=gain * rng.normal(*config.stimulus_weight, n),
        w_transient=gain * rng.normal(*config.transient_weight, n),
        running_gain=rng.uniform(0.0, config.running_gain_max, n),
        noise_sd=config.noise_sd * rng.uniform(0.8, 1.2, n) / np.sqrt(config.dt * 1000),
    )
    return Animal(index=index, subject_id=subject_id_of(index), params=params, connectivity=connectivity,
                  drive=drive)


def _shift_per_type(params: NeuronParameters, rng: np.random.Generator, shift: float) -> NeuronParameters:
    factors = {name: 1.0 + shift * np.clip(rng.standard_normal(3), -2.0, 2.0) for name in CELL_TYPES}
    per_neuron = np.array([factors[name] for name in params.cell_type]).reshape(-1, 3)
    return replace(params, a=params.a * per_neuron[:, 0], b=params.b * per_neuron[:, 1],
                   d=params.d * per_neuron[:, 2])


def simulate_session(
    config: SimulationConfig,
    animal: Animal,
    session_index: int,
    backend: Backend = "auto",
    progress_bar: object | None = None,
) -> SimulatedSession:
    """Run one session of ``animal``: warm-up, then ``duration_s`` of recorded activity."""
    chosen = available_backend(backend)
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(animal.index, session_index + 1)))
    context = make_context(config.duration_s, rng, config.context_of(animal.index))
    v, u = resting_state(animal.params)
    state = PopulationState.at(v + rng.uniform(0.0, 5.0, v.size), u)
    chunk = max(1, int(round(config.chunk_s / config.dt)))
    n_warmup = int(round(config.warmup_s / config.dt))
    steps, neurons = [], []
    for first in range(-n_warmup, config.n_steps, chunk):
        length = min(chunk, config.n_steps - first) if first >= 0 else min(chunk, -first)
        noise = draw_noise_codes(rng, length, config.n_neurons)
        if first < 0:
            zeros = np.zeros(length)
            signals = (zeros, zeros, zeros)
        else:
            signals = context.per_step(first, length, config.steps_per_sample)
        chunk_steps, chunk_neurons = integrate_chunk(state, animal.params, animal.drive, animal.connectivity,
                                                     *signals, noise, backend=chosen, dt_ms=config.dt * 1000)
        if first >= 0:
            steps.append(chunk_steps.astype(np.int64) + first)
            neurons.append(chunk_neurons)
            if progress_bar is not None:
                progress_bar.update(length * config.dt)
    return SimulatedSession(
        config=config, animal=animal, session_index=session_index, context=context,
        spike_steps=np.concatenate(steps) if steps else np.zeros(0, dtype=np.int64),
        spike_neurons=np.concatenate(neurons) if neurons else np.zeros(0, dtype=np.int32),
        backend=chosen,
    )


def iter_sessions(config: SimulationConfig, backend: Backend = "auto",
                  progress: bool = True) -> Iterator[SimulatedSession]:
    """Simulate the sessions one at a time (animal by animal), with one progress bar in simulated seconds."""
    from nwb_neurpir.progress import tqdm

    config.validate()
    total = config.n_animals * config.sessions_per_animal * config.duration_s
    with tqdm(total=total, unit="sim s", desc="simulate", disable=not progress,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} simulated s [{elapsed}<{remaining}]") as bar:
        for animal_index in range(config.n_animals):
            animal = make_animal(config, animal_index)
            for session_index in range(config.sessions_per_animal):
                bar.set_postfix_str(f"sub-{animal.subject_id} session {session_index + 1}")
                yield simulate_session(config, animal, session_index, backend, bar)


def simulate_population(config: SimulationConfig, backend: Backend = "auto",
                        progress: bool = True) -> list[SimulatedSession]:
    """All sessions of all animals in ``config`` (held in memory; use ``iter_sessions`` for large populations)."""
    return list(iter_sessions(config, backend, progress))

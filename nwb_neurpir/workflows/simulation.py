"""``simulate_dataset``: a simulated Izhikevich population with known cell types, from a preset with overrides,
written as DANDI-style NWB files (``neurpir simulate``; ``simulate_nwb``, its options by the command's names)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nwb_neurpir.simulate import SimulationConfig

__all__ = ["SimulationRun", "simulate_dataset", "simulate_nwb"]


@dataclass(frozen=True)
class SimulationRun:
    """The files written, the simulation's settings and how long it took."""

    paths: list[Path]
    config: SimulationConfig
    modality: str
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        from nwb_neurpir.simulate.population import subject_id_of

        return {"files": [str(path) for path in self.paths], "n_animals": self.config.n_animals,
                "sessions_per_animal": self.config.sessions_per_animal, "n_neurons": self.config.n_neurons,
                "duration_s": self.config.duration_s, "seed": self.config.seed, "modality": self.modality,
                "shifted_subjects": [subject_id_of(index) for index in self.config.shifted_animals],
                "elapsed_s": round(self.elapsed_s, 2)}


def simulate_dataset(out_dir: str | Path, preset: str = "paper", *, modality: str = "spikes",
                     shift: str | None = None, shifted_animals: Sequence[int] | None = None, backend: str = "auto",
                     overwrite: bool = False, progress: bool = True, **overrides: Any) -> SimulationRun:
    """Simulate ``PRESETS[preset]`` with ``overrides`` (``n_animals``, ``sessions_per_animal``, ``n_neurons``,
    ``duration_s``, ``seed``; None keeps the preset's) and write one NWB file per session into ``out_dir``.

    With ``shift`` (a ``CONTEXT_SHIFTS`` name), the animals numbered in ``shifted_animals`` (1 = sim01; default the
    last) see other peripheral conditions."""
    from nwb_neurpir.errors import NeurPIRError
    from nwb_neurpir.simulate import PRESETS, write_dataset

    if shifted_animals and shift is None:
        raise NeurPIRError("--shifted-animal needs --shift (behaviour, stimulus or both)")
    config = PRESETS[preset].with_overrides(**overrides)
    if shift is not None:
        numbers = shifted_animals or [config.n_animals]
        config = config.with_shift(tuple(number - 1 for number in numbers), shift)
    config = config.validate()
    started = time.perf_counter()
    paths = write_dataset(out_dir, config, modality=modality, backend=backend, progress=progress,
                          overwrite=overwrite)
    return SimulationRun(paths=paths, config=config, modality=modality, elapsed_s=time.perf_counter() - started)


def simulate_nwb(out_dir: str | Path, preset: str = "paper", *, animals: int | None = None,
             sessions_per_animal: int | None = None, neurons: int | None = None, duration: float | None = None,
             modality: str = "spikes", shift: str | None = None, shifted_animals: Sequence[int] | None = None,
             seed: int | None = None, backend: str = "auto", overwrite: bool = False,
             progress: bool | None = None) -> list[Path]:
    """Write a simulated population with known cell types (``cell_type``: RS, IB, CH, FS, LTS) as one NWB file per
    session into ``out_dir``, as ``neurpir simulate`` does with the same options (see ``neurpir simulate --help``):
    ``preset`` (``paper``, ``demo``, ``demo-shifted``) overridden by ``animals``, ``sessions_per_animal``,
    ``neurons`` (per animal), ``duration`` (seconds per session) and ``seed``; returns the paths written.
    ``progress``: None follows ``NEURPIR_PROGRESS`` (as ``open_recordings``).

    >>> import nwb_neurpir as npir
    >>> npir.simulate_nwb("sim/", preset="demo", animals=2, neurons=50, duration=60, seed=1)   # doctest: +SKIP
    [PosixPath('sim/sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb'), ...]
    """
    from nwb_neurpir.progress import progress_or_environment

    return simulate_dataset(out_dir, preset, modality=modality, shift=shift, shifted_animals=shifted_animals,
                            backend=backend, overwrite=overwrite, progress=progress_or_environment(progress),
                            n_animals=animals,
                            sessions_per_animal=sessions_per_animal, n_neurons=neurons, duration_s=duration,
                            seed=seed).paths

"""``simulate_dataset``: a simulated Izhikevich population with known cell types, from a preset with overrides,
written as DANDI-style NWB files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nwb_neurpir.simulate import SimulationConfig

__all__ = ["SimulationRun", "simulate_dataset"]


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
    from nwb_neurpir.simulate import PRESETS, write_dataset

    config = PRESETS[preset].with_overrides(**overrides)
    if shift is not None:
        numbers = shifted_animals or [config.n_animals]
        config = config.with_shift(tuple(number - 1 for number in numbers), shift)
    config = config.validate()
    started = time.perf_counter()
    paths = write_dataset(out_dir, config, modality=modality, backend=backend, progress=progress,
                          overwrite=overwrite)
    return SimulationRun(paths=paths, config=config, modality=modality, elapsed_s=time.perf_counter() - started)

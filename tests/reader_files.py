"""Editing tools for the reader tests: each module writes its small NWB file once with ``nwb_neurpir.testing``,
copies it per test, then edits the copy in place with h5py to make each bad or unusual case."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np

WINDOWS = [(0.0, 5.0), (10.0, 15.0)]
"""The obs_intervals of the reader tests' spikes files."""


def copy_of(path: Path, folder: Path, name: str = "copy.nwb") -> Path:
    """A fresh copy of ``path`` in ``folder`` to edit."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(path, folder / name))


def replace_dataset(path: Path, name: str, values: object, **storage: object) -> None:
    """Replace dataset ``name`` with ``values`` (``storage``: h5py options such as ``chunks``), keeping its
    attributes."""
    with h5py.File(path, "a") as nwb:
        attributes = dict(nwb[name].attrs)
        del nwb[name]
        dataset = nwb.create_dataset(name, data=values, **storage)
        for key, value in attributes.items():
            dataset.attrs[key] = value


def unit_spike_times(path: Path) -> list[np.ndarray]:
    """Every unit's spike times, straight from h5py (the ground truth)."""
    with h5py.File(path, "r") as nwb:
        times = nwb["units/spike_times"][()]
        ends = nwb["units/spike_times_index"][()]
    return np.split(times, ends[:-1])


def set_unit_spike_times(path: Path, per_unit: list[np.ndarray]) -> None:
    """Rewrite the ragged spike_times column with ``per_unit`` arrays (same number of units)."""
    replace_dataset(path, "units/spike_times", np.concatenate(per_unit).astype(np.float64))
    replace_dataset(path, "units/spike_times_index", np.cumsum([len(t) for t in per_unit]).astype(np.uint32))

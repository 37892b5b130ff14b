"""Small NWB files for the reader tests: written once per test module by ``nwb_neurpir.testing``, copied per test,
then edited in place with h5py to make each bad or unusual case."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np

from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, write_nwbfile

WINDOWS = [(0.0, 5.0), (10.0, 15.0)]
"""The shared obs_intervals of ``spikes_file``."""


def spikes_file(folder: Path, **kwargs: object) -> Path:
    """A spikes file (default: 6 units, 20 s, obs_intervals ``WINDOWS``, trials/stimulus/behaviour)."""
    options = {"n_units": 6, "duration": 20.0, "obs_intervals": WINDOWS, "n_trials": 8} | kwargs
    return write_nwbfile(make_spikes_nwbfile(**options), folder / "spikes.nwb")


def ophys_file(folder: Path, **kwargs: object) -> Path:
    """An ophys file (default: 5 ROIs, 300 frames at 30 Hz, Fluorescence and DfOverF)."""
    options = {"n_rois": 5, "n_frames": 300} | kwargs
    return write_nwbfile(make_ophys_nwbfile(**options), folder / "ophys.nwb")


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

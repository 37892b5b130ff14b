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


def suite2p_like_file(folder: Path) -> Path:
    """A Suite2p conversion's layout: no DfOverF; ``Deconvolved``, ``Neuropil`` and the ROI traces of plane 0 in
    ``Fluorescence`` (the auxiliary series sort first by name), and a second plane's ROIs and traces."""
    from pynwb.ophys import Fluorescence

    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=4, n_frames=90, with_context=False)
    ophys = nwbfile.processing["ophys"]
    ophys.data_interfaces.pop("DfOverF")
    old = ophys.data_interfaces.pop("Fluorescence")["RoiResponseSeries"]
    planes = ophys["ImageSegmentation"]
    second = planes.create_plane_segmentation(name="PlaneSegmentationPlane1", description="plane 1",
                                              imaging_plane=nwbfile.imaging_planes["plane0"])
    for index in range(3):
        second.add_roi(image_mask=np.eye(16, dtype=np.float32) * (index + 1))
    fluorescence = Fluorescence(roi_response_series=[])
    ophys.add(fluorescence)
    data = np.asarray(old.data)
    for name, values in (("Deconvolved", data * 0), ("Neuropil", data * 0 + 5), ("RoiResponseSeries", data)):
        rois = planes["PlaneSegmentation"].create_roi_table_region(region=[0, 1, 2, 3], description="plane 0 ROIs")
        fluorescence.create_roi_response_series(name=name, data=values, rois=rois, unit="a.u.", rate=30.0)
    fluorescence.create_roi_response_series(
        name="RoiResponseSeriesPlane1", data=data[:, :3] * 2, unit="a.u.", rate=30.0,
        rois=second.create_roi_table_region(region=[0, 1, 2], description="plane 1 ROIs"))
    return write_nwbfile(nwbfile, folder / "suite2p.nwb")


SECOND_SORTING = "processing/ecephys/units_ms5"
"""The second spike sorting's units table in ``two_sortings_file``."""


def two_sortings_file(folder: Path, *, top_units: bool = True) -> Path:
    """A session with two spike sortings: ``/units`` (6 units, ids 0-5, 20 s) and ``SECOND_SORTING`` (4 units, ids
    10-13, other spike times); without ``top_units`` the first sorting is ``processing/ecephys/units_ks4`` and the
    file has no ``/units``."""
    from pynwb.misc import Units

    from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

    nwbfile = make_spikes_nwbfile(n_units=6, duration=20.0, with_context=False, with_electrodes=False)
    module = nwbfile.create_processing_module("ecephys", "two spike sortings")
    rng = np.random.default_rng(7)
    second = Units(name="units_ms5", description="second spike sorting")
    second.add_column("quality", "spike-sorting quality label")
    for index in range(4):
        second.add_unit(id=10 + index, spike_times=np.sort(rng.uniform(0.0, 20.0, 100 * (index + 1))),
                        quality="good")
    module.add(second)
    if not top_units:
        first = Units(name="units_ks4", description="first spike sorting")
        for index in range(6):
            first.add_unit(id=index, spike_times=nwbfile.units["spike_times"][index])
        module.add(first)
    path = write_nwbfile(nwbfile, folder / ("two_sortings.nwb" if top_units else "two_sortings_in_processing.nwb"))
    if not top_units:
        with h5py.File(path, "a") as file:
            del file["units"]
    return path


def curated_ophys_file(folder: Path, subject_id: str = "mouse1", seed: int = 0) -> Path:
    """A Suite2p-like calcium session of 16 ROIs with trials: 12 cells accepted by curation (dF/F transients over a
    0 baseline, ``Accepted`` 1) and 4 rejected ROIs (every fourth, ``Accepted`` 0) whose dF/F is zero-mean noise."""
    from pynwb.ophys import DfOverF

    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=16, n_frames=1800, seed=seed, subject_id=subject_id,
                                 session_id=f"{subject_id}-s1")
    ophys = nwbfile.processing["ophys"]
    dff = np.array(ophys.data_interfaces.pop("DfOverF")["DfOverFSeries"].data)
    rejected = np.arange(16) % 4 == 3
    dff[:, rejected] = np.random.default_rng(seed + 50).normal(0.0, 0.3, (dff.shape[0], int(rejected.sum())))
    rois = ophys["ImageSegmentation"]["PlaneSegmentation"]
    rois.add_column("Accepted", "1 if the ROI was accepted as a cell", data=(~rejected).astype(int).tolist())
    ophys.add(DfOverF(roi_response_series=[]))
    ophys["DfOverF"].create_roi_response_series(
        name="DfOverFSeries", data=dff.astype(np.float32), unit="n.a.", rate=30.0,
        rois=rois.create_roi_table_region(region=list(range(16)), description="all ROIs"))
    return write_nwbfile(nwbfile, folder / f"sub-{subject_id}.nwb")

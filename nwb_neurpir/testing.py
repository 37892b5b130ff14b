"""Seeded factories for small, valid NWB files (spikes, calcium, trials, behaviour, stimulus) used by the tests.

Shipped in the library, as pynwb ships ``pynwb.testing.mock``, so users can write tests against the same files.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

__all__ = ["make_ophys_nwbfile", "make_spikes_nwbfile", "write_nwbfile"]

_START = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def _base_nwbfile(subject_id: str, session_id: str, seed: int):  # noqa: ANN202 - pynwb type imported lazily
    from pynwb import NWBFile
    from pynwb.file import Subject

    return NWBFile(
        session_description="Small synthetic session written by nwb_neurpir.testing.",
        identifier=str(uuid.UUID(int=np.random.default_rng(seed).integers(0, 2**63) << 64 | seed)),
        session_start_time=_START,
        session_id=session_id,
        subject=Subject(subject_id=subject_id, species="Mus musculus", sex="U", age="P90D",
                        description="synthetic test animal"),
    )


def _add_trials_stimulus_behavior(nwbfile, rng: np.random.Generator, duration: float, n_trials: int) -> None:  # noqa: ANN001
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries

    nwbfile.add_trial_column("contrast", "stimulus contrast, 0 to 1")
    nwbfile.add_trial_column("feedback_type", "+1 reward, -1 negative feedback")
    starts = np.linspace(0.5, duration - 1.5, n_trials)
    contrasts = rng.choice([0.0, 0.25, 0.5, 1.0], size=n_trials)
    for start, contrast in zip(starts, contrasts):
        nwbfile.add_trial(start_time=float(start), stop_time=float(start + 0.8), contrast=float(contrast),
                          feedback_type=float(rng.choice([-1.0, 1.0])))
    rate = 100.0
    t = np.arange(0, duration, 1 / rate)
    stim = np.zeros_like(t)
    for start, contrast in zip(starts, contrasts):
        stim[(t >= start) & (t < start + 0.8)] = contrast
    nwbfile.add_stimulus(TimeSeries(name="visual_contrast", data=stim, unit="n.a.", rate=rate, starting_time=0.0,
                                    description="contrast of the visual stimulus on screen"))
    speed = np.abs(np.cumsum(rng.normal(0, 0.5, t.size))) % 30
    behavior = nwbfile.create_processing_module("behavior", "running behaviour")
    behavior.add(BehavioralTimeSeries(time_series=TimeSeries(
        name="running_speed", data=speed, unit="cm/s", rate=rate, starting_time=0.0,
        description="wheel running speed")))


def make_spikes_nwbfile(
    n_units: int = 20,
    duration: float = 60.0,
    seed: int = 0,
    subject_id: str = "mouse1",
    session_id: str = "ses1",
    n_trials: int = 20,
    obs_intervals: list[tuple[float, float]] | None = None,
    with_electrodes: bool = True,
    with_context: bool = True,
):  # noqa: ANN201 - returns pynwb.NWBFile
    """An NWBFile with ``n_units`` Poisson units (rates 1–30 Hz), ``brain_area``/``quality`` columns, electrodes
    with ``location``, and (``with_context``) trials, a stimulus ``TimeSeries`` and running speed."""
    rng = np.random.default_rng(seed)
    nwbfile = _base_nwbfile(subject_id, session_id, seed)
    areas = np.array(["VISp", "CA1", "LGd", "MRN"])
    if with_electrodes:
        device = nwbfile.create_device(name="probe", description="synthetic probe", manufacturer="none")
        group = nwbfile.create_electrode_group(name="shank0", description="synthetic shank", location="brain",
                                               device=device)
        for index in range(n_units):
            nwbfile.add_electrode(group=group, location=str(areas[index % areas.size]))
    nwbfile.add_unit_column("brain_area", "Allen CCF acronym of the unit's location")
    nwbfile.add_unit_column("quality", "spike-sorting quality label")
    if obs_intervals is not None:
        windows = np.asarray(obs_intervals, dtype=float)
    else:
        windows = np.array([[0.0, duration]])
    for index in range(n_units):
        rate = rng.uniform(1.0, 30.0)
        times = np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration)))
        inside = np.zeros(times.size, dtype=bool)
        for start, stop in windows:
            inside |= (times >= start) & (times < stop)
        kwargs = {"electrodes": [index]} if with_electrodes else {}
        nwbfile.add_unit(spike_times=times[inside], obs_intervals=windows if obs_intervals is not None else None,
                         brain_area=str(areas[index % areas.size]), quality="good" if index % 3 else "mua",
                         **kwargs)
    if with_context:
        _add_trials_stimulus_behavior(nwbfile, rng, duration, n_trials)
    return nwbfile


def make_ophys_nwbfile(
    n_rois: int = 10,
    n_frames: int = 900,
    rate: float = 30.0,
    seed: int = 0,
    subject_id: str = "mouse1",
    session_id: str = "ses1",
    with_context: bool = True,
):  # noqa: ANN201 - returns pynwb.NWBFile
    """An NWBFile with a ``PlaneSegmentation`` (``cell_type`` column) and fluorescence + dF/F ``RoiResponseSeries``."""
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    rng = np.random.default_rng(seed)
    nwbfile = _base_nwbfile(subject_id, session_id, seed)
    device = nwbfile.create_device(name="microscope", description="synthetic two-photon microscope",
                                   manufacturer="none")
    channel = OpticalChannel(name="green", description="GCaMP channel", emission_lambda=520.0)
    plane = nwbfile.create_imaging_plane(
        name="plane0", optical_channel=channel, imaging_rate=rate, description="synthetic plane", device=device,
        excitation_lambda=920.0, indicator="GCaMP6f", location="VISp")
    ophys = nwbfile.create_processing_module("ophys", "optical physiology")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="synthetic ROIs",
                                                  imaging_plane=plane)
    rois.add_column("cell_type", "transcriptomic type of the ROI")
    types = np.array(["Pvalb", "Sst", "Vip"])
    for index in range(n_rois):
        mask = np.zeros((16, 16), dtype=np.float32)
        mask[index % 16, : 1 + index % 15] = 1.0
        rois.add_roi(image_mask=mask, cell_type=str(types[index % types.size]))
    region = rois.create_roi_table_region(region=list(range(n_rois)), description="all ROIs")
    spikes = rng.poisson(0.05, size=(n_frames, n_rois)).astype(np.float32)
    kernel = np.exp(-np.arange(30) / (0.7 * rate))
    trace = np.stack([np.convolve(spikes[:, i], kernel)[:n_frames] for i in range(n_rois)], axis=1)
    fluorescence = 1.0 + trace + rng.normal(0, 0.05, trace.shape).astype(np.float32)
    ophys.add(Fluorescence(roi_response_series=[]))
    ophys["Fluorescence"].create_roi_response_series(
        name="RoiResponseSeries", data=fluorescence.astype(np.float32), rois=region, unit="a.u.", rate=rate,
        description="raw fluorescence")
    ophys.add(DfOverF(roi_response_series=[]))
    ophys["DfOverF"].create_roi_response_series(
        name="DfOverFSeries", data=(fluorescence - 1.0).astype(np.float32), rois=region, unit="n.a.", rate=rate,
        description="dF/F")
    if with_context:
        _add_trials_stimulus_behavior(nwbfile, rng, n_frames / rate, max(2, int(n_frames / rate / 3)))
    return nwbfile


def write_nwbfile(nwbfile, path: str | Path) -> Path:  # noqa: ANN001 - pynwb.NWBFile
    """Write ``nwbfile`` to ``path`` (parents created) and return the path."""
    from pynwb import NWBHDF5IO

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path

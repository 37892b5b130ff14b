"""Seeded factories for the tests: small, valid NWB files (spikes, calcium, trials, behaviour, stimulus, a raw
acquisition series), in-memory ``Recording`` objects (``mock_recording``) and a config that trains in about a second
(``tiny_config``).

Shipped in the library, as pynwb ships ``pynwb.testing.mock``, so users can write tests against the same files.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nwb_neurpir.model.config import NeurPIRConfig
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.simulate import SimulationConfig

__all__ = ["make_ophys_nwbfile", "make_spikes_nwbfile", "mock_recording", "tiny_config", "tiny_population",
           "write_nwbfile", "write_session_with_acquisition"]

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


def write_session_with_acquisition(path: str | Path, megabytes: float = 30.0, seed: int = 0) -> Path:
    """A spikes session (20 units, trials, stimulus, running speed) plus an uncompressed, chunked int16
    ``ElectricalSeries`` of about ``megabytes`` MB in ``acquisition`` (the bulk of the file's bytes), written to
    ``path``."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.ecephys import ElectricalSeries

    n_channels = 20
    nwbfile = make_spikes_nwbfile(n_units=n_channels, duration=60.0, seed=seed)
    region = nwbfile.create_electrode_table_region(list(range(n_channels)), "all electrodes")
    n_samples = int(megabytes * 1e6 / (2 * n_channels))
    data = np.random.default_rng(seed).integers(-2000, 2000, size=(n_samples, n_channels), dtype=np.int16)
    nwbfile.add_acquisition(ElectricalSeries(
        name="ElectricalSeries", data=H5DataIO(data, chunks=(16384, n_channels)), electrodes=region,
        rate=30000.0, starting_time=0.0, description="synthetic raw voltage"))
    return write_nwbfile(nwbfile, path)


_MOCK_KINDS = ("tonic", "bursty", "fast")
"""The neuron kinds of ``mock_recording`` (its ``kind`` column), in row order."""


def mock_recording(seed: int = 0, n_per_kind: int = 8, n_bins: int = 1200, subject_id: str = "m1",
                   n_epochs: int = 1, with_covariates: bool = True, modality: str = "spikes",
                   rate_scale: float = 1.0) -> Recording:
    """A ``Recording`` without a file: spike counts (10 ms bins) of three neuron kinds (tonic Poisson, bursty,
    fast-spiking and stimulus-driven), or their calcium-like convolution for ``modality="ophys"``, with ``stimulus``
    and ``speed`` covariates."""
    import pandas as pd

    from nwb_neurpir.recording import Recording, SourceInfo

    rng = np.random.default_rng(seed)
    stimulus = (np.sin(np.arange(n_bins) / 25.0) > 0.3).astype(np.float32)
    rows, kinds = [], []
    for kind in _MOCK_KINDS:
        for _ in range(n_per_kind):
            if kind == "tonic":
                rate = np.full(n_bins, 0.05)
            elif kind == "bursty":
                rate = np.where(rng.random(n_bins) < 0.02, 1.5, 0.005)
                rate = np.convolve(rate, np.ones(3), mode="same")
            else:
                rate = 0.3 + 0.4 * stimulus
            rows.append(rng.poisson(rate * rate_scale * rng.uniform(0.8, 1.2)))
            kinds.append(kind)
    activity = np.asarray(rows, dtype=np.uint8)
    if modality == "ophys":
        kernel = np.exp(-np.arange(40) / 8.0)
        activity = np.stack([np.convolve(r.astype(np.float32), kernel)[:n_bins] for r in activity]).astype(np.float32)
    epoch_len = n_bins // n_epochs
    bin_times = np.concatenate([e * 10.0 + np.arange(epoch_len) * 0.01 for e in range(n_epochs)])
    bin_times = np.concatenate([bin_times, bin_times[-1] + 0.01 * np.arange(1, n_bins - bin_times.size + 1)])
    covariates = {"stimulus": stimulus, "speed": np.abs(rng.normal(0, 1, n_bins)).astype(np.float32)} \
        if with_covariates else {}
    return Recording(
        source=SourceInfo(location=f"synthetic-{subject_id}-{seed}.nwb", identifier=f"synthetic-{subject_id}-{seed}"),
        subject_id=subject_id, session_id=f"ses{seed}", session_start_time="2024-01-01T00:00:00+00:00",
        modality=modality, bin_size=0.01, bin_times=bin_times, activity=activity,
        neuron_ids=np.arange(activity.shape[0], dtype=np.int64), neuron_table="units",
        neuron_metadata=pd.DataFrame({"kind": kinds}), covariates=covariates)


def tiny_config(**changes: Any) -> NeurPIRConfig:  # noqa: ANN401 - config field values
    """A ``NeurPIRConfig`` that trains in a second or two (3 steps, tiny networks, a short CEBRA fit, one thread):
    enough to exercise the pipeline, not to learn anything; ``changes`` replace fields."""
    from nwb_neurpir.model.config import NeurPIRConfig

    values: dict[str, Any] = {
        "hidden_dim": 8, "representation_dim": 8, "expander_dim": 16, "batch_size": 16, "max_steps": 3,
        "context_iterations": 5, "context_batch_size": 64, "segment_length_min": 0.5, "segment_length_max": 2.0,
        "validation_fraction": 0.0, "num_threads": 1}
    return NeurPIRConfig(**{**values, **changes})


def tiny_population(seed: int = 0) -> SimulationConfig:
    """A simulated population that takes seconds: 3 animals x 1 session x 25 neurons (5 per cell type) x 20 s."""
    from nwb_neurpir.simulate import SimulationConfig

    return SimulationConfig(n_animals=3, sessions_per_animal=1, n_neurons=25, duration_s=20.0, seed=seed)

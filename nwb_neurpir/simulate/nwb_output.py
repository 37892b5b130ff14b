"""Simulated sessions as DANDI-style NWB files: ``sub-<id>/sub-<id>_ses-<id>_ecephys.nwb`` (Units) and
``..._ophys.nwb`` (calcium imaging), both with trials, the stimulus and running speed.

Everything in a file follows from the config: identifiers are UUIDs derived from it and the dates are fixed, so the
same seed writes the same datasets (HDF5 object ids, which pynwb draws at random, are the only difference).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from nwb_neurpir import __version__
from nwb_neurpir.atomic_files import hdf5_writer
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.simulate.calcium import CalciumTraces, simulate_calcium
from nwb_neurpir.simulate.integrator import Backend
from nwb_neurpir.simulate.izhikevich import CELL_TYPE_DESCRIPTIONS, PARAMETER_DESCRIPTIONS
from nwb_neurpir.simulate.population import (
    SimulatedSession,
    SimulationConfig,
    iter_sessions,
    session_id_of,
    session_identifier,
    subject_id_of,
)

__all__ = [
    "MODALITIES",
    "SimModality",
    "dandi_path",
    "ophys_nwbfile",
    "planned_paths",
    "simulated_already",
    "spikes_nwbfile",
    "write_dataset",
    "write_session",
]

SimModality = Literal["spikes", "ophys", "both"]
MODALITIES: tuple[str, ...] = ("spikes", "ophys", "both")
_SUFFIX = {"spikes": "ecephys", "ophys": "ophys"}
_CELL_TYPE_HELP = "Izhikevich (2003) firing type the neuron's parameters were drawn around: " + "; ".join(
    f"{name} = {text}" for name, text in CELL_TYPE_DESCRIPTIONS.items())


def dandi_path(out_dir: str | Path, subject_id: str, session_id: str, modality: Literal["spikes", "ophys"]) -> Path:
    """``out_dir/sub-<subject>/sub-<subject>_ses-<session>_<ecephys|ophys>.nwb``."""
    subject = f"sub-{subject_id}"
    return Path(out_dir) / subject / f"{subject}_ses-{session_id}_{_SUFFIX[modality]}.nwb"


def planned_paths(out_dir: str | Path, config: SimulationConfig, modality: SimModality = "spikes") -> list[Path]:
    """The files ``write_dataset`` will write, in order, without simulating anything."""
    return list(_planned_identifiers(out_dir, config, modality))


def simulated_already(out_dir: str | Path, config: SimulationConfig, modality: SimModality = "spikes") -> list[Path]:
    """The files ``write_dataset`` would write that exist and hold this very simulation (by their NWB identifier,
    which follows from the settings and the seed), whatever was added to them since (embeddings, say)."""
    return [path for path, identifier in _planned_identifiers(out_dir, config, modality).items()
            if _identifier_of(path) == identifier]


def _planned_identifiers(out_dir: str | Path, config: SimulationConfig, modality: SimModality) -> dict[Path, str]:
    """Each file ``write_dataset`` will write, in order, with the NWB identifier it gets."""
    return {dandi_path(out_dir, subject_id_of(animal), session_id_of(animal, session), kind):
            session_identifier(config, session_id_of(animal, session), kind)
            for animal in range(config.n_animals) for session in range(config.sessions_per_animal)
            for kind in _kinds(modality)}


def _identifier_of(path: Path) -> str | None:
    """The NWB identifier of the file at ``path``; None when there is no readable NWB file there."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            value = file["identifier"][()]
    except (OSError, KeyError):
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def spikes_nwbfile(session: SimulatedSession):  # noqa: ANN201 - pynwb.NWBFile, imported lazily
    """The session as extracellular-style spike trains: ``units`` with ``spike_times``, ``cell_type`` and a–d."""
    from hdmf.common import VectorData, VectorIndex
    from pynwb.misc import Units

    nwbfile = _base_nwbfile(session, "spikes")
    times = session.spike_times()
    spike_times = VectorData(name="spike_times", description="spike times (s) of each simulated neuron",
                             data=np.concatenate(times))
    n = len(times)
    observed = VectorData(name="obs_intervals", description="the whole session: every neuron is observed throughout",
                          data=np.tile([0.0, session.config.duration_s], (n, 1)))
    columns = [spike_times, VectorIndex(name="spike_times_index", target=spike_times,
                                        data=np.cumsum([t.size for t in times]).astype(np.int64)),
               observed, VectorIndex(name="obs_intervals_index", target=observed, data=np.arange(1, n + 1))]
    columns += _neuron_columns(session)
    nwbfile.units = Units(name="units", id=np.arange(n), columns=columns, resolution=session.config.dt,
                          description="simulated Izhikevich neurons (one unit per neuron, perfectly sorted)")
    return nwbfile


def ophys_nwbfile(session: SimulatedSession):  # noqa: ANN201 - pynwb.NWBFile, imported lazily
    """The session as two-photon calcium imaging (``config.calcium``): one ROI per neuron, raw fluorescence, dF/F."""
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    settings = session.config.calcium
    traces = _calcium(session)
    nwbfile = _base_nwbfile(session, "ophys")
    device = nwbfile.create_device(name="microscope", description="simulated two-photon microscope",
                                   manufacturer="none (simulation)")
    plane = nwbfile.create_imaging_plane(
        name="ImagingPlane", description="simulated imaging plane, one ROI per simulated neuron", device=device,
        optical_channel=OpticalChannel(name="green", description="GCaMP emission", emission_lambda=520.0),
        excitation_lambda=920.0, imaging_rate=settings.frame_rate, indicator="GCaMP (simulated)",
        location="VISp")
    ophys = nwbfile.create_processing_module("ophys", "simulated calcium imaging of the Izhikevich population")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    ophys.add(segmentation)
    mask, mask_index = _pixel_masks(session)
    rois = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="one disc-shaped ROI per simulated neuron", imaging_plane=plane,
        columns=[mask, mask_index, *_neuron_columns(session)],
        id=np.arange(session.animal.params.n_neurons))
    region = rois.create_roi_table_region(region=list(range(len(rois))), description="all ROIs")
    ophys.add(Fluorescence(name="Fluorescence", roi_response_series=[]))
    ophys["Fluorescence"].create_roi_response_series(
        name="RoiResponseSeries", data=traces.fluorescence, rois=region, unit="a.u.", rate=traces.frame_rate,
        starting_time=0.0, description="raw fluorescence: spikes through a GCaMP-like kernel, with noise and drift")
    ophys.add(DfOverF(name="DfOverF", roi_response_series=[]))
    ophys["DfOverF"].create_roi_response_series(
        name="DfOverFSeries", data=traces.dff, rois=region, unit="n.a.", rate=traces.frame_rate,
        starting_time=0.0, description="dF/F against the simulated (drifting) baseline")
    return nwbfile


def write_session(session: SimulatedSession, out_dir: str | Path, modality: SimModality = "spikes",
                  overwrite: bool = False) -> list[Path]:
    """Write one session as NWB file(s) under ``out_dir`` in DANDI layout; each file is replaced atomically."""
    builders = {"spikes": spikes_nwbfile, "ophys": ophys_nwbfile}
    paths = []
    for kind in _kinds(modality):
        path = dandi_path(out_dir, session.subject_id, session.session_id, kind)
        _refuse_existing([path], overwrite)
        _write_atomically(builders[kind](session), path)
        paths.append(path)
    return paths


def write_dataset(
    out_dir: str | Path,
    config: SimulationConfig,
    modality: SimModality = "spikes",
    backend: Backend = "auto",
    progress: bool = True,
    overwrite: bool = False,
) -> list[Path]:
    """Simulate every session of ``config`` and write it under ``out_dir`` (one session in memory at a time).

    Refuses before simulating anything when a file exists and ``overwrite`` is False."""
    config.validate()
    _refuse_existing(planned_paths(out_dir, config, modality), overwrite)
    paths: list[Path] = []
    for session in iter_sessions(config, backend=backend, progress=progress):
        paths.extend(write_session(session, out_dir, modality, overwrite))
    return paths


def _kinds(modality: SimModality) -> list[Literal["spikes", "ophys"]]:
    if modality not in MODALITIES:
        raise NeurPIRError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    return ["spikes", "ophys"] if modality == "both" else [modality]


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    existing = [path for path in paths if path.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise NeurPIRError(f"file exists{more}; use --overwrite (overwrite=True) to replace it", source=existing[0])


def _base_nwbfile(session: SimulatedSession, kind: str):  # noqa: ANN202
    from pynwb import NWBFile
    from pynwb.file import Subject

    config = session.config
    start = session.session_start_time
    shifted = session.animal.index in config.shifted_animals
    conditions = (" This animal is under shifted conditions: other stimulus statistics and behaviour than the "
                  "unshifted animals (see notes: shifted_context)." if shifted else "")
    nwbfile = NWBFile(
        session_description=(
            f"Simulated session {session.session_index + 1} of animal {session.subject_id}: a recurrent network of "
            f"{config.n_neurons} Izhikevich (2003) neurons (RS, IB, CH, FS, LTS in equal parts) driven by noise, "
            f"a visual stimulus at several contrasts and running speed.{conditions}"),
        identifier=session.identifier(kind),
        session_start_time=start,
        file_create_date=start,
        session_id=session.session_id,
        lab="nwb-neurpir",
        institution="nwb-neurpir (simulation)",
        experiment_description="Ground truth for learning intrinsic neuron representations (NeurPIR).",
        keywords=["simulation", "Izhikevich", "cell type", "NeurPIR"],
        notes=json.dumps({"simulation_settings": config.session_settings(), "animal_index": session.animal.index,
                          "session_index": session.session_index, "shifted_conditions": shifted}, sort_keys=True),
        source_script=f"nwb_neurpir.simulate {__version__}",
        source_script_file_name="nwb_neurpir/simulate/population.py",
        subject=Subject(subject_id=session.subject_id, species="Mus musculus", sex="U", age="P90D",
                        description=f"simulated animal {session.animal.index + 1} (seed {config.seed})"),
    )
    _add_context(nwbfile, session)
    return nwbfile


def _add_context(nwbfile, session: SimulatedSession) -> None:  # noqa: ANN001 - pynwb.NWBFile
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries

    context = session.context
    if context.trial_start.size:
        nwbfile.add_trial_column("contrast", "contrast of the full-field stimulus shown during the trial, 0 to 1")
    for start, stop, contrast in zip(context.trial_start, context.trial_stop, context.trial_contrast):
        nwbfile.add_trial(start_time=float(start), stop_time=float(stop), contrast=float(contrast))
    nwbfile.add_stimulus(TimeSeries(
        name="visual_contrast", data=context.contrast.astype(np.float32), unit="n.a.", rate=context.rate,
        starting_time=0.0, description="contrast on screen (0 between trials); drives every neuron through its "
                                       "own sustained and onset-transient weights"))
    behavior = nwbfile.create_processing_module("behavior", "simulated running behaviour")
    behavior.add(BehavioralTimeSeries(name="BehavioralTimeSeries", time_series=TimeSeries(
        name="running_speed", data=context.running_speed.astype(np.float32), unit="cm/s", rate=context.rate,
        starting_time=0.0, description="running speed; multiplies each neuron's input by its own running gain")))


def _neuron_columns(session: SimulatedSession) -> list:
    from hdmf.common import VectorData

    params = session.animal.params
    columns = [VectorData(name="cell_type", description=_CELL_TYPE_HELP, data=params.cell_type.tolist())]
    for name, description in PARAMETER_DESCRIPTIONS.items():
        columns.append(VectorData(name=name, description=description, data=getattr(params, name)))
    return columns


def _pixel_masks(session: SimulatedSession) -> tuple:
    """ROIs as discs of radius 3 px on a jittered grid with 10 px spacing; returns (mask, index) columns."""
    from hdmf.common import VectorData, VectorIndex

    n = session.animal.params.n_neurons
    side = int(np.ceil(np.sqrt(n)))
    offsets = np.array([(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4) if dx * dx + dy * dy <= 9])
    rows = []
    for index in range(n):
        cx, cy = 6 + 10 * (index % side), 6 + 10 * (index // side)
        rows.extend((cx + dx, cy + dy, 1.0 / len(offsets)) for dx, dy in offsets)
    mask_type = np.dtype([("x", "uint32"), ("y", "uint32"), ("weight", "float32")])
    mask = VectorData(name="pixel_mask", description="pixel (x, y, weight) of each ROI",
                      data=np.array(rows, dtype=mask_type))
    index = VectorIndex(name="pixel_mask_index", target=mask,
                        data=np.arange(1, n + 1, dtype=np.int64) * len(offsets))
    return mask, index


def _calcium(session: SimulatedSession) -> CalciumTraces:
    config = session.config
    rng = np.random.default_rng(np.random.SeedSequence(
        config.seed, spawn_key=(session.animal.index, session.session_index + 1, 1)))
    return simulate_calcium(session.spike_steps * config.dt, session.spike_neurons,
                            session.animal.params.n_neurons, config.duration_s, rng, config.calcium)


def _write_atomically(nwbfile, path: Path) -> None:  # noqa: ANN001 - pynwb.NWBFile
    """Write to a temporary file next to ``path``, then move it into place, under ``path``'s lock as ``annotate``
    writes (``staged_replace``): temporary and lock files that killed writers of ``path`` left are deleted first."""
    from pynwb import NWBHDF5IO

    from nwb_neurpir.store.atomic import staged_replace
    from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT

    path.parent.mkdir(parents=True, exist_ok=True)
    with staged_replace(path, DEFAULT_LOCK_TIMEOUT) as staging:
        partial = staging.new_temp()
        with hdf5_writer(partial, "w") as file:
            NWBHDF5IO(file=file, mode="w").write(nwbfile)
        staging.commit(partial)

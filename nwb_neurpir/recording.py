"""The in-memory recording every stage after the reader works on: plain numpy/pandas, no torch, no h5py.

One ``Recording`` is one session of one animal, binned on one time grid. Only *observed* time is kept: the bins are
the concatenation of the observed windows (``obs_intervals`` for spikes, valid frames for calcium) less the file's
``invalid_times``, ``bin_times`` says where each bin starts, and a jump in ``bin_times`` marks a gap in observation. A
per-neuron ``observed`` mask covers neurons whose own observation differs from the grid (``None`` when every neuron is
observed in every bin).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.redaction import redact_url

Modality = Literal["spikes", "ophys"]

__all__ = ["SAME_GRID_RTOL", "UNIT_NAME", "InvalidTimes", "Modality", "Recording", "RecordingKey", "SourceInfo",
           "id_text", "path_text", "recording_key", "refuse_one_recording_twice", "refuse_recordings_read_twice",
           "same_grid", "unit_names"]

SAME_GRID_RTOL = 1e-3
"""Bin sizes this close are one grid: frame periods measured from timestamps differ by their jitter (two sessions
imaged at 15.2 Hz gave 65.781 and 65.790 ms)."""


UNIT_NAME = "unit_name"
"""The units-table column where NWB exporters (SpikeInterface, neuroconv) keep each unit's name in its spike sorting:
the Kilosort/Phy cluster id, which is not the table's row id (``neuron_id``)."""


def same_grid(first: float, second: float) -> bool:
    """Whether two bin sizes (seconds) are one time grid, within ``SAME_GRID_RTOL``."""
    return math.isclose(first, second, rel_tol=SAME_GRID_RTOL)


def path_text(path: str) -> str:
    """``path`` as text that can be written into files (UTF-8): a byte of a file name that is not UTF-8 (a Latin-1
    ``donn\xe9es.nwb``, which Python holds as a surrogate escape) is written as ``\xe9``; the path itself stays for
    opening the file."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class SourceInfo:
    """Where a recording came from: enough to find it again and to record provenance."""

    location: str
    """Local path or URL that was opened."""
    identifier: str = ""
    """The NWB file's ``identifier``."""
    dandiset: str | None = None
    version: str | None = None
    asset_id: str | None = None
    asset_path: str | None = None

    def __repr__(self) -> str:
        """The fields, with ``location`` as ``redact_url`` shows it: a notebook that displays a recording (its repr
        holds this one) keeps no credential of a signed URL in its saved output."""
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values["location"] = redact_url(self.location)
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in values.items())})"

    @property
    def is_local(self) -> bool:
        """True for a local file that can be annotated in place."""
        return self.asset_id is None and "://" not in self.location

    def label(self) -> str:
        """Short human-readable name for messages and tables (a URL without its credentials)."""
        if self.asset_id and self.dandiset:
            return f"DANDI:{self.dandiset}/{self.asset_path or self.asset_id}"
        if self.asset_id:
            return f"DANDI asset {self.asset_id}" + (f" ({self.asset_path})" if self.asset_path else "")
        return redact_url(self.location)

    @property
    def recorded_location(self) -> str:
        """Where records (reports, ``model.json``) say the recording is: a local file's absolute path, else
        ``label()`` (a DANDI asset, or a URL without its credentials)."""
        return str(Path(self.location).resolve()) if self.is_local else self.label()


@dataclass(frozen=True)
class InvalidTimes:
    """A file's ``invalid_times`` table (time NWB marks as not to be analysed), whose time the grid leaves out."""

    intervals: np.ndarray
    """(n, 2) float64 start and stop (s, the file's clock) of each row, in the table's order."""
    excluded_seconds: float
    """Observed time (s) left out of the grid for them: the bins sharing time with any interval, each counted once."""


@dataclass
class Recording:
    """One session's activity on a binned grid of observed time, plus what surrounds it."""

    source: SourceInfo
    subject_id: str
    session_id: str
    session_start_time: str
    """ISO 8601."""
    modality: Modality
    bin_size: float
    """Seconds per bin."""
    bin_times: np.ndarray
    """(n_bins,) float64: start time (s, session clock) of each kept bin; strictly increasing."""
    activity: np.ndarray
    """(n_neurons, n_bins): spike counts (uint8/uint16) or dF/F-like traces (float32)."""
    neuron_ids: np.ndarray
    """(n_neurons,) int64: ids of the rows in the source table (``units.id`` or the ROI ids)."""
    neuron_table: str
    """HDF5 path of the source table inside the NWB file, e.g. ``units`` or
    ``processing/ophys/ImageSegmentation/PlaneSegmentation``."""
    neuron_metadata: pd.DataFrame
    """One row per neuron (same order as ``neuron_ids``): every other column of the source table, plus electrode
    location where the table links to electrodes."""
    observed: np.ndarray | None = None
    """(n_neurons, n_bins) bool, or None when every neuron is observed in every kept bin."""
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    """Surrounding information on the same grid: name -> (n_bins,) or (n_bins, k) float32 (stimulus, behaviour,
    trial variables)."""
    trials: pd.DataFrame | None = None
    """The trials table (``start_time``, ``stop_time`` and its columns), if the file has one."""
    spike_times: list[np.ndarray] | None = None
    """Per-neuron spike times (s) inside the kept time, when the reader was asked to keep them."""
    activity_series: str = ""
    """HDF5 path of what the activity was read from: the ``RoiResponseSeries`` of the calcium traces, or the units
    table of the spike times (empty in recordings made elsewhere)."""
    unit_filter: str | None = None
    """The neuron filter expression the reader kept the neurons with (``--filter``); None: every neuron."""
    invalid_times: InvalidTimes | None = None
    """The file's ``invalid_times``, whose time is not in the grid; None when it has no such table."""
    during: str | None = None
    """The intervals the reader kept the time of (``--during``, e.g. ``epochs:stage=NREM``); None: all observed time."""
    text_columns: tuple[str, ...] = ()
    """``<table>/<column>`` of each text column of the file's interval tables (``epochs/stage``): no covariates."""

    def __post_init__(self) -> None:
        n_neurons, n_bins = self.activity.shape
        if self.bin_times.shape != (n_bins,):
            raise ValueError(f"bin_times has shape {self.bin_times.shape}, expected ({n_bins},)")
        if self.neuron_ids.shape != (n_neurons,):
            raise ValueError(f"neuron_ids has shape {self.neuron_ids.shape}, expected ({n_neurons},)")
        if len(self.neuron_metadata) != n_neurons:
            raise ValueError(f"neuron_metadata has {len(self.neuron_metadata)} rows, expected {n_neurons}")
        if self.observed is not None and self.observed.shape != self.activity.shape:
            raise ValueError(f"observed has shape {self.observed.shape}, expected {self.activity.shape}")
        for name, values in self.covariates.items():
            if values.shape[0] != n_bins:
                raise ValueError(f"covariate {name!r} has {values.shape[0]} bins, expected {n_bins}")

    @property
    def n_neurons(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_bins(self) -> int:
        return int(self.activity.shape[1])

    def silent(self) -> np.ndarray:
        """(n_neurons,) bool: the neurons with no activity in the time read (all-zero rows: units without spikes
        there). Their vectors say nothing about them; ``predict`` leaves them unpredicted, the embeddings mark them."""
        return np.count_nonzero(self.activity, axis=1) == 0

    def neuron_selection(self) -> dict[str, str | None]:
        """Which of the file's neurons, traces and time this recording holds, as provenance records it:
        ``unit_filter`` (None: every neuron), ``activity_series`` (the path of the calcium traces or units table
        read) and, when the time read was restricted, ``during`` (``--during``)."""
        during = {} if self.during is None else {"during": self.during}
        return {"unit_filter": self.unit_filter, "activity_series": self.activity_series or None, **during}

    @property
    def observed_seconds(self) -> float:
        """Total observed time on the grid."""
        return self.n_bins * self.bin_size

    def epoch_starts(self) -> np.ndarray:
        """Indices of bins that start a contiguous stretch of observed time (always includes 0 when non-empty)."""
        if self.n_bins == 0:
            return np.zeros(0, dtype=np.int64)
        gaps = np.flatnonzero(np.diff(self.bin_times) > 1.5 * self.bin_size) + 1
        return np.concatenate([[0], gaps]).astype(np.int64)

    def select_neurons(self, keep: np.ndarray) -> Recording:
        """A recording with only the neurons where ``keep`` (bool mask or indices) selects them; time is shared."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=np.int64)
        return replace(
            self,
            activity=self.activity[index],
            neuron_ids=self.neuron_ids[index],
            neuron_metadata=self.neuron_metadata.iloc[index].reset_index(drop=True),
            observed=None if self.observed is None else self.observed[index],
            spike_times=None if self.spike_times is None else [self.spike_times[i] for i in index],
        )

    def covariate_names(self) -> list[str]:
        """The name of each column of :meth:`covariate_matrix`: a covariate's, with ``[i]`` for each of several
        columns."""
        names = []
        for name in sorted(self.covariates):
            width = int(np.prod(np.shape(self.covariates[name])[1:]))
            names.extend([name] if width == 1 else [f"{name}[{i}]" for i in range(width)])
        return names

    def covariate_matrix(self) -> tuple[np.ndarray, list[str]]:
        """All covariates stacked as (n_bins, n_features) float32, with one name per column."""
        columns = [np.asarray(self.covariates[name], dtype=np.float32).reshape(self.n_bins, -1)
                   for name in sorted(self.covariates)]
        if not columns:
            return np.zeros((self.n_bins, 0), dtype=np.float32), []
        return np.concatenate(columns, axis=1), self.covariate_names()


def id_text(value: object) -> str:
    """A key, neuron id or unit name as text: whole floats (``3.0``, as pandas reads ids beside empty cells) without
    ``.0``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def unit_names(metadata: pd.DataFrame) -> np.ndarray | None:
    """Each neuron's ``unit_name`` (``UNIT_NAME``) in a neuron table (``Recording.neuron_metadata``, an embeddings
    frame) as text, "" where it has none; None when the table has no such column."""
    if UNIT_NAME not in metadata.columns:
        return None
    return np.array(["" if pd.isna(value) else id_text(value) for value in metadata[UNIT_NAME]], dtype=object)


@dataclass(frozen=True)
class RecordingKey:
    """One recording: its NWB identifier, animal, session and neuron table. Two files of one key hold the same neurons
    (copies of one file, a file and its sidecar, two spike sortings that kept one identifier); two spike sortings of
    a session with identifiers of their own are two recordings of it."""

    identifier: str
    subject_id: str
    session_id: str
    neuron_table: str
    """The table's HDF5 path without leading or trailing ``/``."""

    def describe(self) -> str:
        return (f"NWB identifier {self.identifier or '(none)'}, animal {self.subject_id}, session {self.session_id}, "
                f"neurons of {self.neuron_table}")


def recording_key(recording: Recording) -> RecordingKey:
    """The ``RecordingKey`` of a recording read from a file."""
    return RecordingKey(identifier=recording.source.identifier, subject_id=recording.subject_id,
                        session_id=recording.session_id or recording.source.identifier,
                        neuron_table=recording.neuron_table.strip("/"))


def refuse_one_recording_twice(held: Sequence[tuple[str, RecordingKey]]) -> None:
    """NeurPIRError naming both files when two of ``held`` (a file, as messages name it, and the recording whose
    neurons it gave) are one recording: its neurons would count twice."""
    first: dict[RecordingKey, str] = {}
    for where, key in held:
        if key in first:
            raise _held_twice(first[key], where, key)
        first[key] = where


def _held_twice(first: str, second: str, key: RecordingKey) -> NeurPIRError:
    """The error for two reads, named ``first`` and ``second``, of the recording ``key``."""
    if first == second:
        return NeurPIRError("is given twice (itself and a folder holding it?); its neurons would count twice: give it "
                            "once", source=first)
    return NeurPIRError(f"{first} and {second} hold one recording ({key.describe()}): copies of one file, a file and "
                        "its sidecar, or two spike sortings that kept one NWB identifier? Its neurons would count "
                        "twice: give only one of them, or give each sorting an NWB identifier of its own")


def refuse_recordings_read_twice(recordings: Sequence[Recording]) -> None:
    """``refuse_one_recording_twice`` for recordings read from files, named by their sources, among those that share
    a neuron: reads of one file that keep disjoint neurons (other ``--filter``s) cannot count a neuron twice."""
    by_key: dict[RecordingKey, list[Recording]] = {}
    for recording in recordings:
        by_key.setdefault(recording_key(recording), []).append(recording)
    for key, reads in by_key.items():
        for i, first in enumerate(reads):
            shared = [other for other in reads[i + 1:] if np.intersect1d(first.neuron_ids, other.neuron_ids).size]
            if shared:
                raise _held_twice(first.source.label(), shared[0].source.label(), key)

"""``read_nwb``: one NWB file (a path, or an already open ``h5py.File`` such as a remfile stream) into a ``Recording``.

The NWB layout is read with h5py directly (pynwb is too slow and reads too much for this): units or ROI responses
binned on the observed grid (``units``, ``ophys``) less the time the file marks invalid (``invalid_times``),
covariates on the same grid (``covariates``), the trials table and the session's identity. Problems with the input
raise ``NeurPIRError`` naming the file; problems the reader can work around give an ``NWBReadWarning``.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError, NoNeurons
from nwb_neurpir.io.activity import LESS_DATA, NeuronActivity
from nwb_neurpir.io.covariates import collect_covariates, read_interval_tables, text_columns
from nwb_neurpir.io.during import During, keep_during
from nwb_neurpir.io.h5_tables import decode_text, path_named, stripped_text
from nwb_neurpir.io.identity import read_identity
from nwb_neurpir.io.invalid_times import exclude_invalid_times
from nwb_neurpir.io.nwb_file import check_nwb_root, open_nwb
from nwb_neurpir.io.ophys import find_roi_series, read_ophys, roi_planes
from nwb_neurpir.io.read_warnings import warn_about
from nwb_neurpir.io.units import read_units, units_tables
from nwb_neurpir.renamed import accepts_ophys_series
from nwb_neurpir.recording import InvalidTimes, Modality, Recording, SourceInfo

__all__ = ["ModalityMismatch", "NoNeurons", "SidecarFile", "detect_modality", "read_nwb", "readable_modality",
           "sidecar_source"]

_DAMAGE_ERRORS = (OSError, KeyError, RuntimeError, ValueError, UnicodeError)
"""What h5py raises on damaged files (unreadable chunks, broken links, undecodable types and names)."""
_H5PY_ONLY_ERRORS = (TypeError, AttributeError, IndexError)
"""Also raised by h5py on damaged types, but a bug when raised elsewhere: translated only when h5py raised them."""


class SidecarFile(NeurPIRError):
    """The file is a NeurPIR sidecar (embeddings of another file), not a recording."""


class ModalityMismatch(NeurPIRError):
    """The file holds another kind of neurons than the one asked for."""

    def __init__(self, wanted: str, found: str, source: str) -> None:
        self.wanted, self.found = wanted, found
        what = "no units table with spike times, only calcium ROIs" if found == "ophys" else \
            "no ophys RoiResponseSeries, only a units table with spike times"
        super().__init__(f"{wanted} data was asked for, but the file holds {what} (use --modality {found})", source)


@accepts_ophys_series
def read_nwb(
    file: str | Path | h5py.File,
    *,
    source_info: SourceInfo | None = None,
    modality: Literal["auto", "spikes", "ophys"] = "auto",
    unit_filter: str | None = None,
    bin_size: float | None = None,
    time_range: tuple[float, float] | None = None,
    keep_spike_times: bool = False,
    series: str | None = None,
    during: str | None = None,
) -> Recording:
    """Read one NWB session into a ``Recording`` on a grid of observed time.

    ``modality`` "auto" takes units when the file has a units table, else the calcium ROI responses. ``unit_filter`` is
    a safe expression on the unit/ROI columns (e.g. ``'quality == "good" and location != "root"'``). ``bin_size``
    defaults to 10 ms for spikes and to the frame period for calcium; ``time_range`` (s) keeps the bins wholly inside
    it. ``series`` (``--series``; ``ophys_series`` until 0.2.2) names what to read, by name or path: for calcium a
    RoiResponseSeries or a PlaneSegmentation (default: the first ``DfOverF`` one, else ``Fluorescence``), for spikes
    a units table (default: ``/units``, else the first in a processing module); with "auto", a name that is no units
    table's reads calcium. ``during`` (``--during``) reads only the time inside chosen intervals of an interval table:
    ``"epochs:stage=NREM"`` (``TABLE:COLUMN=VALUE[,VALUE...]``) or ``"trials"`` (every row). An open ``h5py.File`` is
    read but not closed.
    """
    label = source_info.label() if source_info is not None else str(getattr(file, "filename", file))
    chosen = _check_options(modality, bin_size, time_range, during, label)
    try:
        with _opened(file, label) as nwb:
            return _read(nwb, label, source_info, modality, unit_filter, bin_size, time_range, keep_spike_times,
                         series, chosen)
    except (*_DAMAGE_ERRORS, *_H5PY_ONLY_ERRORS) as exc:
        if isinstance(exc, _H5PY_ONLY_ERRORS) and not _raised_in_h5py(exc):
            raise
        raise NeurPIRError(f"the file is damaged or not laid out as NWB expects ({type(exc).__name__}: {exc})",
                           source=label) from exc
    except MemoryError as exc:
        raise NeurPIRError(f"not enough memory to read the file's data ({exc}); {LESS_DATA}", source=label) from exc


def detect_modality(nwb: h5py.File) -> Modality | None:
    """"spikes" when the file has a units table with spike times, else "ophys" when it has ROI responses, else None."""
    if units_tables(nwb):
        return "spikes"
    return "ophys" if find_roi_series(nwb) else None


def readable_modality(nwb: h5py.File, modality: str, label: str) -> Modality:
    """The kind of neurons ``read_nwb`` reads from the file for ``modality`` (``auto``: what it holds), without
    reading them; a ``SidecarFile``, ``NoNeurons`` or ``ModalityMismatch`` error when there are none of that kind."""
    found = detect_modality(nwb)
    if found is None and (sidecar_of := sidecar_source(nwb)) is not None:
        raise SidecarFile(f"a NeurPIR sidecar file (the embeddings of {sidecar_of}), not a recording", source=label)
    if found is None:
        raise NoNeurons("no units table with spike times and no ophys RoiResponseSeries: nothing to read",
                        source=label)
    chosen = found if modality == "auto" else modality
    if chosen != found and not (chosen == "ophys" and find_roi_series(nwb)):
        raise ModalityMismatch(chosen, found, label)
    return chosen  # type: ignore[return-value]


def sidecar_source(nwb: h5py.File) -> str | None:
    """The source location recorded in a NeurPIR sidecar file (its ``NeurPIRSource``); ``None`` for other files."""
    processing = nwb.get("processing")
    for module in processing.values() if isinstance(processing, h5py.Group) else ():
        for child in module.values() if isinstance(module, h5py.Group) else ():
            if decode_text(child.attrs.get("neurodata_type", "")) == "NeurPIRSource":
                return decode_text(child.attrs.get("location", ""))
    return None


def _raised_in_h5py(exc: BaseException) -> bool:
    """True when the innermost frame of the exception's traceback is h5py code."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "h5py" in Path(frames[-1].filename).parts


MODALITIES = ("auto", "spikes", "ophys")
"""What a reader may be asked for: ``auto`` (units if present, else calcium ROIs), ``spikes`` or ``ophys``."""


def _check_options(modality: str, bin_size: float | None, time_range: tuple[float, float] | None,
                   during: str | None, label: str) -> During | None:
    """The ``during`` selection parsed; a one-line ``NeurPIRError`` naming the file for a bad option."""
    if modality not in MODALITIES:
        raise NeurPIRError(f"modality must be 'auto', 'spikes' or 'ophys', not {modality!r}", source=label)
    if bin_size is not None and not (np.isfinite(bin_size) and bin_size > 0):
        raise NeurPIRError(f"bin size must be a positive number of seconds, not {bin_size!r}", source=label)
    if time_range is not None and np.ndim(time_range) == 2:
        raise NeurPIRError(f"time range must be one window (start, stop), not several ({time_range!r}); to read "
                           "several periods, name them in an interval table and read during them (--during, "
                           "during='epochs:stage=NREM')", source=label)
    if time_range is not None and not (np.shape(time_range) == (2,) and np.all(np.isfinite(time_range))
                                       and time_range[0] < time_range[1]):
        raise NeurPIRError(f"time range must be (start, stop) with start < stop, not {time_range!r}", source=label)
    if during is None:
        return None
    return During.parse(during, label)


@contextmanager
def _opened(file: str | Path | h5py.File, label: str) -> Iterator[h5py.File]:
    """The file open for reading, checked to be NWB; a path is closed afterwards, an open file is left open."""
    if isinstance(file, h5py.File):
        check_nwb_root(file, label)
        yield file
        return
    with open_nwb(file, label=label) as nwb:
        yield nwb


def _read(nwb: h5py.File, label: str, source_info: SourceInfo | None, modality: str, unit_filter: str | None,
          bin_size: float | None, time_range: tuple[float, float] | None, keep_spike_times: bool,
          series: str | None, during: During | None) -> Recording:
    chosen = readable_modality(nwb, _modality_named(nwb, modality, series), label)
    if chosen == "spikes":
        activity = read_units(nwb, label, table=series, unit_filter=unit_filter, bin_size=bin_size,
                              time_range=time_range, keep_spike_times=keep_spike_times)
        if modality == "auto" and series is None:
            _warn_rois_left_out(nwb, activity.neuron_table, label)
    else:
        activity = read_ophys(nwb, label, series_path=series, unit_filter=unit_filter, bin_size=bin_size,
                              time_range=time_range)
    interval_tables = read_interval_tables(nwb, label)
    if during is not None:
        activity = keep_during(activity, during, interval_tables, label)
    activity, invalid_times = exclude_invalid_times(activity, nwb, label)
    return _recording(nwb, label, source_info, chosen, activity, unit_filter, invalid_times, interval_tables, during)


def _warn_rois_left_out(nwb: h5py.File, units: str, label: str) -> None:
    """Warn that a file read for its units (``modality`` auto) also holds calcium ROIs, which are left out."""
    planes = roi_planes(nwb, label)
    if planes:
        warn_about(label, f"holds both units and calcium ROIs; read the units of /{units.strip('/')}, the ROIs of "
                          f"{', '.join('/' + str(plane['segmentation']) for plane in planes)} are left out (read them "
                          "with --modality ophys, modality='ophys', or name their series with --series)")


def _modality_named(nwb: h5py.File, modality: str, series: str | None) -> str:
    """``modality``, except that "auto" with a ``series`` that names no units table of a file with ROI traces is
    "ophys" (the series is calcium traces, read even when the file also holds units)."""
    if modality != "auto" or series is None or not find_roi_series(nwb):
        return modality
    return "spikes" if any(path_named(path, series) for path in units_tables(nwb)) else "ophys"


def _recording(nwb: h5py.File, label: str, source_info: SourceInfo | None, modality: Modality,
               activity: NeuronActivity, unit_filter: str | None, invalid_times: InvalidTimes | None,
               interval_tables: dict[str, pd.DataFrame], during: During | None) -> Recording:
    identity = read_identity(nwb, label)
    if source_info is None:
        source_info = SourceInfo(location=str(nwb.filename), identifier=identity.identifier)
    elif not source_info.identifier:
        source_info = dataclasses.replace(source_info, identifier=identity.identifier)
    return Recording(
        source=source_info,
        subject_id=identity.subject_id,
        session_id=identity.session_id,
        session_start_time=stripped_text(nwb, "session_start_time"),
        modality=modality,
        bin_size=activity.grid.bin_size,
        bin_times=activity.grid.bin_times,
        activity=activity.activity,
        neuron_ids=activity.neuron_ids,
        neuron_table=activity.neuron_table,
        neuron_metadata=activity.neuron_metadata,
        observed=activity.observed,
        covariates=collect_covariates(nwb, activity.grid, label, interval_tables),
        trials=interval_tables.get("trials"),
        spike_times=activity.spike_times,
        activity_series=activity.series,
        unit_filter=unit_filter,
        invalid_times=invalid_times,
        during=None if during is None else str(during),
        text_columns=text_columns(interval_tables),
    )


"""Calcium imaging: a ``RoiResponseSeries`` (``DfOverF`` preferred over ``Fluorescence``, the ROI traces over
neuropil, background and deconvolved series) on a grid of valid frames.

By default each frame is one bin (the native frame period); another ``bin_size`` averages the frames whose middle
falls in each bin, bins aligned to the start of each run of consecutive frames. NaN values are unobserved: a frame
NaN for every selected ROI leaves the grid, a frame NaN for some ROIs is marked in ``observed`` (value stored as 0).
"""

from __future__ import annotations

import re

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.activity import NeuronActivity
from nwb_neurpir.io.binning import TimeGrid, bin_means, observed_between, window_grid
from nwb_neurpir.io.h5_tables import (
    FEW_VALUES,
    in_file,
    member_names,
    numeric_dataset,
    object_path,
    path_named,
    read_numeric,
    region_target,
    scalar_columns,
    scalar_text,
    stored_outside,
    table_ids,
)
from nwb_neurpir.io.read_warnings import warn_about
from nwb_neurpir.io.timeseries import neurodata_type, sample_period, sample_times, scaled
from nwb_neurpir.io.identity import clear_of_identity
from nwb_neurpir.io.unit_filter import select_rows
from nwb_neurpir.recording import same_grid

__all__ = ["find_roi_series", "read_ophys", "roi_metadata", "roi_planes"]

_CONTAINER_PREFERENCE = ("DfOverF", "Fluorescence")
_AUXILIARY = re.compile(r"neuropil|background|deconv|spike|baseline", re.IGNORECASE)
"""Series or container names of what conversions store beside the ROI traces (Suite2p's ``Neuropil`` and
``Deconvolved``)."""
_FRAME_PERIOD_SLACK = 0.02
"""How much longer than a bin a frame period may be (rigs imaging at nominally one rate) before bins would be left
without a frame: a plane read into shorter bins than its frames is refused, not spread thin over the grid."""
_NOT_METADATA = ("image_mask", "pixel_mask", "voxel_mask")
_CHUNK_VALUES = 16_000_000
_ACCEPTANCE = {"accepted": "accepted", "iscell": "accepted", "iscell0": "accepted", "isaccepted": "accepted",
               "rejected": "rejected", "isrejected": "rejected"}
"""Acceptance columns of segmentations (lower case, without punctuation): Suite2p's ``iscell`` (its flag read as
``iscell[0]``), CaImAn's ``Accepted`` and ``Rejected`` as neuroconv writes them."""


def find_roi_series(nwb: h5py.File) -> list[str]:
    """HDF5 paths of every ``RoiResponseSeries`` in a ``DfOverF`` or ``Fluorescence`` container of any processing
    module, in the order of preference: ROI traces before neuropil, background and deconvolved series (by the series'
    or the container's name), then the ``ophys`` module first, then ``DfOverF`` first."""
    processing = nwb.get("processing")
    if not isinstance(processing, h5py.Group):
        return []
    found: list[tuple[int, int, str]] = []
    for module_name in member_names(processing):
        module = processing.get(module_name)
        if not isinstance(module, h5py.Group):
            continue
        for container in (module.get(name) for name in member_names(module)):
            kind = neurodata_type(container) if isinstance(container, h5py.Group) else ""
            if kind not in _CONTAINER_PREFERENCE:
                continue
            for series in (container.get(name) for name in member_names(container)):
                if isinstance(series, h5py.Group) and "data" in series and "rois" in series:
                    path = object_path(series)
                    found.append((_is_auxiliary(path), module_name != "ophys", _CONTAINER_PREFERENCE.index(kind), path))
    return [path for *_, path in sorted(found) if path]


def roi_planes(nwb: h5py.File, source: str) -> list[dict[str, str | list[str]]]:
    """Each segmentation table (imaging plane) with ROI traces: its path as ``segmentation`` and the paths of its
    ``series`` (``find_roi_series`` order, neuropil and deconvolved series included)."""
    planes: dict[str, list[str]] = {}
    for path in find_roi_series(nwb):
        planes.setdefault(_table_of(nwb, path, source), []).append(path)
    return [{"segmentation": table, "series": series} for table, series in planes.items()]


def read_ophys(nwb: h5py.File, source: str, *, series_path: str | None = None, unit_filter: str | None = None,
               bin_size: float | None = None, time_range: tuple[float, float] | None = None) -> NeuronActivity:
    """Read one ROI response series: the first of ``find_roi_series``, or the one ``series_path`` names (its name or
    path), or the first holding the ROIs of the segmentation table it names (e.g. ``PlaneSegmentationPlane1``)."""
    series = _choose_series(nwb, source, series_path)
    data = numeric_dataset(series["data"], f"{series.name}/data", source, ndim=(1, 2), home=series)
    n_frames, n_rois = data.shape[0], (data.shape[1] if data.ndim == 2 else 1)
    table, rows = _roi_rows(series, n_frames, n_rois, source)
    roi_ids = table_ids(table, source)
    metadata = roi_metadata(table, roi_ids.size, source).iloc[rows].reset_index(drop=True)
    selected = select_rows(unit_filter, metadata, source, what="ROI", ids=roi_ids[rows])
    times = sample_times(series, source)
    if times.size != n_frames:
        raise NeurPIRError(f"{series.name} has {times.size} timestamps for {n_frames} frames", source=source)
    if not (np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)):
        raise NeurPIRError(f"{series.name} timestamps are not finite and strictly increasing", source=source)
    period = sample_period(series, times)
    if not (np.isfinite(period) and period > 0):
        raise NeurPIRError(f"{series.name} needs at least two frames or a rate to define a frame period", source=source)
    if bin_size is not None and period > bin_size * (1 + _FRAME_PERIOD_SLACK):
        raise NeurPIRError(
            f"{object_path(series)} has a frame every {period * 1000:.4g} ms ({1 / period:.4g} Hz), longer than the "
            f"{bin_size * 1000:.4g} ms bins it is read into (the model's grid, or --bin-size): most bins would hold no "
            f"frame; it can only be read in bins of {period * 1000:.4g} ms or more, and embedded by a model trained "
            "at that rate",
            source=source)
    frames = _frames_in_range(times, period, time_range)
    values = _read_frames(series, data, frames, selected)
    if bin_size is None or same_grid(bin_size, period):
        grid, activity, observed = _native_bins(times[frames], period, values)
    else:
        grid, activity, observed = _averaged_bins(times[frames], period, values, float(bin_size), time_range, source)
    if grid.n_bins == 0:
        where = "" if time_range is None else \
            f" in the time range {time_range}; {observed_between(times[0], times[-1] + period)}"
        raise NeurPIRError(f"{series.name} has no valid frame{where}", source=source)
    _warn_rejected(metadata.iloc[selected], object_path(table), source)
    return NeuronActivity(
        grid=grid, activity=activity, neuron_ids=roi_ids[rows[selected]], neuron_table=object_path(table),
        neuron_metadata=metadata.iloc[selected].reset_index(drop=True),
        observed=None if observed.all() else observed, series=object_path(series))


def _choose_series(nwb: h5py.File, source: str, series_path: str | None) -> h5py.Group:
    candidates = find_roi_series(nwb)
    if series_path is None:
        if not candidates:
            raise NeurPIRError("no RoiResponseSeries in a DfOverF or Fluorescence container", source=source)
        _warn_unread_traces(nwb, candidates, source)
        return in_file(nwb, candidates[0], "ROI response series", source)
    matches = [path for path in candidates if path_named(path, series_path)]
    if not matches:  # a segmentation table: its ROI traces
        tables = {path: _table_of(nwb, path, source) for path in candidates}
        matches = [path for path, table in tables.items() if path_named(table, series_path)][:1]
    if len(matches) != 1:
        raise NeurPIRError(f"ophys series {series_path!r} {'is ambiguous' if matches else 'not found'}; available: "
                           f"{', '.join(candidates) or 'none'}", source=source)
    return in_file(nwb, matches[0], "ROI response series", source)


def _is_auxiliary(series_path: str) -> bool:
    """Whether a series is one conversions store beside the ROI traces (neuropil, background, deconvolved), by its
    name or its container's (a ``Deconvolved`` container holding ``RoiResponseSeriesPlane0``)."""
    return any(_AUXILIARY.search(name) for name in series_path.split("/")[-2:])


def _table_of(nwb: h5py.File, series_path: str, source: str) -> str:
    """The path of the segmentation table a series' ``rois`` point into ('' without a region)."""
    region = nwb[series_path].get("rois")
    return object_path(region_target(region, source)) if isinstance(region, h5py.Dataset) else ""


def _warn_unread_traces(nwb: h5py.File, candidates: list[str], source: str) -> None:
    """Warn when ROI traces left out of the default read could have been read instead: those of other segmentation
    tables (other imaging planes), and other traces of the chosen ROIs of the same kind (another channel's
    ``DfOverF``, as ``DfOverFGreen`` beside ``DfOverFRed``)."""
    chosen = _table_of(nwb, candidates[0], source)
    read = f"read the ROIs of {chosen} from {candidates[0]}"
    others = [path for path in candidates[1:] if not _is_auxiliary(path) and _table_of(nwb, path, source) != chosen]
    if others:
        warn_about(source, f"{read}; the ROI traces of other segmentations are not read: {', '.join(others)} "
                           "(choose one with --series, series=...)")
    kind = _container_kind(nwb, candidates[0])
    channels = [path for path in candidates[1:] if not _is_auxiliary(path) and _table_of(nwb, path, source) == chosen
                and _container_kind(nwb, path) == kind]
    if channels:
        warn_about(source, f"{read}; the other {kind[1]} traces of these ROIs (another channel?) are not read: "
                           f"{', '.join(channels)} (choose one with --series, series=...)")


def _container_kind(nwb: h5py.File, series_path: str) -> tuple[str, str]:
    """The processing module and the container type (``DfOverF``, ``Fluorescence``) of a series."""
    module, container = series_path.split("/")[1:3]
    return module, neurodata_type(nwb[f"processing/{module}/{container}"])


def _roi_rows(series: h5py.Group, n_frames: int, n_rois: int, source: str) -> tuple[h5py.Group, np.ndarray]:
    region = series["rois"]
    rows = read_numeric(region, f"{series.name}/rois", source, home=series).astype(np.int64)
    table = region_target(region, source)
    n_table = table_ids(table, source).size
    if rows.shape != (n_rois,):
        transposed = rows.size == n_frames != n_rois
        raise NeurPIRError(f"{series.name}/rois holds {rows.size} ROIs but its data has {n_rois} columns" + (
            f" and {n_frames} rows: the data looks stored as (ROIs, frames), NWB stores (frames, ROIs)"
            if transposed else ""), source=source)
    if np.any((rows < 0) | (rows >= n_table)):
        raise NeurPIRError(f"{series.name}/rois points outside the {n_table} rows of {table.name}", source=source)
    return table, rows


def _warn_rejected(metadata: pd.DataFrame, table: str, source: str) -> None:
    """Warn when a segmentation's acceptance column (Suite2p's ``iscell``, CaImAn's ``Accepted``/``Rejected``) says
    some of the ROIs read were rejected as cells, naming the filter that keeps the accepted ones."""
    for column, rejected_when in _acceptance_columns(metadata):
        values = metadata[column].to_numpy()
        if values.dtype.kind not in "biuf" or not np.isin(values, (0, 1)).all():
            continue
        rejected = int(np.count_nonzero(values == rejected_when))
        if rejected:
            warn_about(source, f"{rejected} of {values.size} ROIs read from {table} were rejected as cells by the "
                               f"segmentation ({column} == {rejected_when}) and are read as neurons all the same; keep "
                               f"the accepted ones with --filter '{column} == {1 - rejected_when}' "
                               f"(unit_filter=...)")
        return


def _acceptance_columns(metadata: pd.DataFrame) -> list[tuple[str, int]]:
    """The columns saying which ROIs are cells, each with its value for a rejected ROI: the table's first accepting
    column, then its first rejecting one."""
    found: dict[str, str] = {}
    for column in map(str, metadata.columns):
        kind = _ACCEPTANCE.get(re.sub(r"[^a-z0-9]", "", column.lower()))
        if kind is not None:
            found.setdefault(kind, column)
    return [(found[key], rejected_when) for key, rejected_when in (("accepted", 0), ("rejected", 1)) if key in found]


def roi_metadata(table: h5py.Group, n_rows: int, source: str) -> pd.DataFrame:
    """The segmentation table's scalar columns plus the imaging plane's ``location`` and ``indicator``; a column
    named like an identity column (``subject_id``...) is read as ``unit_<name>`` (``clear_of_identity``)."""
    metadata = clear_of_identity(
        scalar_columns(table, n_rows, source, exclude=_NOT_METADATA, split_up_to=FEW_VALUES), source)
    plane = table.get("imaging_plane")
    if isinstance(plane, h5py.Group) and not stored_outside(plane, table):
        for name in ("location", "indicator"):
            if name not in metadata and (text := scalar_text(plane, name)) is not None:
                metadata[name] = text
    return metadata


def _frames_in_range(times: np.ndarray, period: float, time_range: tuple[float, float] | None) -> slice:
    if time_range is None:
        return slice(0, times.size)
    start, stop = time_range
    return slice(int(np.searchsorted(times, start, side="left")),
                 int(np.searchsorted(times, stop - period * (1 - 1e-6), side="right")))


def _read_frames(series: h5py.Group, data: h5py.Dataset, frames: slice, selected: np.ndarray) -> np.ndarray:
    """(n_frames, n_selected) float32 of the chosen frames, read in chunks of rows, in the series' unit."""
    n_frames = frames.stop - frames.start
    values = np.empty((max(n_frames, 0), selected.size), dtype=np.float32)
    row_step = max(1, _CHUNK_VALUES // max(1, data.shape[1] if data.ndim == 2 else 1))
    for first in range(0, n_frames, row_step):
        last = min(n_frames, first + row_step)
        chunk = data[frames.start + first:frames.start + last]
        chunk = chunk.reshape(chunk.shape[0], -1)[:, selected]
        values[first:last] = scaled(series, chunk.astype(np.float32, copy=False))
    return values


def _native_bins(times: np.ndarray, period: float,
                 values: np.ndarray) -> tuple[TimeGrid, np.ndarray, np.ndarray]:
    finite = np.isfinite(values)
    keep = finite.any(axis=1)
    activity = np.where(finite[keep], values[keep], np.float32(0)).T.copy()
    return TimeGrid(times[keep], period), activity, finite[keep].T.copy()


def _averaged_bins(times: np.ndarray, period: float, values: np.ndarray, bin_size: float,
                   time_range: tuple[float, float] | None, source: str) -> tuple[TimeGrid, np.ndarray, np.ndarray]:
    breaks = np.flatnonzero(np.diff(times) > 1.5 * period) + 1
    run_starts = np.concatenate([[0], breaks]) if times.size else np.zeros(0, dtype=np.int64)
    run_stops = np.concatenate([breaks, [times.size]]) if times.size else np.zeros(0, dtype=np.int64)
    windows = np.column_stack([times[run_starts], times[run_stops - 1] + period]) if times.size else np.zeros((0, 2))
    grid = window_grid(windows, bin_size, time_range, source=source)
    means, counts = bin_means(grid.locate(times + 0.5 * period), values, grid.n_bins)
    observed = counts > 0
    keep = observed.any(axis=1)
    activity = np.where(observed[keep], means[keep], 0.0).astype(np.float32).T.copy()
    return grid.restrict(keep), activity, observed[keep].T.copy()

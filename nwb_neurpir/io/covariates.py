"""What surrounds the activity, on the activity's grid: trials and other intervals, behaviour and stimulus series.

Every covariate is float32 with no NaN, shape (n_bins,) or (n_bins, k), named by where it came from:

- ``<table>/<column>`` for each numeric column of a ``TimeIntervals`` table in ``/intervals``
  (``trials/contrast_left``), as a step function over each interval (value of the interval holding the bin's centre,
  0 outside any interval), plus ``trials/in_trial`` (``<table>/in_interval`` for other tables) and
  ``<table>/time_since_start`` (s from the interval's start to the bin centre, 0 outside). Columns named ``*_time`` (absolute event times) are left out.
- ``behavior/<path>`` for each numeric TimeSeries in a ``behavior`` processing module or a behavioural container in
  ``/acquisition`` (Position, BehavioralTimeSeries, PupilTracking, ...), and ``stimulus/<path>`` for
  ``/stimulus/presentation``: samples averaged per bin, bins without a sample linearly interpolated (edge values held).
  ``<path>`` is the series' path under its module, ``/acquisition`` or ``/stimulus/presentation``
  (``behavior/Position/position``, ``behavior/EyeTracking/position``; a series directly in the module is
  ``behavior/<series>``), so a series has the same name whatever else the file holds.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.binning import TimeGrid, bin_means
from nwb_neurpir.io.h5_tables import member_names, object_path, scalar_columns, table_ids
from nwb_neurpir.io.read_warnings import warn_about
from nwb_neurpir.io.timeseries import iter_timeseries, neurodata_type, sample_times, scaled

__all__ = ["collect_covariates", "interval_covariates", "read_interval_table", "read_interval_tables", "series_on_grid"]

_MAX_SERIES_COLUMNS = 32
_BEHAVIOUR_CONTAINERS = {"Position", "BehavioralTimeSeries", "PupilTracking", "EyeTracking", "CompassDirection",
                         "SpatialSeries"}


def collect_covariates(nwb: h5py.File, grid: TimeGrid, source: str,
                       interval_tables: dict[str, pd.DataFrame] | None = None) -> dict[str, np.ndarray]:
    """All covariates the file offers, resampled onto ``grid`` (pass ``interval_tables`` if already read)."""
    covariates: dict[str, np.ndarray] = {}
    tables = read_interval_tables(nwb, source) if interval_tables is None else interval_tables
    for name, table in tables.items():
        covariates.update(interval_covariates(table, name, grid, source))
    for prefix, parent, series in _behaviour_series(nwb) + _stimulus_series(nwb):
        values = series_on_grid(series, grid, source)
        if values is not None:
            covariates[_unique_name(covariates, prefix, parent, series)] = values
    return covariates


def read_interval_tables(nwb: h5py.File, source: str) -> dict[str, pd.DataFrame]:
    """Every ``TimeIntervals`` table in ``/intervals`` (trials, epochs, task tables), by name."""
    intervals = nwb.get("intervals")
    if not isinstance(intervals, h5py.Group):
        return {}
    tables = {}
    for name in member_names(intervals):
        group = intervals.get(name)
        table = read_interval_table(group, source) if isinstance(group, h5py.Group) else None
        if table is not None:
            tables[name] = table
    return tables


def read_interval_table(table: h5py.Group, source: str) -> pd.DataFrame | None:
    """A ``TimeIntervals`` table as a DataFrame (index = ids; ``start_time``, ``stop_time`` and scalar columns), or
    None when ``table`` has no ``start_time``/``stop_time``."""
    if not all(isinstance(table.get(name), h5py.Dataset) for name in ("id", "start_time", "stop_time")):
        return None
    ids = table_ids(table, source)
    frame = scalar_columns(table, ids.size)
    if "start_time" not in frame or "stop_time" not in frame:
        warn_about(source, f"{table.name} has start/stop times that are not one number per row; it is skipped")
        return None
    frame.index = pd.Index(ids, name="id")
    return frame


def interval_covariates(table: pd.DataFrame, name: str, grid: TimeGrid, source: str) -> dict[str, np.ndarray]:
    """Step functions of ``table``'s numeric columns over its intervals, with the in-interval indicator and time
    since the interval's start (see module docstring)."""
    starts = pd.to_numeric(table["start_time"], errors="coerce").to_numpy(dtype=np.float64)
    stops = pd.to_numeric(table["stop_time"], errors="coerce").to_numpy(dtype=np.float64)
    valid = np.isfinite(starts) & np.isfinite(stops) & (stops >= starts)
    if not valid.all():
        warn_about(source, f"{int((~valid).sum())} rows of intervals/{name} have a negative duration or non-finite "
                           "times; they are ignored")
    order = np.flatnonzero(valid)[np.argsort(starts[valid], kind="stable")]
    centers = grid.centers
    index = np.searchsorted(starts[order], centers, side="right") - 1
    inside = index >= 0
    inside[inside] = centers[inside] < stops[order][index[inside]]
    row = order[np.maximum(index, 0)] if order.size else np.zeros(grid.n_bins, dtype=np.int64)
    covariates = {
        f"{name}/{'in_trial' if name == 'trials' else 'in_interval'}": inside.astype(np.float32),
        f"{name}/time_since_start": _finite_float32(np.where(inside, centers - starts[row] if order.size else 0.0,
                                                             0.0)),
    }
    for column in table.columns:
        values = table[column].to_numpy()
        if column in ("start_time", "stop_time") or column.endswith("_time") or values.dtype.kind not in "biuf":
            continue
        stepped = np.where(inside, values.astype(np.float64)[row] if order.size else 0.0, 0.0)
        covariates[f"{name}/{column}"] = _finite_float32(np.where(np.isfinite(stepped), stepped, 0.0))
    return covariates


def series_on_grid(series: h5py.Group, grid: TimeGrid, source: str) -> np.ndarray | None:
    """A numeric TimeSeries averaged into ``grid``'s bins (empty bins interpolated), or None when it has no usable
    numeric data (images, text, too many columns, bad timing: the last two with a warning)."""
    data = series.get("data")
    if not isinstance(data, h5py.Dataset) or data.dtype.kind not in "biuf" or data.ndim not in (1, 2):
        return None
    if data.ndim == 2 and data.shape[1] > _MAX_SERIES_COLUMNS:
        warn_about(source, f"{series.name} has {data.shape[1]} columns (more than {_MAX_SERIES_COLUMNS}); not used "
                           "as a covariate")
        return None
    try:
        times = sample_times(series, source)
    except NeurPIRError as exc:
        warn_about(source, f"{exc.message}; not used as a covariate")
        return None
    if times.size != data.shape[0] or times.size == 0 or not np.all(np.diff(times) >= 0):
        problem = (f"has {times.size} timestamps for {data.shape[0]} samples" if times.size != data.shape[0]
                   else "has no samples" if times.size == 0 else "has timestamps that are not sorted or finite")
        warn_about(source, f"{series.name} {problem}; not used as a covariate")
        return None
    first = max(0, int(np.searchsorted(times, grid.bin_times[0], side="left")) - 1)
    last = min(times.size, int(np.searchsorted(times, grid.bin_times[-1] + grid.bin_size, side="right")) + 1)
    sample_t = times[first:last]
    values = scaled(series, data[first:last].astype(np.float64, copy=False)).reshape(sample_t.size, -1)
    means, _ = bin_means(grid.locate(sample_t), values, grid.n_bins)
    for column in range(means.shape[1]):
        empty = np.isnan(means[:, column])
        finite = np.isfinite(values[:, column])
        if empty.any():
            means[empty, column] = (np.interp(grid.centers[empty], sample_t[finite], values[finite, column])
                                    if finite.any() else 0.0)
    return _finite_float32(means[:, 0] if data.ndim == 1 else means)


def _finite_float32(values: np.ndarray) -> np.ndarray:
    """float32 without NaN or inf: values beyond the float32 range are clipped to it, NaN becomes 0."""
    limit = np.finfo(np.float32).max
    return np.nan_to_num(np.clip(values, -limit, limit), nan=0.0).astype(np.float32)


def _behaviour_series(nwb: h5py.File) -> list[tuple[str, h5py.Group, h5py.Group]]:
    """(prefix, the group the series is named under, series) of every behaviour series."""
    found: list[tuple[str, h5py.Group, h5py.Group]] = []
    processing = nwb.get("processing")
    if isinstance(processing, h5py.Group):
        for module_name in member_names(processing):
            module = processing.get(module_name)
            if isinstance(module, h5py.Group) and module_name.lower().startswith("behavio"):
                found.extend(("behavior", module, series) for series in iter_timeseries(module))
    acquisition = nwb.get("acquisition")
    if isinstance(acquisition, h5py.Group):
        for name in member_names(acquisition):
            container = acquisition.get(name)
            if isinstance(container, h5py.Group) and neurodata_type(container) in _BEHAVIOUR_CONTAINERS:
                found.extend(("behavior", acquisition, series) for series in iter_timeseries(container))
    return found


def _stimulus_series(nwb: h5py.File) -> list[tuple[str, h5py.Group, h5py.Group]]:
    """(prefix, the group the series is named under, series) of every stimulus series."""
    presentation = nwb.get("stimulus/presentation")
    if not isinstance(presentation, h5py.Group):
        return []
    return [("stimulus", presentation, series) for series in iter_timeseries(presentation)]


def _unique_name(taken: dict[str, np.ndarray], prefix: str, parent: h5py.Group, series: h5py.Group) -> str:
    """``prefix/<series' path under parent>``; the whole path in the file only when two series share that name
    (two behaviour modules holding the same container and series)."""
    path, under = object_path(series), object_path(parent) + "/"
    name = f"{prefix}/{path[len(under):] if path.startswith(under) else path}"
    return name if name not in taken else f"{prefix}/{path}"

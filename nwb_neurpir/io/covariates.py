"""What surrounds the activity, on the activity's grid: trials and other intervals, behaviour and stimulus series.

Every covariate is float32 with no NaN, shape (n_bins,) or (n_bins, k), named by where it came from:

- ``<table>/<column>`` for each numeric column of a ``TimeIntervals`` table in ``/intervals`` but ``invalid_times``
  (time left out of the grid, not context), e.g. ``trials/contrast_left``, ``epochs/stage_code``, as a step function
  over each interval (value of the interval holding the bin's centre; an interval holding no bin centre, such as an
  instantaneous one with start == stop, holds the bin it starts in; 0 outside any interval), plus ``trials/in_trial``
  (``<table>/in_interval`` for other tables) and ``<table>/time_since_start`` (s from the interval's start to the bin
  centre, 0 outside). A NaN value reads as 0, so a column with NaN values also gives ``<table>/<column>_missing``, 1
  where the interval's value is NaN (a blank screen's orientation is then not a 0 deg grating). Columns named
  ``*_time`` (absolute event times) are left out.
- ``behavior/<path>`` for each numeric TimeSeries in a ``behavior`` processing module or a behavioural container in
  ``/acquisition`` (Position, BehavioralTimeSeries, PupilTracking, ...), and ``stimulus/<path>`` for
  ``/stimulus/presentation``. ``<path>`` is the series' path under its module, ``/acquisition`` or
  ``/stimulus/presentation`` (``behavior/Position/position``, ``behavior/EyeTracking/position``; a series directly in
  the module is ``behavior/<series>``), so a series has the same name whatever else the file holds. Each is resampled
  by what it records:

  - an ``IntervalSeries`` (``BehavioralEpochs``; +1 marks a start, -1 a stop): 1 in bins whose centre lies in an
    interval or where an interval starts, else 0;
  - a series of a ``BehavioralEvents`` container: the number of events (samples) per bin, whatever their values;
  - an ``IndexSeries`` or integer data (indices, states): zero-order hold, the last sample at or before the bin's
    centre (the first sample before any);
  - any other (continuous) series: samples averaged per bin, bins without a sample linearly interpolated (edge values
    held).

  A series with no sample within the recording's time span (another clock) is left out with a warning.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.binning import TimeGrid, bin_means
from nwb_neurpir.io.h5_tables import OUTSIDE, member_names, object_path, scalar_columns, stored_outside, table_ids
from nwb_neurpir.io.invalid_times import INVALID_TIMES
from nwb_neurpir.io.read_warnings import warn_about
from nwb_neurpir.io.timeseries import iter_timeseries, neurodata_type, sample_times, scaled

__all__ = ["collect_covariates", "interval_covariates", "read_interval_table", "read_interval_tables", "series_on_grid",
           "text_columns"]

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
        if stored_outside(series, nwb):
            warn_about(source, f"a series in {object_path(parent)} {OUTSIDE}; not used as a covariate")
            continue
        values = series_on_grid(series, grid, source)
        if values is not None:
            covariates[_unique_name(covariates, prefix, parent, series)] = values
    return covariates


def read_interval_tables(nwb: h5py.File, source: str) -> dict[str, pd.DataFrame]:
    """Every ``TimeIntervals`` table in ``/intervals`` (trials, epochs, task tables), by name, but ``invalid_times``
    (read by ``nwb_neurpir.io.invalid_times``)."""
    intervals = nwb.get("intervals")
    if not isinstance(intervals, h5py.Group):
        return {}
    tables = {}
    for name in member_names(intervals):
        if name == INVALID_TIMES:
            continue
        group = intervals.get(name)
        if isinstance(group, h5py.Group) and stored_outside(group, nwb):
            warn_about(source, f"intervals/{name} {OUTSIDE}; left out")
            continue
        table = read_interval_table(group, source) if isinstance(group, h5py.Group) else None
        if table is not None:
            tables[name] = table
    return tables


def text_columns(tables: dict[str, pd.DataFrame]) -> tuple[str, ...]:
    """``<table>/<column>`` for each text column of the interval ``tables`` (``epochs/stage``), which give no
    covariate, sorted: messages name them when they are asked for as covariates."""
    return tuple(sorted(f"{name}/{column}" for name, table in tables.items() for column, values in table.items()
                        if values.dtype.kind not in "biuf"))


def read_interval_table(table: h5py.Group, source: str) -> pd.DataFrame | None:
    """A ``TimeIntervals`` table as a DataFrame (index = ids; ``start_time``, ``stop_time`` and scalar columns), or
    None when ``table`` has no ``start_time``/``stop_time``."""
    if not all(isinstance(table.get(name), h5py.Dataset) for name in ("id", "start_time", "stop_time")):
        return None
    ids = table_ids(table, source)
    frame = scalar_columns(table, ids.size, source)
    if "start_time" not in frame or "stop_time" not in frame:
        warn_about(source, f"{table.name} has start/stop times that are not one number per row; it is skipped")
        return None
    frame.index = pd.Index(ids, name="id")
    return frame


def interval_covariates(table: pd.DataFrame, name: str, grid: TimeGrid, source: str) -> dict[str, np.ndarray]:
    """Step functions of ``table``'s numeric columns over its intervals, with the in-interval indicator, the time
    since the interval's start and, for a column with NaN values, ``<column>_missing`` (see module docstring)."""
    starts = pd.to_numeric(table["start_time"], errors="coerce").to_numpy(dtype=np.float64)
    stops = pd.to_numeric(table["stop_time"], errors="coerce").to_numpy(dtype=np.float64)
    valid = np.isfinite(starts) & np.isfinite(stops) & (stops >= starts)
    if not valid.all():
        warn_about(source, f"{int((~valid).sum())} rows of intervals/{name} have a negative duration or non-finite "
                           "times; they are ignored")
    inside, row = _row_per_bin(starts, stops, valid, grid)
    covariates = {
        f"{name}/{'in_trial' if name == 'trials' else 'in_interval'}": inside.astype(np.float32),
        f"{name}/time_since_start": _finite_float32(np.where(inside, np.maximum(grid.centers - starts[row], 0.0),
                                                             0.0)),
    }
    for column in table.columns:
        values = table[column].to_numpy()
        if column in ("start_time", "stop_time") or column.endswith("_time") or values.dtype.kind not in "biuf":
            continue
        values = values.astype(np.float64)
        missing = inside & np.isnan(values[row])
        covariates[f"{name}/{column}"] = _finite_float32(np.where(inside & ~missing, values[row], 0.0))
        if np.isnan(values[valid]).any():
            covariates[f"{name}/{column}_missing"] = missing.astype(np.float32)
    return covariates


def _row_per_bin(starts: np.ndarray, stops: np.ndarray, valid: np.ndarray,
                 grid: TimeGrid) -> tuple[np.ndarray, np.ndarray]:
    """For each bin, whether a ``valid`` interval holds it and which row (0 where none): the latest-starting row whose
    ``[start, stop)`` holds the bin's centre, else a row that holds no bin centre (zero duration, shorter than a bin)
    and starts in the bin."""
    order = np.flatnonzero(valid)[np.argsort(starts[valid], kind="stable")]
    if order.size == 0:
        return np.zeros(grid.n_bins, dtype=bool), np.zeros(grid.n_bins, dtype=np.int64)
    centers = grid.centers
    index = np.searchsorted(starts[order], centers, side="right") - 1
    inside = index >= 0
    inside[inside] = centers[inside] < stops[order][index[inside]]
    row = np.where(inside, order[np.maximum(index, 0)], 0)
    unseen = np.setdiff1d(order, row[inside])
    start_bins = grid.locate(starts[unseen])
    free = start_bins >= 0
    free[free] = ~inside[start_bins[free]]
    inside[start_bins[free]] = True
    row[start_bins[free]] = unseen[free]
    return inside, row


def series_on_grid(series: h5py.Group, grid: TimeGrid, source: str) -> np.ndarray | None:
    """A numeric TimeSeries on ``grid``'s bins, resampled by what it records (see the module docstring), or None when
    it has no usable numeric data (images, text; with a warning: too many columns, bad timing, no sample within the
    recording's time span)."""
    data = series.get("data")
    if not isinstance(data, h5py.Dataset) or data.dtype.kind not in "biuf" or data.ndim not in (1, 2):
        return None
    if stored_outside(data, series):
        warn_about(source, f"{object_path(series)}/data {OUTSIDE}; not used as a covariate")
        return None
    if data.ndim == 2 and data.shape[1] > _MAX_SERIES_COLUMNS:
        warn_about(source, f"{series.name} has {data.shape[1]} columns (more than {_MAX_SERIES_COLUMNS}); not used "
                           "as a covariate")
        return None
    times = _usable_times(series, data.shape[0], source)
    if times is None or _outside_recording(series, times, grid, source):
        return None
    first = max(0, int(np.searchsorted(times, grid.bin_times[0], side="left")) - 1)
    last = min(times.size, int(np.searchsorted(times, grid.bin_times[-1] + grid.bin_size, side="right")) + 1)
    sample_t = times[first:last]
    values = scaled(series, data[first:last].astype(np.float64, copy=False)).reshape(sample_t.size, -1)
    resampled = _RESAMPLERS[_sampling(series, data)](sample_t, values, grid)
    return _finite_float32(resampled[:, 0] if data.ndim == 1 else resampled)


def _usable_times(series: h5py.Group, n_samples: int, source: str) -> np.ndarray | None:
    """The series' sample times, or None (with a warning) when they cannot place its ``n_samples`` samples: unreadable,
    another count, none, or not sorted and finite."""
    try:
        times = sample_times(series, source)
    except NeurPIRError as exc:
        warn_about(source, f"{exc.message}; not used as a covariate")
        return None
    if times.size != n_samples or times.size == 0 or not np.all(np.diff(times) >= 0):
        problem = (f"has {times.size} timestamps for {n_samples} samples" if times.size != n_samples
                   else "has no samples" if times.size == 0 else "has timestamps that are not sorted or finite")
        warn_about(source, f"{series.name} {problem}; not used as a covariate")
        return None
    return times


def _outside_recording(series: h5py.Group, times: np.ndarray, grid: TimeGrid, source: str) -> bool:
    """True (with a warning naming both spans) when no sample falls within the recording's time span: the series is
    on another clock, and holding its edge value would make it a constant."""
    start, stop = float(grid.bin_times[0]), float(grid.bin_times[-1] + grid.bin_size)
    if times[-1] >= start and times[0] < stop:
        return False
    warn_about(source, f"{series.name} has samples from {times[0]:.6g} s to {times[-1]:.6g} s, all outside the "
                       f"recording's {start:.6g} s to {stop:.6g} s (another clock?); not used as a covariate")
    return True


def _sampling(series: h5py.Group, data: h5py.Dataset) -> str:
    """How the series records its variable: ``intervals`` (an IntervalSeries' +start / -stop marks), ``events`` (a
    series of a BehavioralEvents container), ``held`` (an IndexSeries or integer data: a value that holds until the
    next sample) or ``continuous``."""
    kind = neurodata_type(series)
    if kind == "IntervalSeries" and data.ndim == 1:
        return "intervals"
    if isinstance(series.parent, h5py.Group) and neurodata_type(series.parent) == "BehavioralEvents":
        return "events"
    return "held" if kind == "IndexSeries" or data.dtype.kind in "biu" else "continuous"


def _bin_means(times: np.ndarray, values: np.ndarray, grid: TimeGrid) -> np.ndarray:
    """(n_bins, k): samples averaged per bin, bins without a finite sample interpolated (edge values held)."""
    means, _ = bin_means(grid.locate(times), values, grid.n_bins)
    for column in range(means.shape[1]):
        empty = np.isnan(means[:, column])
        finite = np.isfinite(values[:, column])
        if empty.any():
            means[empty, column] = (np.interp(grid.centers[empty], times[finite], values[finite, column])
                                    if finite.any() else 0.0)
    return means


def _held_values(times: np.ndarray, values: np.ndarray, grid: TimeGrid) -> np.ndarray:
    """(n_bins, k): zero-order hold, each bin the last sample at or before its centre (the first sample before any)."""
    index = np.searchsorted(times, grid.centers, side="right") - 1
    return values[np.maximum(index, 0)]


def _event_counts(times: np.ndarray, values: np.ndarray, grid: TimeGrid) -> np.ndarray:
    """(n_bins, 1): how many samples (events) fall in each bin, whatever their values."""
    bins = grid.locate(times)
    return np.bincount(bins[bins >= 0], minlength=grid.n_bins).astype(np.float64)[:, None]


def _interval_indicator(times: np.ndarray, values: np.ndarray, grid: TimeGrid) -> np.ndarray:
    """(n_bins, 1): 1 where the bin's centre lies in an interval (the last mark at or before it is positive, a start)
    or an interval starts within the bin (so intervals shorter than a bin still show), else 0."""
    opening = values[:, 0] > 0
    inside = _held_values(np.append(-np.inf, times), np.append(False, opening)[:, None], grid)[:, 0]
    starts = grid.locate(times[opening])
    inside[starts[starts >= 0]] = True
    return inside.astype(np.float64)[:, None]


_RESAMPLERS = {"continuous": _bin_means, "held": _held_values, "events": _event_counts,
               "intervals": _interval_indicator}
"""How each kind of series (``_sampling``) comes onto the grid: (times, values (n, k), grid) -> (n_bins, k')."""


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

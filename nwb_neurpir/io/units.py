"""Spike-sorted units (``/units``, or another units table chosen by name) binned into counts on a grid of observed
time, straight from h5py.

Only the selected units' slices of the ragged ``spike_times`` are read, block by block, so a file larger than memory
works for the units it needs. ``obs_intervals`` are honoured: time outside a unit's windows is unobserved, not
silence. When every selected unit has the same windows the grid is those windows and ``observed`` is None; otherwise
the grid is their union and ``observed`` marks, per unit, the bins inside its own windows. Without them, the time
the spikes span is observed, except where no unit fires for so long that it must be a gap between recording segments
(exports of multi-segment recordings often write no ``obs_intervals``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError, NoSpikes
from nwb_neurpir.io.activity import LESS_DATA, NeuronActivity
from nwb_neurpir.io.binning import (TimeGrid, bins_inside_windows, count_events, merge_windows, observed_between,
                                   window_grid)
from nwb_neurpir.io.h5_tables import (
    FEW_VALUES,
    in_file,
    member_names,
    numeric_dataset,
    object_path,
    path_named,
    ragged_bounds,
    scalar_columns,
    table_ids,
)
from nwb_neurpir.io.read_warnings import warn_about
from nwb_neurpir.io.timeseries import neurodata_type
from nwb_neurpir.io.identity import clear_of_identity
from nwb_neurpir.io.unit_electrodes import electrode_columns
from nwb_neurpir.io.unit_filter import select_rows

__all__ = ["DEFAULT_SPIKE_BIN_SIZE", "SILENT_GAP_SECONDS", "read_units", "unit_metadata", "units_tables"]

DEFAULT_SPIKE_BIN_SIZE = 0.010

_MAX_BLOCK_SPIKES = 8_000_000
_MAX_BLOCK_CELLS = 16_000_000
_COUNT_TYPES = (np.uint8, np.uint16, np.uint32)
_MAX_ACTIVITY_CELLS = 4_000_000_000
"""Refuse to bin more units x bins than this (4 GB of counts, more once normalised): a time unit that is not seconds
or a far too small bin size would otherwise exhaust memory."""
SILENT_GAP_SECONDS = 60.0
"""Without ``obs_intervals``, a stretch this long (or 20 mean intervals between the population's spikes, if longer)
in which no selected unit fires is read as a gap between recording segments, not as silence."""
_NOT_METADATA = ("spike_times", "obs_intervals", "electrodes", "waveforms")


def read_units(nwb: h5py.File, source: str, *, table: str | None = None, unit_filter: str | None = None,
               bin_size: float | None = None, time_range: tuple[float, float] | None = None,
               keep_spike_times: bool = False) -> NeuronActivity:
    """Bin the selected units' spikes (``bin_size`` default 10 ms) on the observed grid; ``table`` names the Units
    table by name or path (``_choose_units``)."""
    units = _choose_units(nwb, source, table)
    ids = table_ids(units, source)
    if "spike_times" not in units or "spike_times_index" not in units:
        raise NeurPIRError("the units table has no ragged spike_times column", source=source)
    spike_data = units["spike_times"]
    numeric_dataset(spike_data, f"{units.name}/spike_times", source, home=units)
    if spike_data.dtype.kind in "iu":
        raise NeurPIRError(f"{units.name}/spike_times holds integers (sample indices?); NWB stores spike times as "
                           "seconds in floating point", source=source)
    bounds = ragged_bounds(units, "spike_times", ids.size, source)
    metadata = unit_metadata(units, ids.size, source)
    selected = select_rows(unit_filter, metadata, source, ids=ids)
    n_spikes = bounds[selected + 1] - bounds[selected]
    if selected.size and not n_spikes.any():
        raise NoSpikes(f"{_all_units(selected.size, unit_filter is not None)} no spikes (a failed spike sorting?)",
                       source=source)
    bin_size = DEFAULT_SPIKE_BIN_SIZE if bin_size is None else float(bin_size)
    windows = _UnitWindows.read(units, selected, source)
    problems = _SpikeProblems()
    grid = _make_grid(windows, spike_data, bounds, selected, bin_size, time_range, source)
    if grid.n_bins * selected.size > _MAX_ACTIVITY_CELLS:
        raise NeurPIRError(f"{selected.size} units x {grid.n_bins:.3g} bins ({grid.n_bins * bin_size / 3600:.3g} h "
                           f"observed at {bin_size} s bins) is too much to hold in memory; are the spike times in "
                           f"seconds? Otherwise {LESS_DATA}", source=source)
    observed = windows.observed(grid)
    activity, kept_times = _bin_selected(spike_data, bounds, selected, windows, grid, observed, keep_spike_times,
                                         problems)
    problems.zero_spike_ids = ids[selected][n_spikes == 0]
    problems.report(source)
    return NeuronActivity(
        grid=grid, activity=activity, neuron_ids=ids[selected], neuron_table=object_path(units),
        neuron_metadata=metadata.iloc[selected].reset_index(drop=True),
        observed=observed, spike_times=kept_times, series=object_path(units))


def _all_units(n_units: int, filtered: bool) -> str:
    """"all 5 units have" (or "the one unit the filter keeps has"): the subject of ``NoSpikes``' message."""
    kept = " the filter keeps" if filtered else ""
    return f"all {n_units} units{kept} have" if n_units > 1 else f"the one unit{kept} has"


def units_tables(nwb: h5py.File) -> list[str]:
    """HDF5 paths of every units table with spike times: ``/units`` first, then the ``Units`` tables of the
    processing modules (where neuroconv writes them with ``write_in_processing_module``, and where a second spike
    sorting goes), by module and name."""
    candidates = [nwb.get("units")]
    processing = nwb.get("processing")
    if isinstance(processing, h5py.Group):
        modules = [processing.get(name) for name in member_names(processing)]
        candidates += [module.get(name) for module in modules if isinstance(module, h5py.Group)
                       for name in member_names(module)]
    return [object_path(node) for node in candidates if isinstance(node, h5py.Group) and "spike_times" in node
            and neurodata_type(node) in ("Units", "")]


def _choose_units(nwb: h5py.File, source: str, name: str | None) -> h5py.Group:
    """The units table ``name`` names (its name or path), else ``/units``, else the first of ``units_tables`` with a
    warning naming the others; a NeurPIRError listing the tables when ``name`` names none or several."""
    tables = units_tables(nwb)
    if not tables:
        raise NeurPIRError("no units table with spike times", source=source)
    if name is None:
        if tables[0] != "units" and len(tables) > 1:
            warn_about(source, f"read the units of {tables[0]}; the other units tables are not read: "
                               f"{', '.join(tables[1:])} (choose one with --series, series=...)")
        return in_file(nwb, tables[0], "units table", source)
    matches = [path for path in tables if path_named(path, name)]
    if len(matches) != 1:
        raise NeurPIRError(f"units table {name!r} {'is ambiguous' if matches else 'not found'}; the file's units "
                           f"tables: {', '.join(tables)}", source=source)
    return in_file(nwb, matches[0], "units table", source)


def unit_metadata(units: h5py.Group, n_units: int, source: str) -> pd.DataFrame:
    """Every scalar column of the units table, plus, through its electrodes, ``location``, ``electrode_id`` and every
    other scalar column of the electrodes table as ``electrode_<name>`` (e.g. ``electrode_acronym``, ``electrode_x``,
    ``electrode_group_name``), or without them its electrode group's ``location`` and ``electrode_group_name``
    (``electrode_columns``). A column named like an identity column (``subject_id``...) is read as
    ``unit_<name>`` (``clear_of_identity``)."""
    metadata = clear_of_identity(
        scalar_columns(units, n_units, source, exclude=_NOT_METADATA, split_up_to=FEW_VALUES), source)
    for name, values in electrode_columns(units, n_units, source).items():
        metadata[name if name not in metadata else f"electrode_{name}"] = values
    return metadata


@dataclass
class _UnitWindows:
    """The selected units' ``obs_intervals``: ``shared`` when all are identical, else one array per unit."""

    shared: np.ndarray | None
    per_unit: list[np.ndarray] | None

    @classmethod
    def read(cls, units: h5py.Group, selected: np.ndarray, source: str) -> _UnitWindows:
        if "obs_intervals" not in units or "obs_intervals_index" not in units:
            return cls(None, None)
        data = units["obs_intervals"]
        if not isinstance(data, h5py.Dataset) or data.ndim != 2 or data.shape[1] != 2 or data.dtype.kind not in "iuf":
            raise NeurPIRError(f"{data.name} must be an (n, 2) numeric dataset, got shape "
                               f"{getattr(data, 'shape', None)}", source=source)
        numeric_dataset(data, f"{units.name}/obs_intervals", source, ndim=(2,), home=units)
        bounds = ragged_bounds(units, "obs_intervals", units["id"].shape[0], source)
        low, high = bounds[selected[0]], bounds[selected[-1] + 1]
        values = np.asarray(data[low:high], dtype=np.float64)
        bad = ~np.all(np.isfinite(values), axis=1) | (values[:, 1] <= values[:, 0])
        if np.any(bad):
            warn_about(source, f"{int(bad.sum())} of {len(values)} obs_intervals rows are empty, reversed or not "
                               "finite; they are ignored")
        starts, lengths = bounds[selected] - low, bounds[selected + 1] - bounds[selected]
        if lengths[0] > 0 and np.all(lengths == lengths[0]):
            contiguous = np.array_equal(starts, np.arange(selected.size) * lengths[0])
            block = (values.reshape(selected.size, lengths[0], 2) if contiguous
                     else values[starts[:, None] + np.arange(lengths[0])])
            if np.array_equal(block, np.broadcast_to(block[0], block.shape)):
                return cls(merge_windows(block[0]), None)
        if np.any(lengths == 0):
            warn_about(source, f"{int(np.sum(lengths == 0))} selected units have no obs_intervals; they are marked "
                               "unobserved everywhere")
        return cls(None, [merge_windows(values[start:start + length]) for start, length in zip(starts, lengths)])

    @property
    def present(self) -> bool:
        return self.shared is not None or self.per_unit is not None

    def union(self) -> np.ndarray:
        return self.shared if self.shared is not None else merge_windows(np.concatenate(self.per_unit))

    def inside(self, times: np.ndarray, rows: np.ndarray, first_position: int) -> np.ndarray:
        """Which spikes (of block rows starting at ``first_position``) lie inside their own unit's windows."""
        if self.shared is not None:
            return _in_windows(times, self.shared)
        inside = np.zeros(times.size, dtype=bool)
        row_bounds = np.searchsorted(rows, np.arange(rows.max() + 2)) if rows.size else np.zeros(1, dtype=np.int64)
        for row in range(row_bounds.size - 1):
            part = slice(row_bounds[row], row_bounds[row + 1])
            inside[part] = _in_windows(times[part], self.per_unit[first_position + row])
        return inside

    def observed(self, grid: TimeGrid) -> np.ndarray | None:
        """(n_units, n_bins) bins inside each unit's own windows, or None when all units share the grid."""
        if self.per_unit is None:
            return None
        return np.stack([bins_inside_windows(grid, windows) for windows in self.per_unit])


def _in_windows(times: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Which times lie in one of the windows, both ends included: ``obs_intervals = [[first, last]]`` is a common
    way to say "observed from the first to the last spike", and the spike at ``last`` belongs to the unit (it falls
    in no whole bin, like any spike in a window's last partial bin, but it is not reported as outside)."""
    if windows.shape[0] == 0:
        return np.zeros(times.size, dtype=bool)
    index = np.searchsorted(windows[:, 0], times, side="right") - 1
    inside = index >= 0
    inside[inside] = times[inside] <= windows[index[inside], 1]
    return inside


@dataclass
class _SpikeProblems:
    """Counts of bad spike times met while binning, reported once per file."""

    non_finite: int = 0
    negative: int = 0
    outside_windows: int = 0
    unsorted_units: int = 0
    zero_spike_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def report(self, source: str) -> None:
        if self.non_finite:
            warn_about(source, f"{self.non_finite} spike times are NaN or infinite; they are dropped")
        if self.negative:
            warn_about(source, f"{self.negative} spike times are negative (before the session start); they are dropped")
        if self.outside_windows:
            warn_about(source, f"{self.outside_windows} spike times fall outside their unit's obs_intervals; they are "
                               "dropped")
        if self.unsorted_units:
            warn_about(source, f"{self.unsorted_units} units have unsorted spike times; they were sorted")
        if self.zero_spike_ids.size:
            shown = ", ".join(map(str, self.zero_spike_ids[:5])) + (", ..." if self.zero_spike_ids.size > 5 else "")
            warn_about(source, f"{self.zero_spike_ids.size} units have no spikes (ids {shown}); they are kept as "
                               "all-zero rows (marked silent when embedded)")


def _make_grid(windows: _UnitWindows, spike_data: h5py.Dataset, bounds: np.ndarray, selected: np.ndarray,
               bin_size: float, time_range: tuple[float, float] | None, source: str) -> TimeGrid:
    if windows.present:
        grid = window_grid(windows.union(), bin_size, time_range, source=source)
    elif time_range is not None:
        grid = window_grid(np.array([time_range]), bin_size, source=source)
    else:
        grid = window_grid(_spike_span(spike_data, bounds, selected, bin_size, source), bin_size, source=source)
    if grid.n_bins == 0:
        where = "" if time_range is None else f" in the time range {time_range}"
        span = windows.union() if windows.present and time_range is not None else np.zeros((0, 2))
        said = f"; {observed_between(span[0, 0], span[-1, 1])}" if span.size else ""
        raise NeurPIRError(f"no observed time to bin{where} (bin size {bin_size} s){said}", source=source)
    return grid


def _spike_span(spike_data: h5py.Dataset, bounds: np.ndarray, selected: np.ndarray, bin_size: float,
                source: str) -> np.ndarray:
    """Without obs_intervals: the windows the valid spikes span, from the first (floored to the bin) past the last,
    cut at silent gaps (``SILENT_GAP_SECONDS``) with a warning; whole seconds resolve the gaps' edges."""
    seconds, n_spikes = [], 0
    low, high = np.inf, -np.inf
    for _, _, times, _ in _spike_blocks(spike_data, bounds, selected, max_units=selected.size):
        times = times[np.isfinite(times) & (times >= 0)]
        if times.size:
            low, high = min(low, float(times.min())), max(high, float(times.max()))
            seconds.append(np.unique(np.floor(times)))
            n_spikes += times.size
    if not np.isfinite(low):
        return np.zeros((0, 2))
    occupied = np.unique(np.concatenate(seconds))
    longest_silence = max(SILENT_GAP_SECONDS, 20.0 * (high - low) / n_spikes)
    cuts = np.flatnonzero(np.diff(occupied) > longest_silence + 1.0)
    starts = np.concatenate([[np.floor(low / bin_size) * bin_size], occupied[cuts + 1]])
    stops = np.concatenate([occupied[cuts] + 1.0, [high + bin_size]])
    if cuts.size:
        gaps = occupied[cuts + 1] - occupied[cuts] - 1.0
        warn_about(source, f"no obs_intervals, and no unit fires for {gaps.max():.0f} s from "
                           f"{occupied[cuts[gaps.argmax()]] + 1:.0f} s" + (f" (and in {cuts.size - 1} more gaps of "
                           f"over {longest_silence:.0f} s)" if cuts.size > 1 else "") + ": read as gaps between "
                           "recording segments, not as silence; obs_intervals would say what was observed")
    if high - low > 86_400:
        warn_about(source, f"the spike times span {(high - low) / 86_400:.1f} days; NWB stores them in seconds")
    return np.column_stack([starts, stops])


def _spike_blocks(spike_data: h5py.Dataset, bounds: np.ndarray, selected: np.ndarray,
                  max_units: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Yield ``(first, stop, times, rows)`` for blocks of selected positions ``first:stop``: the block's spike times
    (read with one slice per run of consecutive unit indices) and each spike's row within the block."""
    lengths = bounds[selected + 1] - bounds[selected]
    cumulative = np.concatenate([[0], np.cumsum(lengths)])
    first = 0
    while first < selected.size:
        by_spikes = int(np.searchsorted(cumulative, cumulative[first] + _MAX_BLOCK_SPIKES, side="right")) - 1
        stop = max(first + 1, min(first + max_units, by_spikes, selected.size))
        chosen = selected[first:stop]
        run_starts = np.flatnonzero(np.concatenate([[True], np.diff(chosen) != 1]))
        run_stops = np.concatenate([run_starts[1:], [chosen.size]])
        parts = [spike_data[bounds[chosen[a]]:bounds[chosen[b - 1] + 1]] for a, b in zip(run_starts, run_stops)]
        times = (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(np.float64, copy=False)
        rows = np.repeat(np.arange(stop - first), lengths[first:stop])
        yield first, stop, times, rows
        first = stop


def _bin_selected(spike_data: h5py.Dataset, bounds: np.ndarray, selected: np.ndarray, windows: _UnitWindows,
                  grid: TimeGrid, observed: np.ndarray | None, keep_spike_times: bool,
                  problems: _SpikeProblems) -> tuple[np.ndarray, list[np.ndarray] | None]:
    activity = np.zeros((selected.size, grid.n_bins), dtype=_COUNT_TYPES[0])
    kept_times: list[np.ndarray] | None = [] if keep_spike_times else None
    max_units = max(1, _MAX_BLOCK_CELLS // max(grid.n_bins, 1))
    for first, stop, times, rows in _spike_blocks(spike_data, bounds, selected, max_units):
        times, rows, bins = _clean_block(times, rows, windows, first, grid, problems)
        if observed is not None:
            hit = np.flatnonzero(bins >= 0)
            unobserved = hit[~observed[first + rows[hit], bins[hit]]]
            problems.outside_windows += int(np.sum(~windows.inside(times[unobserved], rows[unobserved], first)))
            bins[unobserved] = -1
        cells, counts = count_events(bins, rows, grid.n_bins)
        activity = _fit_counts(activity, int(counts.max(initial=0)))
        activity.reshape(-1)[first * grid.n_bins + cells] = counts
        if kept_times is not None:
            kept_times.extend(_split_by_row(times[bins >= 0], rows[bins >= 0], stop - first))
    return activity, kept_times


def _clean_block(times: np.ndarray, rows: np.ndarray, windows: _UnitWindows, first: int, grid: TimeGrid,
                 problems: _SpikeProblems) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop NaN/inf and negative spikes, sort each unit's times, locate their bins, and count the spikes that fall
    outside their unit's obs_intervals (their bin is -1)."""
    usable = (times >= 0) & (times < np.inf)
    if not usable.all():
        finite = np.isfinite(times)
        problems.non_finite += int(np.sum(~finite))
        problems.negative += int(np.sum(finite & (times < 0)))
        times, rows = times[usable], rows[usable]
    decreasing = np.flatnonzero(np.diff(times) < 0)
    decreasing = decreasing[rows[decreasing + 1] == rows[decreasing]]
    if decreasing.size:
        problems.unsorted_units += int(np.unique(rows[decreasing]).size)
        order = np.lexsort((times, rows))
        times, rows = times[order], rows[order]
    bins = grid.locate(times)
    if windows.present:
        missed = np.flatnonzero(bins < 0)
        problems.outside_windows += int(np.sum(~windows.inside(times[missed], rows[missed], first)))
    return times, rows, bins


def _fit_counts(activity: np.ndarray, largest: int) -> np.ndarray:
    """``activity`` in the smallest unsigned type that holds ``largest``."""
    for count_type in _COUNT_TYPES:
        if largest <= np.iinfo(count_type).max:
            return activity if np.iinfo(activity.dtype).max >= largest else activity.astype(count_type)
    return activity.astype(np.uint64)


def _split_by_row(times: np.ndarray, rows: np.ndarray, n_rows: int) -> list[np.ndarray]:
    ends = np.cumsum(np.bincount(rows, minlength=n_rows))
    return np.split(times, ends[:-1])

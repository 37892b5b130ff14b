"""Time grids of observed bins and vectorised binning onto them (no Python loop over events).

A ``TimeGrid`` is a strictly increasing list of bin start times with one bin width: bin ``i`` covers
``[bin_times[i], bin_times[i] + bin_size)``. Grids built from observation windows align their bins to each window's
start and never let a bin cross a window's end, so a gap in ``bin_times`` is a gap in observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["MAX_BINS", "TimeGrid", "bin_means", "bins_inside_windows", "bins_overlapping_windows", "count_events",
           "merge_windows", "observed_between", "window_grid"]

MAX_BINS = 200_000_000
"""Refuse grids longer than this: a wrong bin size or an absurd interval would otherwise exhaust memory."""

_MAX_LOOKUP_CELLS = 8_000_000
"""Largest cell table ``TimeGrid.locate`` builds (64 MB); longer spans fall back to binary search."""

_SNAP = 1e-9
"""Fraction of a bin by which ``TimeGrid.locate`` moves times forward to absorb float rounding of bin edges."""

_EDGE_TOLERANCE = 1e-6
"""Fraction of a bin by which a window may fall short and still hold that bin (float rounding of window edges)."""


@dataclass(frozen=True)
class TimeGrid:
    """Bins ``[bin_times[i], bin_times[i] + bin_size)``; ``bin_times`` float64, strictly increasing."""

    bin_times: np.ndarray
    bin_size: float

    @property
    def n_bins(self) -> int:
        return int(self.bin_times.size)

    @property
    def centers(self) -> np.ndarray:
        return self.bin_times + 0.5 * self.bin_size

    def locate(self, times: np.ndarray) -> np.ndarray:
        """Bin index of each time (int64), ``-1`` for times in no bin (gaps, outside, NaN). A time within a billionth
        of a bin below a bin edge counts as on the edge, so float rounding of computed bin starts (``12 * 0.05`` is
        ``0.6000000000000001``) does not move samples that sit exactly on an edge into the previous bin."""
        times = np.asarray(times, dtype=np.float64) + _SNAP * self.bin_size
        if self.n_bins == 0:
            return np.full(times.shape, -1, dtype=np.int64)
        lookup = self._lookup
        if lookup is None:
            index = np.searchsorted(self.bin_times, times, side="right") - 1
        else:
            index = self._lookup_index(times, lookup)
        starts = self._padded_starts
        inside = (index >= 0) & (times >= starts[index]) & (times < starts[index] + self.bin_size)
        return np.where(inside, index, -1)

    @cached_property
    def _padded_starts(self) -> np.ndarray:
        """``bin_times`` with ``+inf`` appended, so index ``-1`` and ``n_bins`` both read as "no bin"."""
        return np.append(self.bin_times, np.inf)

    @cached_property
    def _lookup(self) -> np.ndarray | None:
        """For each cell of width ``bin_size`` from the first bin on, the last bin starting at or before the cell:
        locating a time is then a division and a few look-ups instead of a binary search. None when the span has too
        many cells or bins are closer together than ``bin_size`` (then binary search is used)."""
        span_cells = (self.bin_times[-1] - self.bin_times[0]) / self.bin_size
        too_close = np.any(np.diff(self.bin_times) < self.bin_size * (1 - _EDGE_TOLERANCE))
        if span_cells + 2 > _MAX_LOOKUP_CELLS or too_close:
            return None
        edges = self.bin_times[0] + np.arange(int(np.ceil(span_cells)) + 2) * self.bin_size
        return np.searchsorted(self.bin_times, edges, side="right") - 1

    def _lookup_index(self, times: np.ndarray, lookup: np.ndarray) -> np.ndarray:
        """Candidate bin per time from the cell table, corrected by a step either way for float rounding (``locate``
        then keeps only candidates whose bin really holds the time)."""
        cells = (times - self.bin_times[0]) / self.bin_size
        np.nan_to_num(cells, copy=False, nan=0.0)
        np.clip(cells, 0, lookup.size - 1, out=cells)
        index = lookup[cells.astype(np.int64)]
        starts = self._padded_starts
        index -= (index >= 0) & (times < starts[index])
        last = self.n_bins - 1
        for _ in range(2):
            index += (index < last) & (times >= starts[index + 1])
        return index

    def restrict(self, keep: np.ndarray) -> TimeGrid:
        """The grid with only the bins where ``keep`` is true."""
        return TimeGrid(self.bin_times[keep], self.bin_size)


def merge_windows(windows: np.ndarray) -> np.ndarray:
    """Sort (n, 2) ``[start, stop)`` windows and merge overlapping ones; drop empty or non-finite windows."""
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    valid = np.all(np.isfinite(windows), axis=1) & (windows[:, 1] > windows[:, 0])
    windows = windows[valid]
    if windows.shape[0] <= 1:
        return windows
    windows = windows[np.argsort(windows[:, 0], kind="stable")]
    reach = np.maximum.accumulate(windows[:, 1])
    starts_run = np.concatenate([[True], windows[1:, 0] >= reach[:-1]])
    first = np.flatnonzero(starts_run)
    return np.column_stack([windows[first, 0], np.maximum.reduceat(windows[:, 1], first)])


def window_grid(windows: np.ndarray, bin_size: float, time_range: tuple[float, float] | None = None,
                source: str | None = None) -> TimeGrid:
    """Bins of ``bin_size`` aligned to the start of each (merged) window, none crossing a window's end; with
    ``time_range``, only the bins lying wholly inside it."""
    if not (np.isfinite(bin_size) and bin_size > 0):
        raise NeurPIRError(f"bin size must be a positive number of seconds, got {bin_size}", source=source)
    windows = merge_windows(windows)
    counts = np.floor((windows[:, 1] - windows[:, 0]) / bin_size + _EDGE_TOLERANCE)
    if counts.sum() > MAX_BINS:
        raise NeurPIRError(f"observed time {np.sum(windows[:, 1] - windows[:, 0]):.6g} s at {bin_size} s bins makes "
                           f"{counts.sum():.3g} bins (limit {MAX_BINS:.0e}); are the times in seconds? Otherwise "
                           "choose a larger bin size or a time range",
                           source=source)
    counts = counts.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)
    bin_times = np.repeat(windows[:, 0], counts) + within * bin_size
    grid = TimeGrid(bin_times, float(bin_size))
    if time_range is None:
        return grid
    start, stop = time_range
    slack = _EDGE_TOLERANCE * bin_size
    return grid.restrict((bin_times >= start - slack) & (bin_times + bin_size <= stop + slack))


def observed_between(first: float, last: float) -> str:
    """How a message says where a file's observed time lies (seconds on the file's clock), for a time range or
    chosen periods that hold none of it."""
    return f"the file's observed time lies between {first:.6g} and {last:.6g} s"


def bins_inside_windows(grid: TimeGrid, windows: np.ndarray) -> np.ndarray:
    """(n_bins,) bool: which bins lie wholly inside one of the (merged) windows."""
    windows = merge_windows(windows)
    if windows.shape[0] == 0:
        return np.zeros(grid.n_bins, dtype=bool)
    index = np.searchsorted(windows[:, 0], grid.bin_times, side="right") - 1
    inside = index >= 0
    slack = _EDGE_TOLERANCE * grid.bin_size
    inside[inside] = grid.bin_times[inside] + grid.bin_size <= windows[index[inside], 1] + slack
    return inside


def bins_overlapping_windows(grid: TimeGrid, windows: np.ndarray) -> np.ndarray:
    """(n_bins,) bool: which bins share time with one of the (merged) windows, beyond float rounding of the edges (a
    bin that ends where a window starts, or starts where it ends, does not)."""
    windows = merge_windows(windows)
    if windows.shape[0] == 0:
        return np.zeros(grid.n_bins, dtype=bool)
    slack = _EDGE_TOLERANCE * grid.bin_size
    index = np.searchsorted(windows[:, 0], grid.bin_times + grid.bin_size - slack, side="left") - 1
    overlapping = index >= 0
    overlapping[overlapping] = windows[index[overlapping], 1] > grid.bin_times[overlapping] + slack
    return overlapping


def count_events(bins: np.ndarray, rows: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse event counts: ``(cells, counts)`` with ``cells = row * n_bins + bin`` (sorted, unique) for events with a
    bin (``bins >= 0``). Counting runs of equal cells costs O(events), not O(rows x bins); events already sorted by
    row then time (the NWB order) need no sort."""
    kept = bins >= 0
    cells = rows[kept].astype(np.int64) * n_bins + bins[kept]
    if cells.size > 1 and np.any(cells[1:] < cells[:-1]):
        cells = np.sort(cells)
    if cells.size == 0:
        return cells, np.zeros(0, dtype=np.int64)
    run_starts = np.flatnonzero(np.concatenate([[True], cells[1:] != cells[:-1]]))
    return cells[run_starts], np.diff(np.append(run_starts, cells.size))


def bin_means(bins: np.ndarray, values: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Average samples per bin, ignoring NaN/inf: ``(means, counts)``, both (n_bins, k) with ``values`` (n, k);
    ``means`` is NaN where a bin has no finite sample."""
    values = np.asarray(values, dtype=np.float64).reshape(bins.size, -1)
    kept = np.flatnonzero(bins >= 0)
    kept = kept[np.argsort(bins[kept], kind="stable")]
    sums = np.zeros((n_bins, values.shape[1]))
    counts = np.zeros((n_bins, values.shape[1]))
    if kept.size:
        sorted_bins = bins[kept]
        group_starts = np.flatnonzero(np.concatenate([[True], sorted_bins[1:] != sorted_bins[:-1]]))
        chosen = values[kept]
        finite = np.isfinite(chosen)
        target = sorted_bins[group_starts]
        sums[target] = np.add.reduceat(np.where(finite, chosen, 0.0), group_starts, axis=0)
        counts[target] = np.add.reduceat(finite, group_starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts

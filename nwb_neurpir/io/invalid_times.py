"""``/intervals/invalid_times``: periods the file marks as not to be analysed (artefacts, a stimulation, a
reference switch), left out of the observed time for every neuron.

``read_nwb`` reads the activity on its grid of observed time (``obs_intervals``, spike span, valid frames), then drops
every bin that shares time with an invalid interval, as if the interval lay outside every unit's ``obs_intervals``:
the model, the covariates and the hand features see a gap there. The table is never a covariate.
"""

from __future__ import annotations

import h5py
import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.activity import NeuronActivity
from nwb_neurpir.io.binning import bins_overlapping_windows
from nwb_neurpir.io.h5_tables import in_file, read_numeric
from nwb_neurpir.recording import InvalidTimes

__all__ = ["INVALID_TIMES", "checked_intervals", "exclude_invalid_times", "read_invalid_times"]

INVALID_TIMES = "invalid_times"
"""The name of the interval table NWB reserves for time to exclude from analysis."""


def read_invalid_times(nwb: h5py.File, source: str) -> np.ndarray | None:
    """(n, 2) start and stop times of ``/intervals/invalid_times``, or None when the file has no such table; a
    ``NeurPIRError`` naming the first malformed row when a row is not finite or stops before it starts."""
    intervals = nwb.get("intervals")
    if not isinstance(intervals, h5py.Group) or not isinstance(intervals.get(INVALID_TIMES), h5py.Group):
        return None
    table = in_file(nwb, f"intervals/{INVALID_TIMES}", "table", source)
    starts, stops = (read_numeric(table.get(name), f"intervals/{INVALID_TIMES}/{name}", source, home=table)
                     .astype(np.float64) for name in ("start_time", "stop_time"))
    return checked_intervals(starts, stops, f"intervals/{INVALID_TIMES}", source)


def checked_intervals(starts: np.ndarray, stops: np.ndarray, table: str, source: str) -> np.ndarray:
    """(n, 2) ``starts`` and ``stops`` of the rows of ``table`` (its path, for messages); a ``NeurPIRError`` naming the
    first malformed row when a row is not finite or stops before it starts."""
    if starts.shape != stops.shape:
        raise NeurPIRError(f"{table} has {starts.size} start times but {stops.size} stop times", source=source)
    bad = np.flatnonzero(~(np.isfinite(starts) & np.isfinite(stops) & (stops >= starts)))
    if bad.size:
        first = int(bad[0])
        raise NeurPIRError(f"{table} has {bad.size} malformed row{'s' if bad.size > 1 else ''} "
                           f"(row {first}: start {starts[first]:g} s, stop {stops[first]:g} s); a row must have finite "
                           "times with stop_time >= start_time: fix or remove it", source=source)
    return np.column_stack([starts, stops])


def exclude_invalid_times(activity: NeuronActivity, nwb: h5py.File,
                          source: str) -> tuple[NeuronActivity, InvalidTimes | None]:
    """The activity without the bins that share time with the file's ``invalid_times``, and those intervals (None
    without the table); a ``NeurPIRError`` when they cover all the observed time."""
    intervals = read_invalid_times(nwb, source)
    if intervals is None:
        return activity, None
    dropped = bins_overlapping_windows(activity.grid, intervals)
    if dropped.all():
        raise NeurPIRError(f"intervals/{INVALID_TIMES} covers all {activity.grid.n_bins * activity.grid.bin_size:g} s "
                           "of observed time: nothing is left to read", source=source)
    invalid = InvalidTimes(intervals, float(np.count_nonzero(dropped) * activity.grid.bin_size))
    return (activity.without_bins(dropped) if dropped.any() else activity), invalid

"""``during`` (``--during TABLE[:COLUMN=VALUE[,VALUE...]]``): read only the time inside chosen intervals of one of the
file's interval tables -- the NREM epochs of a sleep recording, the trials of a task block.

The mirror image of ``invalid_times``: ``read_nwb`` reads the activity on its grid of observed time, then keeps only
the bins lying wholly inside one of the chosen intervals (bins stay aligned to the observed windows, as with
``time_range``), as if the observed time were intersected with their union. The model, the covariates and the hand
features see only that time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.activity import NeuronActivity
from nwb_neurpir.io.binning import bins_inside_windows, merge_windows, observed_between
from nwb_neurpir.io.invalid_times import checked_intervals

__all__ = ["During", "keep_during"]

_SHOWN_VALUES = 20
"""At most this many of a column's values are listed when a chosen value matches no row."""


@dataclass(frozen=True)
class During:
    """Which intervals to read: every row of ``table``, or the rows whose ``column`` holds one of ``values``."""

    table: str
    column: str | None = None
    values: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, source: str | None = None) -> During:
        """``TABLE`` or ``TABLE:COLUMN=VALUE[,VALUE...]`` (``epochs:stage=NREM``); a ``NeurPIRError`` (naming
        ``source``, the file read with it) otherwise."""
        table, colon, selection = str(text).partition(":")
        column, equals, values = selection.partition("=")
        chosen = tuple(value.strip() for value in values.split(",") if value.strip())
        if not table.strip() or (colon and not (equals and column.strip() and chosen)):
            raise NeurPIRError(f"during must be TABLE or TABLE:COLUMN=VALUE[,VALUE...] (an interval table of the "
                               f"file, e.g. trials or epochs:stage=NREM), not {text!r}", source=source)
        return cls(table.strip(), column.strip() or None, chosen)

    def __str__(self) -> str:
        return self.table if self.column is None else f"{self.table}:{self.column}={','.join(self.values)}"

    def intervals(self, tables: dict[str, pd.DataFrame], source: str) -> np.ndarray:
        """(n, 2) start and stop times of the chosen rows of ``tables`` (``read_interval_tables``); a one-line
        ``NeurPIRError`` naming the file when the table or column is missing, a value matches no row or a row of the
        table is malformed."""
        table = tables.get(self.table)
        if table is None:
            there = f"its interval tables: {', '.join(tables)}" if tables else "it has no interval tables"
            raise NeurPIRError(f"during {self}: no interval table {self.table!r} in /intervals ({there})",
                               source=source)
        intervals = checked_intervals(table["start_time"].to_numpy(dtype=np.float64),
                                      table["stop_time"].to_numpy(dtype=np.float64), f"intervals/{self.table}", source)
        return intervals if self.column is None else intervals[self._matching(table, source)]

    def _matching(self, table: pd.DataFrame, source: str) -> np.ndarray:
        """Which rows hold one of ``values`` in ``column`` (numbers compared as numbers, text with spaces stripped)."""
        columns = [name for name in table.columns if name not in ("start_time", "stop_time")]
        if self.column not in columns:
            raise NeurPIRError(f"during {self}: intervals/{self.table} has no column {self.column!r} (its columns: "
                               f"{', '.join(columns) or 'none'})", source=source)
        column = table[self.column]
        numeric = column.dtype.kind in "iuf"
        present = column.to_numpy(dtype=np.float64) if numeric else column.astype(str).str.strip().to_numpy()
        wanted = [pd.to_numeric(value, errors="coerce") if numeric else value for value in self.values]
        unmatched = [value for value, as_read in zip(self.values, wanted) if not np.any(present == as_read)]
        if unmatched:
            values = pd.unique(present[pd.notna(present)])
            shown = ", ".join(f"{value:g}" if numeric else str(value) for value in sorted(values)[:_SHOWN_VALUES])
            more = ", ..." if values.size > _SHOWN_VALUES else ""
            raise NeurPIRError(f"during {self}: no row of intervals/{self.table} has {self.column} = "
                               f"{', '.join(unmatched)} (its values: {shown}{more})", source=source)
        return np.isin(present, wanted)


def keep_during(activity: NeuronActivity, during: During, tables: dict[str, pd.DataFrame],
                source: str) -> NeuronActivity:
    """The activity on the bins lying wholly inside the intervals ``during`` chooses; a ``NeurPIRError`` when they
    hold no observed bin."""
    chosen = merge_windows(during.intervals(tables, source))
    kept = bins_inside_windows(activity.grid, chosen)
    if not kept.any():
        count = chosen.shape[0]
        held = (f"its {count} interval{'s' if count != 1 else ''} between {chosen[0, 0]:.6g} and {chosen[-1, 1]:.6g} s "
                f"hold{'s' if count == 1 else ''}" if count else "its intervals of no duration hold")
        grid = activity.grid
        raise NeurPIRError(f"during {during}: {held} no observed time ("
                           f"{observed_between(grid.bin_times[0], grid.bin_times[-1] + grid.bin_size)})", source=source)
    return activity if kept.all() else activity.without_bins(~kept)

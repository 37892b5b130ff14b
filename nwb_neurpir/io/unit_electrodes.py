"""A unit's electrode columns, read through its units table's ``electrodes`` column, else its ``electrode_group``.

Through ``electrodes``: ``electrode_id``, ``location`` (the electrode's, else its group's) and every other scalar
column of the electrodes table as ``electrode_<name>``. A unit listed on several electrodes (SpikeInterface writes
each unit's sparse channels) takes the location most of them share, ties going to the first listed, and the other
columns of the first listed electrode at that location; the number of units whose electrodes span several locations is
warned about once per file. Through ``electrode_group`` alone (neuroconv without electrode indices): the group's
``location`` and its name as ``electrode_group_name``.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import (
    column_names,
    decode_text,
    left_out_outside,
    object_path,
    ragged_bounds,
    read_numeric,
    region_target,
    scalar_columns,
    table_ids,
)
from nwb_neurpir.io.read_warnings import warn_about

__all__ = ["electrode_columns"]


def electrode_columns(units: h5py.Group, n_units: int, source: str) -> dict[str, np.ndarray]:
    """The units' electrode columns (module docstring), each (n_units,); {} when the table names no electrodes."""
    region = units.get("electrodes")
    if isinstance(region, h5py.Dataset) and "electrodes" in column_names(units):
        return {} if left_out_outside(units, "electrodes", source) else \
            _through_electrodes(units, region, n_units, source)
    groups = units.get("electrode_group")
    if (isinstance(groups, h5py.Dataset) and "electrode_group" in column_names(units)
            and not left_out_outside(units, "electrode_group", source)
            and groups.dtype == h5py.ref_dtype and groups.shape == (n_units,)):
        nodes = _groups(groups)
        return {"location": _group_locations(nodes),
                "electrode_group_name": np.array([object_path(node).rsplit("/", 1)[-1] if node is not None else ""
                                                  for node in nodes], dtype=object)}
    return {}


def _through_electrodes(units: h5py.Group, region: h5py.Dataset, n_units: int, source: str) -> dict[str, np.ndarray]:
    electrodes = region_target(region, source)
    electrode_ids = table_ids(electrodes, source)
    n_electrodes = electrode_ids.size
    rows, unit_of = _listed_rows(units, region, n_units, source)
    if np.any(rows >= n_electrodes):
        raise NeurPIRError(f"{region.name} points past the {n_electrodes} rows of {electrodes.name}", source=source)
    table = scalar_columns(electrodes, n_electrodes, source)
    locations = _electrode_locations(electrodes, table)
    chosen, spanning = _chosen_rows(rows, unit_of, n_units, locations)
    if spanning:
        warn_about(source, f"{spanning} units are listed on electrodes in more than one location; each takes the "
                           "location most of its electrodes share (ties: the first listed) and the columns of its "
                           "first listed electrode there")
    valid, picked = chosen >= 0, np.maximum(chosen, 0)
    columns = {"electrode_id": np.where(valid, electrode_ids[picked], -1)}
    if locations is not None:
        columns["location"] = np.where(valid, locations[picked], "")
    for name, values in table.drop(columns="location", errors="ignore").items():
        missing = np.nan if pd.api.types.is_numeric_dtype(values) else ""
        columns[f"electrode_{name}"] = np.where(valid, values.to_numpy()[picked], missing)
    return columns


def _listed_rows(units: h5py.Group, region: h5py.Dataset, n_units: int,
                 source: str) -> tuple[np.ndarray, np.ndarray]:
    """Every electrode row the units list, in order, and the unit listing each (negative rows left out)."""
    rows = read_numeric(region, region.name, source, home=units).astype(np.int64)
    if "electrodes_index" in units:
        unit_of = np.repeat(np.arange(n_units), np.diff(ragged_bounds(units, "electrodes", n_units, source)))
    elif rows.shape == (n_units,):
        unit_of = np.arange(n_units)
    else:
        raise NeurPIRError(f"{region.name} has {rows.size} rows for {n_units} units", source=source)
    listed = rows >= 0
    return rows[listed], unit_of[listed]


def _chosen_rows(rows: np.ndarray, unit_of: np.ndarray, n_units: int,
                 locations: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Per unit, the electrode row its columns come from (-1: none): the first listed at the location most of its
    electrodes share; and how many units' electrodes span more than one location."""
    chosen = np.full(n_units, -1, dtype=np.int64)
    if rows.size == 0:
        return chosen, 0
    codes = (np.zeros(rows.size, dtype=np.int64) if locations is None
             else np.unique(locations[rows], return_inverse=True)[1].reshape(-1))
    n_codes = int(codes.max()) + 1
    pairs, pair_of, pair_counts = np.unique(unit_of * n_codes + codes, return_inverse=True, return_counts=True)
    order = np.lexsort((np.arange(rows.size), -pair_counts[pair_of.reshape(-1)], unit_of))
    first = order[np.concatenate([[True], np.diff(unit_of[order]) != 0])]
    chosen[unit_of[first]] = rows[first]
    return chosen, int(np.sum(np.bincount(pairs // n_codes, minlength=n_units) > 1))


def _electrode_locations(electrodes: h5py.Group, table: pd.DataFrame) -> np.ndarray | None:
    """Each electrode's ``location`` column, else its group's ``location``."""
    if "location" in table:
        return table["location"].astype(str).to_numpy(dtype=object)
    groups = electrodes.get("group")
    if not isinstance(groups, h5py.Dataset) or groups.dtype != h5py.ref_dtype or groups.shape != (len(table),):
        return None
    return _group_locations(_groups(groups))


def _groups(references: h5py.Dataset) -> list[h5py.HLObject | None]:
    """The objects a column of object references points at (None for a null reference)."""
    return [references.file[ref] if ref else None for ref in references[()]]


def _group_locations(groups: list[h5py.HLObject | None]) -> np.ndarray:
    return np.array([decode_text(group.attrs.get("location")) if group is not None else "" for group in groups],
                    dtype=object)

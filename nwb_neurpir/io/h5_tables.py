"""Reading NWB ``DynamicTable`` groups (units, ROIs, intervals, electrodes) straight from h5py, without pynwb.

A ``DynamicTable`` is an HDF5 group with an ``id`` dataset and one dataset per column (``colnames`` attribute); a
ragged column ``x`` has a companion ``x_index`` (``VectorIndex``) holding the end offset of each row; a
``DynamicTableRegion`` column holds row indices into the table its ``table`` attribute references.

Data that lies outside the file (a dataset with external raw storage or virtual, or a node reached through an
external link: ``stored_outside``) is never read: such a column is left out with a warning, such a text is absent,
and such a dataset the reader needs (``numeric_dataset``) stops it with a ``NeurPIRError``. A shared file could
otherwise copy any file its reader may read into what the reader writes or prints.
"""

from __future__ import annotations

from collections.abc import Iterable

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.read_warnings import warn_about

FEW_VALUES = 4
"""A neuron table's column of at most this many values per row is read as one column per value (``scalar_columns``):
Suite2p's ``iscell`` (is-cell flag, probability) as ``iscell[0]`` and ``iscell[1]``."""

__all__ = [
    "FEW_VALUES",
    "OUTSIDE",
    "column_names",
    "decode_text",
    "in_file",
    "left_out_outside",
    "member_names",
    "numeric_dataset",
    "object_path",
    "path_named",
    "read_numeric",
    "ragged_bounds",
    "region_target",
    "scalar_columns",
    "scalar_text",
    "stored_outside",
    "stripped_text",
    "subscripted",
    "table_ids",
]


def decode_text(value: object) -> str:
    """A scalar string value (bytes, str, or an array of one) as ``str``, undecodable bytes replaced; "" for ``None``
    (a missing attribute) and for arrays of any other size. The one decoder of HDF5 text in the package."""
    if value is None:
        return ""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return ""
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


OUTSIDE = "is stored outside the file (external storage or an external link)"
"""What a message says of data ``stored_outside``."""


def stored_outside(node: h5py.HLObject, home: h5py.HLObject) -> bool:
    """Whether reading ``node`` would read bytes from outside the file ``home`` (the file, or a node of it ``node``
    was reached from) is in: a node reached through an external link (in another file), or a dataset whose data lie
    in other files (external raw storage, a virtual dataset)."""
    if node.file != home.file:
        return True
    return isinstance(node, h5py.Dataset) and (node.external is not None or node.is_virtual)


def in_file(nwb: h5py.File, path: str, what: str, source: str) -> h5py.HLObject:
    """The node at ``path`` of ``nwb``, which the reader needs: a ``NeurPIRError`` when it is ``stored_outside``."""
    node = nwb[path]
    if stored_outside(node, nwb):
        raise NeurPIRError(f"the {what} {path} {OUTSIDE}; it is not read", source=source)
    return node


def left_out_outside(table: h5py.Group, name: str, source: str) -> bool:
    """Whether the column ``name`` of ``table`` is ``stored_outside`` the file, and so left out, with a warning."""
    if not stored_outside(table[name], table):
        return False
    warn_about(source, f"column {object_path(table)}/{name} {OUTSIDE}; left out")
    return True


def scalar_text(group: h5py.Group, path: str) -> str | None:
    """The text of the scalar (or one-element) dataset at ``path`` below ``group``; ``None`` when there is none (or
    it is ``stored_outside`` the file)."""
    node = group.get(path)
    if not isinstance(node, h5py.Dataset) or node.shape not in ((), (1,)) or stored_outside(node, group):
        return None
    return decode_text(node[()])


def stripped_text(group: h5py.Group, path: str) -> str:
    """``scalar_text`` without surrounding whitespace; "" when there is none."""
    return (scalar_text(group, path) or "").strip()


def object_path(node: h5py.HLObject) -> str:
    """The node's path in the file without the leading slash ("" for an unlinked node; undecodable bytes
    replaced)."""
    return decode_text(node.name).lstrip("/")


def path_named(path: str, name: str) -> bool:
    """Whether ``name`` is the HDF5 ``path`` (leading and trailing slashes aside) or its tail (``units_ms5`` names
    ``processing/ecephys/units_ms5``)."""
    return path == name.strip("/") or path.endswith("/" + name.strip("/"))


def member_names(group: h5py.Group) -> list[str]:
    """The group's member names, sorted; names HDF5 cannot decode (damaged files) are left out."""
    return sorted(name for name in group if isinstance(name, str))


def column_names(table: h5py.Group) -> list[str]:
    """The table's declared columns (``colnames``), falling back to its datasets other than ``id`` and indices."""
    names = table.attrs.get("colnames")
    if names is None:
        return [key for key, item in table.items()
                if isinstance(item, h5py.Dataset) and key != "id" and not key.endswith("_index")]
    return [decode_text(name) for name in np.atleast_1d(names)]


def read_numeric(node: object, what: str, source: str, ndim: tuple[int, ...] = (1,), *,
                 home: h5py.HLObject) -> np.ndarray:
    """Read a whole numeric dataset, checking it is one (``numeric_dataset``), with an allowed number of
    dimensions."""
    return numeric_dataset(node, what, source, ndim, home=home)[()]


def numeric_dataset(node: object, what: str, source: str, ndim: tuple[int, ...] = (1,), *,
                    home: h5py.HLObject) -> h5py.Dataset:
    """``node`` checked (without reading it) to be a numeric dataset with an allowed number of dimensions, in the
    file of ``home`` (the group it was reached from: not ``stored_outside`` it)."""
    if not isinstance(node, h5py.Dataset):
        raise NeurPIRError(f"{what} is not a dataset", source=source)
    if stored_outside(node, home):
        raise NeurPIRError(f"{what} {OUTSIDE}; it is not read", source=source)
    if node.dtype.kind not in "biuf":
        raise NeurPIRError(f"{what} has non-numeric type {node.dtype}", source=source)
    if node.ndim not in ndim:
        raise NeurPIRError(f"{what} has shape {node.shape}, expected {' or '.join(map(str, ndim))} dimensions",
                           source=source)
    return node


def table_ids(table: h5py.Group, source: str) -> np.ndarray:
    """The table's row ids as int64 (row numbers when the ``id`` dataset is missing)."""
    if "id" not in table:
        raise NeurPIRError(f"table {table.name} has no 'id' dataset", source=source)
    ids = read_numeric(table["id"], f"{table.name}/id", source, home=table)
    if ids.dtype.kind == "f" and not np.all(np.isfinite(ids)):
        raise NeurPIRError(f"{table.name}/id holds non-finite values", source=source)
    ids = ids.astype(np.int64)
    values, counts = np.unique(ids, return_counts=True)
    if np.any(counts > 1):
        repeated = values[counts > 1]
        raise NeurPIRError(f"{table.name}/id holds {repeated.size} ids more than once (e.g. {repeated[0]} "
                           f"{counts[counts > 1][0]} times); each row needs its own id", source=source)
    return ids


def ragged_bounds(table: h5py.Group, column: str, n_rows: int, source: str) -> np.ndarray:
    """(n_rows + 1,) int64 offsets of each row of a ragged column into its data, validated."""
    data = table[column]
    if not isinstance(data, h5py.Dataset) or data.ndim == 0:
        raise NeurPIRError(f"{table.name}/{column} is not a ragged column's data", source=source)
    if stored_outside(data, table):
        raise NeurPIRError(f"{table.name}/{column} {OUTSIDE}; it is not read", source=source)
    index = read_numeric(table[f"{column}_index"], f"{table.name}/{column}_index", source, home=table)
    if index.dtype.kind not in "iu" or index.shape != (n_rows,):
        raise NeurPIRError(f"{table.name}/{column}_index has type {index.dtype} and shape {index.shape}, expected "
                           f"{n_rows} integer offsets", source=source)
    bounds = np.concatenate([[0], index.astype(np.int64)])
    if np.any(np.diff(bounds) < 0) or bounds[-1] > data.shape[0]:
        raise NeurPIRError(f"{table.name}/{column}_index is not a valid ragged index into {data.shape[0]} rows "
                           "(offsets decrease or run past the end)", source=source)
    if bounds[-1] != data.shape[0]:
        raise NeurPIRError(f"{table.name}/{column}_index ends at {bounds[-1]}, but the column holds {data.shape[0]} "
                           "values: each offset is where a row ends (an index that starts at 0, or is off by one, "
                           "gives every row another row's values)", source=source)
    return bounds


def region_target(region: h5py.Dataset, source: str) -> h5py.Group:
    """The table a ``DynamicTableRegion`` column points at."""
    reference = region.attrs.get("table")
    if not isinstance(reference, h5py.Reference) or not reference:
        raise NeurPIRError(f"{region.name} has no valid 'table' reference", source=source)
    target = region.file[reference]
    if not isinstance(target, h5py.Group) or not object_path(target):
        raise NeurPIRError(f"{region.name} does not point at a table in the file", source=source)
    return target


def scalar_columns(table: h5py.Group, n_rows: int, source: str, exclude: Iterable[str] = (),
                   split_up_to: int = 0) -> pd.DataFrame:
    """Every one-value-per-row column (numbers, booleans, strings) as a DataFrame; ragged, multi-dimensional,
    region and reference columns are left out, and so, with a warning naming ``source``, are columns
    ``stored_outside`` the file. A column of ``k <= split_up_to`` values per row (Suite2p's ``iscell``:
    is-cell flag and probability) is read as ``k`` columns ``name[0]``, ``name[1]``...; the others with several values
    per row are named in ``attrs["several_values"]``, for the neuron filter's message."""
    skip = set(exclude)
    columns: dict[str, np.ndarray] = {}
    several = []
    for name in column_names(table):
        node = table.get(name)
        if name in skip or f"{name}_index" in table or not isinstance(node, h5py.Dataset) or node.ndim == 0 \
                or node.shape[0] != n_rows or _attr_text(node, "neurodata_type") == "DynamicTableRegion":
            continue
        if left_out_outside(table, name, source):
            continue
        if node.ndim == 2 and node.shape[1] <= split_up_to and node.dtype.kind in "biuf":
            values = node[()]
            columns.update({subscripted(name, index): values[:, index] for index in range(node.shape[1])})
        elif node.ndim > 1:
            several.append(name)
        elif (values := _scalar_values(node)) is not None:
            columns[name] = values
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    frame.attrs["several_values"] = several
    return frame


def subscripted(name: str, index: int) -> str:
    """The column ``scalar_columns`` reads the ``index``-th value of each row of the column ``name`` into."""
    return f"{name}[{index}]"


def _scalar_values(node: h5py.Dataset) -> np.ndarray | None:
    if h5py.check_string_dtype(node.dtype) is not None:
        return np.asarray(node.asstr(errors="replace")[()], dtype=object)
    if node.dtype.kind in "biuf":
        return node[()]
    if node.dtype.kind == "S":
        return np.array([decode_text(value) for value in node[()]], dtype=object)
    return None


def _attr_text(node: h5py.HLObject, name: str) -> str:
    value = node.attrs.get(name)
    return "" if value is None else decode_text(value)

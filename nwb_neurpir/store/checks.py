"""Checks of the user's input before anything is written: the file, the embedding matrix, the neuron ids and names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import decode_text

__all__ = ["checked_embeddings", "checked_name", "checked_silent", "locate_neurons", "neuron_tables", "reads_back_as"]

_NEURON_TABLE_TYPES = ("Units", "PlaneSegmentation")


def checked_embeddings(neuron_ids: Sequence[int] | np.ndarray, embeddings: np.ndarray,
                       source: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Neuron ids as int64 and embeddings as float32 (n_neurons, dim), or a ``NeurPIRError`` naming the problem."""
    ids = np.asarray(neuron_ids)
    if ids.ndim != 1 or ids.size == 0:
        raise NeurPIRError(f"neuron ids must be a non-empty 1-D list, got shape {ids.shape}", source=source)
    if ids.dtype.kind not in "iu" and not (ids.dtype.kind == "f" and np.all(np.isfinite(ids))
                                           and np.all(ids == np.round(ids))):
        raise NeurPIRError(f"neuron ids must be integers, got {ids.dtype}", source=source)
    ids = ids.astype(np.int64)
    if np.unique(ids).size != ids.size:
        raise NeurPIRError("neuron ids contain duplicates", source=source)
    vectors = np.asarray(embeddings)
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise NeurPIRError(f"embeddings must be a 2-D matrix (neurons x dimensions), got shape {vectors.shape}",
                           source=source)
    if vectors.shape[0] != ids.size:
        raise NeurPIRError(f"embeddings have {vectors.shape[0]} rows but {ids.size} neuron ids were given",
                           source=source)
    if vectors.dtype.kind not in "iuf":
        raise NeurPIRError(f"embeddings must be numbers, got {vectors.dtype}", source=source)
    with np.errstate(over="ignore"):
        vectors = vectors.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(vectors)))
    if bad:
        raise NeurPIRError(f"embeddings contain {bad} NaN or infinite values (as float32)", source=source)
    return ids, vectors


def checked_silent(silent: Sequence[bool] | np.ndarray | None, n_neurons: int,
                   source: str | Path) -> np.ndarray | None:
    """The neurons' ``silent`` marks (no activity in the time read) as a bool array of one per neuron, or None."""
    if silent is None:
        return None
    marks = np.asarray(silent)
    if marks.shape != (n_neurons,) or marks.dtype.kind not in "biu" or not np.isin(marks, (0, 1)).all():
        raise NeurPIRError(f"silent must be one True/False per neuron ({n_neurons}), got {marks.dtype} of shape "
                           f"{marks.shape}", source=source)
    return marks.astype(bool)


def reads_back_as(frame: pd.DataFrame, ids: np.ndarray, vectors: np.ndarray, silent: np.ndarray | None) -> bool:
    """Whether embeddings read back (``read_embeddings``) hold these neurons, vectors and ``silent`` marks."""
    return (np.array_equal(frame["neuron_id"].to_numpy(), ids)
            and np.array_equal(np.stack(frame["embedding"].to_numpy()), vectors)
            and (silent is None or np.array_equal(frame["silent"].to_numpy(dtype=bool), silent)))


def checked_name(name: str, what: str, source: str | Path) -> str:
    """An HDF5 object name: non-empty, no slash, not '.'."""
    if not name or "/" in name or name in (".", ".."):
        raise NeurPIRError(f"{what} name {name!r} is not a valid NWB object name (empty, '.', or has '/')",
                           source=source)
    return name


def locate_neurons(file: h5py.File, neuron_ids: np.ndarray, neuron_table: str | None,
                   source: str | Path) -> tuple[str, np.ndarray]:
    """The path of the table holding the neurons and the row of each id in it.

    ``neuron_table`` is an HDF5 path such as ``units`` or ``processing/ophys/ImageSegmentation/PlaneSegmentation``;
    ``None`` picks the one Units table or PlaneSegmentation whose ids include every neuron id.
    """
    if neuron_table is not None:
        path = neuron_table.strip("/")
        table = file.get(path)
        if not isinstance(table, h5py.Group) or not isinstance(table.get("id"), h5py.Dataset):
            raise NeurPIRError(f"no table {path!r} in the file", source=source)
        rows, missing = _rows_of(table, neuron_ids)
        if missing.size:
            raise NeurPIRError(f"table {path!r} has no rows with neuron ids {_few(missing)} "
                               f"({missing.size} of {neuron_ids.size} missing)", source=source)
        return path, rows
    matches, shortfalls = [], []
    for path, table in neuron_tables(file):
        rows, missing = _rows_of(table, neuron_ids)
        (shortfalls if missing.size else matches).append((path, rows if not missing.size else missing))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise NeurPIRError(f"several tables hold these neuron ids ({', '.join(path for path, _ in matches)}); "
                           "say which one with neuron_table", source=source)
    if not shortfalls:
        raise NeurPIRError("has no Units table or PlaneSegmentation to attach embeddings to", source=source)
    path, missing = min(shortfalls, key=lambda item: item[1].size)
    raise NeurPIRError(f"no table holds all the neuron ids: the closest, '{path}', has no rows with ids "
                       f"{_few(missing)} ({missing.size} of {neuron_ids.size} missing)", source=source)


def neuron_tables(file: h5py.File) -> list[tuple[str, h5py.Group]]:
    """Path and group of every Units table and PlaneSegmentation of the file."""
    found = []

    def visit(name: str, node: h5py.HLObject) -> None:
        if isinstance(node, h5py.Group) and decode_text(node.attrs.get("neurodata_type")) in _NEURON_TABLE_TYPES:
            found.append((node.name.strip("/"), node))

    for top in ("units", "processing"):
        node = file.get(top)
        if isinstance(node, h5py.Group):
            visit(top, node)
            node.visititems(visit)
    return found


def _rows_of(table: h5py.Group, neuron_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of each id in the table (first one when ids repeat) and the ids it does not hold."""
    ids = table["id"]
    if ids.ndim != 1 or ids.dtype.kind not in "iuf":
        return np.zeros(0, dtype=np.int64), neuron_ids
    row_of: dict[int, int] = {}
    for row, value in enumerate(ids[()].astype(np.int64).tolist()):
        row_of.setdefault(value, row)
    rows = np.array([row_of.get(value, -1) for value in neuron_ids.tolist()], dtype=np.int64)
    return rows, neuron_ids[rows < 0]


def _few(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(value)) for value in values[:limit])
    return shown + (", ..." if values.size > limit else "")

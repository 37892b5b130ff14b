"""``to_pynapple``: the units of an annotated NWB file as a pynapple ``TsGroup`` with NeurPIR embeddings and
predicted labels as metadata."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    import pandas as pd
    from pynapple import TsGroup  # pynapple is optional (nwb-neurpir[pynapple])

__all__ = ["to_pynapple"]


def to_pynapple(path: str | Path, *, sidecar: str | Path | None = None, name: str | None = None) -> TsGroup:
    """``pynapple.load_file(path)[<units table>]`` with metadata columns ``embedding_0`` … ``embedding_<dim-1>``,
    ``silent`` (True for units without activity in the time read: their vectors say nothing about them) and, per
    predictions table of the same units, ``predicted_<label>`` and the probability of that label in
    ``predicted_<label>_probability`` (NaN for units without a vector; "" and NaN without a prediction). A column of
    the file's own named like one of the package's (``silent``) is renamed ``unit_silent``, as ``read_embeddings``
    does. ``location`` is the package's own, a unit's electrodes' location as every reader gives it (the one
    ``--label location`` means), not pynapple's (its electrode group's).

    The embeddings and predictions are read from ``path`` itself, or from ``sidecar`` when they live in a sidecar
    file; ``name`` picks the embedding table when there are several (default: the one named
    ``NeurPIREmbeddings``). The units are those of the embedding table's units table (``/units``, or another
    sorting's table such as ``processing/ecephys/units_ms5``, which pynapple calls ``units_ms5``); without
    embeddings, the reader's default units table. Only tables of units' vectors and predictions are read: those of
    a file's ROIs, whose ids are not the units', are left out (and an embedding table of ROIs named by ``name`` is
    an error).

    >>> import nwb_neurpir as npir
    >>> units = npir.to_pynapple("sim/sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb")  # doctest: +SKIP
    >>> units.getby_category("predicted_cell_type")["FS"]                             # doctest: +SKIP
    """
    try:
        import pynapple
    except ImportError:
        raise NeurPIRError("to_pynapple needs pynapple: pip install 'nwb-neurpir[pynapple]'") from None

    from nwb_neurpir.store import list_embeddings, list_predictions, read_embeddings, read_predictions

    tables = _units_tables(path)
    if not tables:
        raise NeurPIRError("has no units table for pynapple (spiking data only)", source=path)
    annotated = Path(sidecar) if sidecar is not None else Path(path)
    embeddings = {key: read_embeddings(annotated, key) for key in list_embeddings(annotated)}
    frame = _units_embeddings(embeddings, name, annotated, tables)
    table = tables[0] if frame is None else _source_table(frame.attrs)
    units = _without_identity_names(_pynapple_units(pynapple.load_file(str(path)), table, path), path)
    unit_ids = np.asarray(units.index)
    reader_ids, locations = _reader_locations(path, table)
    if locations is not None:
        units.set_info(location=_aligned(unit_ids, reader_ids, locations[:, None], "")[:, 0].astype(str))
    if frame is not None:
        matrix = _aligned(unit_ids, frame["neuron_id"].to_numpy(), np.stack(frame["embedding"].to_numpy()),
                          np.nan)
        units.set_info(**{f"embedding_{i}": matrix[:, i] for i in range(matrix.shape[1])})
        if "silent" in frame.columns:
            silent = _aligned(unit_ids, frame["neuron_id"].to_numpy(), frame["silent"].to_numpy(dtype=object)[:, None],
                              np.nan)
            units.set_info(silent=silent[:, 0])
    same_units = {table} | {f.attrs["neuron_table"] for f in embeddings.values() if _source_table(f.attrs) == table}
    for key in list_predictions(annotated):
        frame = read_predictions(annotated, key)
        if frame.attrs["neuron_table"] not in same_units:
            continue  # predictions for ROIs or another units table, whose ids are not those of these units
        column, neuron_ids = key.split("/", 1)[1], frame["neuron_id"].to_numpy()
        labels = _aligned(unit_ids, neuron_ids, frame["label"].to_numpy(dtype=object)[:, None], "")
        probability = _aligned(unit_ids, neuron_ids, frame["label_probability"].to_numpy(dtype=np.float64)[:, None],
                               np.nan)
        units.set_info(**{column: labels[:, 0].astype(str), f"{column}_probability": probability[:, 0]})
    return units


def _units_tables(path: str | Path) -> list[str]:
    """The paths of the recording's units tables (``nwb_neurpir.io.units.units_tables``)."""
    from nwb_neurpir.io.nwb_file import open_nwb
    from nwb_neurpir.io.units import units_tables

    with open_nwb(path) as file:
        return units_tables(file)


def _reader_locations(path: str | Path, table: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The ids of the units table at ``table`` and each unit's ``location`` as the readers give it (through its
    electrodes, ``unit_metadata``), None when the table has none."""
    from nwb_neurpir.io.h5_tables import table_ids
    from nwb_neurpir.io.nwb_file import open_nwb
    from nwb_neurpir.io.units import unit_metadata

    with open_nwb(path) as file:
        ids = table_ids(file[table], str(path))
        metadata = unit_metadata(file[table], ids.size, str(path))
    return ids, metadata["location"].to_numpy(dtype=object) if "location" in metadata else None


def _pynapple_units(data: Any, table: str, path: str | Path) -> TsGroup:  # noqa: ANN401 - pynapple's NWBFile
    """The ``TsGroup`` pynapple loads for the units table at ``table`` (it names a table by its own name)."""
    key = table.rsplit("/", 1)[-1]
    if key not in data.keys():
        raise NeurPIRError(f"pynapple does not load the units table {table} (it loads: {', '.join(data.keys())})",
                           source=path)
    return data[key]


def _without_identity_names(units: TsGroup, path: str | Path) -> TsGroup:
    """``units`` with its metadata columns named like the package's own (``silent``...) renamed ``unit_<name>``,
    as ``read_embeddings`` renames them (``identity_renames``)."""
    from nwb_neurpir.io.identity import identity_renames

    for name, renamed in identity_renames(units.metadata_columns, str(path)).items():
        units.set_info(**{renamed: units.get_info(name).to_numpy()})
        units.drop_info(name)
    return units


def _source_table(attrs: dict[str, Any]) -> str:
    """The path of the neuron table of the embedding table whose ``read_embeddings`` attrs are ``attrs``: in the
    source file, for a sidecar."""
    return str((attrs.get("source") or {}).get("neuron_table", attrs["neuron_table"])).strip("/")


def _units_embeddings(frames: dict[str, pd.DataFrame], name: str | None, annotated: Path,
                      tables: list[str]) -> pd.DataFrame | None:
    """The embedding table called ``name``, which must hold the vectors of one of the units ``tables``; without a
    name, the one of ``frames`` (tables by ``module/name``) that holds units' vectors (among several, the
    default-named one), or None."""
    from nwb_neurpir.store import read_embeddings
    from nwb_neurpir.workflows.embeddings import one_embedding_table

    if name is not None:
        frame = read_embeddings(annotated, name)
        if _source_table(frame.attrs) not in tables:
            raise NeurPIRError(f"embedding table {name!r} holds vectors of {frame.attrs['neuron_table']}, not of the "
                               "units; to_pynapple reads units", source=annotated)
        return frame
    of_units = [key for key, frame in frames.items() if _source_table(frame.attrs) in tables]
    key = one_embedding_table(of_units, "of units", "name=", annotated)
    return None if key is None else frames[key]


def _aligned(unit_ids: np.ndarray, neuron_ids: np.ndarray, values: np.ndarray, missing: Any) -> np.ndarray:  # noqa: ANN401
    """``values`` (rows in ``neuron_ids`` order) as rows in ``unit_ids`` order, ``missing`` where absent."""
    out = np.full((unit_ids.size, values.shape[1]), missing, dtype=values.dtype if missing != "" else object)
    position = {int(neuron): row for row, neuron in enumerate(neuron_ids)}
    for index, unit in enumerate(unit_ids):
        if int(unit) in position:
            out[index] = values[position[int(unit)]]
    return out

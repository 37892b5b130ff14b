"""``to_pynapple``: the units of an annotated NWB file as a pynapple ``TsGroup`` with NeurPIR embeddings and
predicted labels as metadata."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["to_pynapple"]


def to_pynapple(path: str | Path, *, sidecar: str | Path | None = None, name: str | None = None) -> Any:  # noqa: ANN401
    """``pynapple.load_file(path)["units"]`` with metadata columns ``embedding_0`` … ``embedding_<dim-1>`` and one
    ``predicted_<label>`` column per predictions table (NaN / "" for units without one).

    The embeddings and predictions are read from ``path`` itself, or from ``sidecar`` when they live in a sidecar
    file; ``name`` picks the embedding table when there are several (default: the one named
    ``NeurPIREmbeddings``). Only tables of the units' vectors and predictions are read: those of a file's ROIs, whose
    ids are not the units', are left out (and an embedding table of ROIs named by ``name`` is an error).

    >>> import nwb_neurpir as npir
    >>> units = npir.to_pynapple("sim/sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb")  # doctest: +SKIP
    >>> units.getby_category("predicted_cell_type")["FS"]                             # doctest: +SKIP
    """
    try:
        import pynapple
    except ImportError:
        raise NeurPIRError("to_pynapple needs pynapple: pip install 'nwb-neurpir[pynapple]'") from None

    from nwb_neurpir.store import list_embeddings, list_predictions, read_embeddings, read_predictions

    data = pynapple.load_file(str(path))
    if "units" not in data.keys():
        raise NeurPIRError("has no units table for pynapple (spiking data only)", source=path)
    units = data["units"]
    annotated = Path(sidecar) if sidecar is not None else Path(path)
    unit_ids = np.asarray(units.index)
    embeddings = {key: read_embeddings(annotated, key) for key in list_embeddings(annotated)}
    frame = _units_embeddings(embeddings, name, annotated)
    if frame is not None:
        matrix = _aligned(unit_ids, frame["neuron_id"].to_numpy(), np.stack(frame["embedding"].to_numpy()),
                          np.nan)
        units.set_info(**{f"embedding_{i}": matrix[:, i] for i in range(matrix.shape[1])})
    unit_tables = {"units"} | {f.attrs["neuron_table"] for f in embeddings.values() if _over_units(f.attrs)}
    for key in list_predictions(annotated):
        frame = read_predictions(annotated, key)
        if frame.attrs["neuron_table"] not in unit_tables:
            continue  # predictions for ROIs, whose ids are not those of the units
        labels = _aligned(unit_ids, frame["neuron_id"].to_numpy(), frame["label"].to_numpy(dtype=object)[:, None],
                          "")
        units.set_info(**{key.split("/", 1)[1]: labels[:, 0].astype(str)})
    return units


def _over_units(attrs: dict[str, Any]) -> bool:
    """Whether the embedding table whose ``read_embeddings`` attrs are ``attrs`` holds vectors of units (of the
    source's units, for a sidecar)."""
    return str((attrs.get("source") or {}).get("neuron_table", attrs["neuron_table"])).strip("/") == "units"


def _units_embeddings(frames: dict[str, pd.DataFrame], name: str | None, annotated: Path) -> pd.DataFrame | None:
    """The embedding table called ``name``, which must hold units' vectors; without a name, the one of ``frames``
    (tables by ``module/name``) that holds units' vectors (among several, the default-named one), or None."""
    from nwb_neurpir.store import read_embeddings
    from nwb_neurpir.workflows.embeddings import one_embedding_table

    if name is not None:
        frame = read_embeddings(annotated, name)
        if not _over_units(frame.attrs):
            raise NeurPIRError(f"embedding table {name!r} holds vectors of {frame.attrs['neuron_table']}, not of the "
                               "units; to_pynapple reads units", source=annotated)
        return frame
    of_units = [key for key, frame in frames.items() if _over_units(frame.attrs)]
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

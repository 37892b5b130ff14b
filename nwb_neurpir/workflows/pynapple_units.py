"""``to_pynapple``: the units of an annotated NWB file as a pynapple ``TsGroup`` with NeurPIR embeddings and
predicted labels as metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["to_pynapple"]


def to_pynapple(path: str | Path, *, sidecar: str | Path | None = None, name: str | None = None) -> Any:  # noqa: ANN401
    """``pynapple.load_file(path)["units"]`` with metadata columns ``embedding_0`` … ``embedding_<dim-1>`` and one
    ``predicted_<label>`` column per predictions table (NaN / "" for units without one).

    The embeddings and predictions are read from ``path`` itself, or from ``sidecar`` when they live in a sidecar
    file; ``name`` picks the embedding table when there are several (default: the one named
    ``NeurPIREmbeddings``).

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
    tables = list_embeddings(annotated)
    if tables:
        frame = read_embeddings(annotated, name or _default_if_several(tables))
        matrix = _aligned(unit_ids, frame["neuron_id"].to_numpy(), np.stack(frame["embedding"].to_numpy()),
                          np.nan)
        units.set_info(**{f"embedding_{i}": matrix[:, i] for i in range(matrix.shape[1])})
    for key in list_predictions(annotated):
        frame = read_predictions(annotated, key)
        labels = _aligned(unit_ids, frame["neuron_id"].to_numpy(), frame["label"].to_numpy(dtype=object)[:, None],
                          "")
        units.set_info(**{key.split("/", 1)[1]: labels[:, 0].astype(str)})
    return units


def _default_if_several(tables: list[str]) -> str | None:
    """The default-named table among several embedding tables (``module/name``), else None (the only one, or
    several that ``read_embeddings`` refuses to choose from)."""
    from nwb_neurpir.store import DEFAULT_NAME
    from nwb_neurpir.store.read import tables_named

    named = tables_named(tables, DEFAULT_NAME)
    return named[0] if len(tables) > 1 and len(named) == 1 else None


def _aligned(unit_ids: np.ndarray, neuron_ids: np.ndarray, values: np.ndarray, missing: Any) -> np.ndarray:  # noqa: ANN401
    """``values`` (rows in ``neuron_ids`` order) as rows in ``unit_ids`` order, ``missing`` where absent."""
    out = np.full((unit_ids.size, values.shape[1]), missing, dtype=values.dtype if missing != "" else object)
    position = {int(neuron): row for row, neuron in enumerate(neuron_ids)}
    for index, unit in enumerate(unit_ids):
        if int(unit) in position:
            out[index] = values[position[int(unit)]]
    return out

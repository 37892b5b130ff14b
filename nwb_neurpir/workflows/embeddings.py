"""``read_embeddings``: the embeddings stored in many annotated NWB files (or sidecars) as one DataFrame."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store.remove import remove_embeddings
from nwb_neurpir.workflows.recordings import source_items

if TYPE_CHECKING:
    from nwb_neurpir.workflows.recordings import Sources

__all__ = ["annotated_files", "read_embeddings", "remove_embeddings"]

JOIN_KEYS = ("file", "neuron_table", "neuron_id")
"""What names a neuron among the rows of annotated files: predictions are joined to its embedding on them."""


def annotated_files(sources: Sources, glob: str | None = None,
                    name: str | None = None) -> list[str]:
    """The local NWB files the sources name that hold NeurPIR embeddings (called ``name``, when given).

    Files named one by one must hold embeddings; files found in a folder or by a glob without any are skipped
    (a folder of recordings next to their sidecars, sidecars of other names). DANDI assets and URLs are refused:
    annotate them first and read their sidecars.
    """
    from nwb_neurpir.io.resolve import resolve_sources
    from nwb_neurpir.io.sources import parse_source
    from nwb_neurpir.store import list_embeddings

    items = source_items(sources)
    paths = []
    for item in items:
        if parse_source(item).kind not in ("file", "folder", "glob"):
            raise NeurPIRError("embeddings are read from local annotated files or sidecars; annotate this source "
                               "(npir.annotate writes a sidecar) and read that file", source=item)
        resolved = resolve_sources([item], glob)
        named = len(resolved) == 1 and Path(resolved[0].location) == Path(item)
        paths.extend(source.location for source in resolved
                     if named or _holds(list_embeddings(source.location), name))
    if not paths:
        raise NeurPIRError("no annotated NWB file (with NeurPIR embeddings) found", source=", ".join(map(str, items)))
    return list(dict.fromkeys(paths))


def _holds(tables: list[str], name: str | None) -> bool:
    """Whether the embedding tables ``tables`` (``module/name``) of a file include ``name`` (any, if None)."""
    from nwb_neurpir.store.read import tables_named

    return bool(tables if name is None else tables_named(tables, name))


def read_embeddings(sources: Sources, name: str | None = None, *,
                    glob: str | None = None, zscore: bool = False, predictions: bool = True) -> pd.DataFrame:
    """One row per neuron of every annotated file: ``subject_id``, ``session_id``, ``neuron_id``, ``neuron_table``
    (the table in the file whose id it is: ``units``, a ``PlaneSegmentation`` or, in a sidecar, its copy of the
    source's neurons), ``embedding`` (float32 vector), the neuron's label columns (``cell_type``, ``brain_area``,
    ``location``, ...), predicted labels (a ``predicted_<label>`` column per ``neurpir predict`` table of the same
    neurons, and the probability of that label in ``predicted_<label>_probability``, NaN where none was predicted;
    unless ``predictions=False``) and ``file``. ``nwb_neurpir.store.read_predictions`` gives every class's
    probability.
    ``subject_id`` is the file's animal, ``(<session id>)`` for a file without one; a neuron-table column named like
    one of these columns is read as ``unit_<name>`` (``unit_subject_id``).

    ``sources`` is a file, a folder (files without embeddings are skipped) or a list of them; ``name`` picks the
    embedding table when a file has several. The vectors are stored raw: they are *not* centred per session, so
    session-wide offsets (e.g. overall firing rate) remain; ``zscore=True`` z-scores every component within each
    file (session), as the evaluation's probes do. ``attrs["training_data"]`` lists the sessions the model(s) were
    trained on, ``attrs["model_sha256"]`` the checksums of the model(s) that made the vectors.
    ``np.stack(frame["embedding"])`` gives the (n_neurons, dim) matrix.

    >>> import nwb_neurpir as npir
    >>> frame = npir.read_embeddings("sim/", zscore=True)                       # doctest: +SKIP
    >>> frame.groupby("subject_id").size()                                      # doctest: +SKIP
    """
    from nwb_neurpir.workflows.annotated import read_annotated
    from nwb_neurpir.evaluation.probes import standardize_per_session

    paths = annotated_files(sources, glob, name)
    table = read_annotated(paths, name)
    table.attrs["model_sha256"] = sorted({model_sha256_of(path, name) for path in paths})
    if predictions:
        table = _with_predictions(table)
    if zscore:
        vectors = np.stack([np.asarray(v, dtype=np.float32) for v in table["embedding"]])
        table["embedding"] = list(standardize_per_session(vectors, table["file"].to_numpy()).astype(np.float32))
    table.attrs["zscored"] = bool(zscore)
    return table


def model_sha256_of(path: str, name: str | None) -> str:
    """The checkpoint checksum of the model that made the embeddings ``name`` (the only table, if None) of a file."""
    from nwb_neurpir.store import read_embeddings as read_one

    return str(read_one(path, name).attrs["model"]["checkpoint_sha256"])


def one_embedding_table(keys: Iterable[str], which: str, pick: str, source: str | Path) -> str | None:
    """The only one of ``keys`` (``module/name`` embedding tables, ``which`` says of what), or among several the
    default-named one; None when there are none; a NeurPIRError telling how to ``pick`` when several remain."""
    from nwb_neurpir.store import DEFAULT_NAME
    from nwb_neurpir.store.read import tables_named

    chosen = list(keys)
    if len(chosen) > 1:
        chosen = tables_named(chosen, DEFAULT_NAME) or chosen
    if len(chosen) > 1:
        raise NeurPIRError(f"has several embedding tables {which} ({', '.join(chosen)}); pick one by name ({pick})",
                           source=source)
    return chosen[0] if chosen else None


def _with_predictions(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``<prediction table name>`` column per predictions table found in its files and the
    probability of that predicted label in ``<prediction table name>_probability``, each joined to the rows of its
    own file and neuron table (a file's units and ROIs, or two planes' ROIs, share ids)."""
    from nwb_neurpir.store import list_predictions, read_predictions

    attrs = dict(table.attrs)
    columns: dict[str, list[pd.DataFrame]] = {}
    for path in table["file"].unique():
        for key in list_predictions(path):
            column = key.split("/", 1)[1]
            predicted = read_predictions(path, key)
            labels = predicted[["neuron_id", "label", "label_probability"]].rename(
                columns={"label": column, "label_probability": f"{column}_probability"})
            columns.setdefault(column, []).append(labels.assign(file=path,
                                                                neuron_table=predicted.attrs["neuron_table"]))
    for column, parts in columns.items():
        if column in table.columns:
            continue
        found = pd.concat(parts, ignore_index=True)
        table = table.merge(found[[name for name in found.columns if name not in table.columns or name in JOIN_KEYS]],
                            on=list(JOIN_KEYS), how="left", validate="many_to_one")
    table.attrs = attrs
    return table

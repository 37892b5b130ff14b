"""The ndx-neurpir objects for one set of embeddings, built from plain arrays and a ``ModelProvenance``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.recording import SourceInfo

__all__ = ["embeddings_table", "label_table", "model_container", "model_name", "source_container"]


def model_name(embeddings_name: str) -> str:
    """Name of the ``NeurPIRModel`` that sits next to the embeddings called ``embeddings_name``."""
    return f"{embeddings_name}_model"


def model_container(provenance: ModelProvenance, embeddings_name: str) -> Any:
    """A ``NeurPIRModel`` holding ``provenance``."""
    from ndx_neurpir import NeurPIRModel

    return NeurPIRModel(
        name=model_name(embeddings_name),
        description=provenance.description,
        package_version=provenance.package_version,
        checkpoint_sha256=provenance.checkpoint_sha256,
        created=datetime.fromisoformat(provenance.created.replace("Z", "+00:00")),  # Python 3.10 rejects "Z"
        hyperparameters=provenance.hyperparameters_json(),
        training_data=list(provenance.training_data),
    )


def embeddings_table(name: str, neuron_ids: np.ndarray, rows: np.ndarray, vectors: np.ndarray, target: Any,
                     model: Any, source_file: Any = None, silent: np.ndarray | None = None) -> Any:
    """A ``NeuronEmbeddings`` table: row ``i`` is neuron ``neuron_ids[i]``, found at ``rows[i]`` of ``target``;
    with ``silent``, its column marking the neurons without activity in the time read."""
    from hdmf.common import DynamicTableRegion, VectorData
    from ndx_neurpir import NeuronEmbeddings

    n_neurons, dim = vectors.shape
    marks = [] if silent is None else [VectorData(
        name="silent", data=silent,
        description="True for a neuron without activity in the time read (a unit without spikes there): its vector "
                    "says nothing about it.")]
    return NeuronEmbeddings(
        name=name,
        description=(f"NeurPIR embeddings: one {dim}-dimensional vector per neuron for {n_neurons} neurons of "
                     f"'{target.name}', made by the model '{model.name}'."),
        model=model,
        source_file=source_file,
        id=neuron_ids,
        columns=[
            DynamicTableRegion(name="neurons", data=rows, table=target,
                               description=f"Row of each neuron in the table '{target.name}'."),
            VectorData(name="embedding", data=vectors,
                       description="Embedding vector of each neuron (dimensionless NeurPIR representation)."),
            *marks,
        ],
    )


def source_container(source: SourceInfo, neuron_table: str) -> Any:
    """A ``NeurPIRSource`` naming the file (and DANDI asset, when known) that a sidecar describes."""
    from ndx_neurpir import NeurPIRSource

    optional = {"dandiset_id": source.dandiset, "dandiset_version": source.version, "asset_id": source.asset_id,
                "asset_path": source.asset_path}
    return NeurPIRSource(name="source", identifier=source.identifier, location=source.location,
                         neuron_table=neuron_table, **{key: value for key, value in optional.items() if value})


def label_table(name: str, neuron_ids: np.ndarray, labels: pd.DataFrame, neuron_table: str) -> Any:
    """A ``DynamicTable`` with the neuron ids and their one-value-per-row label columns, copied from the source."""
    from hdmf.common import DynamicTable

    table = DynamicTable(name=name, id=neuron_ids,
                         description=f"Neurons of the source table '{neuron_table}' and label columns copied from "
                                     "it, so that embeddings in this file can be joined back to the source.")
    for column in labels.columns:
        if str(column) == "id" or "/" in str(column):
            continue
        values = _scalar_column(labels[column])
        if values is not None:
            table.add_column(name=str(column), description=f"Column '{column}' of the source table '{neuron_table}'.",
                             data=values)
    return table


def _scalar_column(values: pd.Series) -> np.ndarray | None:
    """The column as numbers, booleans or strings; ``None`` when its cells are not single values."""
    array = values.to_numpy()
    if array.dtype.kind in "biuf":
        return array
    if any(isinstance(value, (list, tuple, dict, set, np.ndarray)) for value in array):
        return None
    return np.array(["" if pd.isna(value) else str(value) for value in array], dtype=object)

"""What ``stability`` measures, read from an evaluation's inputs: each recording's tracked column and the vectors of
the representations a stability is reported for (NeurPIR variants and the hand features)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.dataset import table_session_keys
from nwb_neurpir.evaluation.methods import Method
from nwb_neurpir.evaluation.representations import NEURPIR_VARIANTS
from nwb_neurpir.evaluation.stability import TrackedRecording, tracked_values
from nwb_neurpir.recording import Recording

__all__ = ["STABILITY_REPRESENTATIONS", "stability_names", "table_inputs", "tracked_recordings"]

STABILITY_REPRESENTATIONS = (*NEURPIR_VARIANTS, "hand")
"""Representations whose stability is measured (per-neuron vectors of their own; combinations and PCA are not)."""


def stability_names(methods: Sequence[Method]) -> list[str]:
    """The representations among ``methods``' sources whose stability is measured, in their order."""
    sources = dict.fromkeys(source for method in methods for source in method.sources)
    return [name for name in sources if name in STABILITY_REPRESENTATIONS]


def tracked_recordings(recordings: Sequence[Recording], keys: Sequence[str], column: str) -> list[TrackedRecording]:
    """Each recording's animal, session key and ``column`` values; a NeurPIRError naming the first file that lacks
    the column."""
    out = []
    for recording, key in zip(recordings, keys):
        if column not in recording.neuron_metadata.columns:
            raise _no_column(column, recording.neuron_metadata.columns, recording.source.label())
        out.append(TrackedRecording(recording.subject_id, key, tracked_values(recording.neuron_metadata[column])))
    return out


def table_inputs(table: pd.DataFrame, column: str) -> tuple[list[TrackedRecording], list[np.ndarray]]:
    """Per recording of an embeddings table (a ``file``, else a subject and session): its tracked neurons and their
    vectors (NaN rows where a vector is missing or of another length)."""
    if column not in table.columns:
        raise _no_column(column, table.columns, ", ".join(dict.fromkeys(table["file"].astype(str)))
                         if "file" in table.columns else "embeddings")
    keys = table_session_keys(table)
    dim = max((np.asarray(v).size for v in table["embedding"]), default=0)
    tracked, matrices = [], []
    for key in dict.fromkeys(keys.tolist()):
        rows = table[keys == key]
        tracked.append(TrackedRecording(str(rows["subject_id"].iloc[0]), key, tracked_values(rows[column])))
        matrices.append(np.stack([np.asarray(v, dtype=np.float64).ravel() if np.asarray(v).size == dim
                                  else np.full(dim, np.nan) for v in rows["embedding"]]))
    return tracked, matrices


def _no_column(column: str, columns: Sequence[object], source: str) -> NeurPIRError:
    """The error for inputs named ``source`` whose neuron columns ``columns`` lack the ``--match-column``."""
    available = ", ".join(map(str, columns)) or "none"
    return NeurPIRError(f"has no neuron column {column!r} (--match-column); available: {available}", source=source)

"""The labelled neurons of one evaluation: who they are (animal, session, id), their class, and where they live.

Built either from ``Recording`` objects (label = a column of ``neuron_metadata``) or from an embeddings table (one row
per neuron with ``subject_id``, ``session_id``, ``neuron_id``, the label column and an ``embedding`` vector).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.grouping import LabelGrouping, check_categorical, check_grouping_matches, group_labels
from nwb_neurpir.recording import Recording, unit_names

__all__ = ["LabelledNeurons", "check_classes", "from_embeddings", "from_recordings", "session_keys", "session_names",
           "table_population", "table_session_keys", "table_sessions", "unique_session_keys"]

EMBEDDING_COLUMNS = ("subject_id", "session_id", "neuron_id", "embedding")


@dataclass
class LabelledNeurons:
    """One row per kept neuron (label inside the grouping); arrays share the row order."""

    label_name: str
    subject_ids: np.ndarray
    session_keys: np.ndarray
    """``subject/session`` (made unique per recording)."""
    sessions: np.ndarray
    """``subject/session``, one for every recording of a session (two spike sortings of it): what a
    leave-one-session-out split holds out whole."""
    neuron_ids: np.ndarray
    labels: np.ndarray
    dropped: dict[str, int]
    """Raw label value -> neurons dropped with it."""
    n_total: int
    """Neurons before dropping."""
    recording_rows: list[np.ndarray] = field(default_factory=list)
    """Per recording (when built from recordings): row indices into that recording for each kept neuron of it,
    in the order the kept neurons appear here (recordings are concatenated in order)."""
    label_values: dict[str, int] = field(default_factory=dict)
    """Every raw label value present -> its neurons, kept or not (``GroupedLabels.values``)."""
    unit_names: np.ndarray | None = None
    """Each neuron's ``unit_name`` ("" where its recording has none), None when no recording has that column."""
    silent: np.ndarray | None = None
    """Each neuron's ``silent`` marker (no activity in the time read; ``silent_rows``), None when unknown."""
    locations: np.ndarray | None = None
    """Each neuron's file (where its recording was read from, or the annotated file of its embeddings row; ""
    where unknown), None when not known at all."""
    neuron_tables: np.ndarray | None = None
    """The path of each neuron's table in its file (``units``, a ``PlaneSegmentation``; "" where unknown), None when
    not known at all."""

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels.tolist())))

    def __len__(self) -> int:
        return int(self.labels.size)

    def without(self, drop: np.ndarray, reason: str) -> LabelledNeurons:
        """These neurons minus the rows where ``drop`` is True, counted in ``dropped`` under ``reason``."""
        keep = ~np.asarray(drop, dtype=bool)
        dropped = dict(self.dropped)
        if drop.any():
            dropped[reason] = dropped.get(reason, 0) + int(drop.sum())
        bounds = np.cumsum([0] + [rows.size for rows in self.recording_rows])
        return LabelledNeurons(label_name=self.label_name, subject_ids=self.subject_ids[keep],
                               session_keys=self.session_keys[keep], sessions=self.sessions[keep],
                               neuron_ids=self.neuron_ids[keep],
                               labels=self.labels[keep], dropped=dropped, n_total=self.n_total,
                               recording_rows=[rows[keep[a:b]] for rows, a, b in
                                               zip(self.recording_rows, bounds[:-1], bounds[1:])],
                               label_values=self.label_values,
                               unit_names=None if self.unit_names is None else self.unit_names[keep],
                               silent=None if self.silent is None else self.silent[keep],
                               locations=None if self.locations is None else self.locations[keep],
                               neuron_tables=None if self.neuron_tables is None else self.neuron_tables[keep])


def session_names(recordings: Sequence[Recording]) -> list[str]:
    """``subject/session`` per recording: the session it was recorded in, shared by every recording of it."""
    return [f"{r.subject_id}/{r.session_id or r.source.identifier}" for r in recordings]


def session_keys(recordings: Sequence[Recording]) -> list[str]:
    """``subject/session`` per recording; repeated keys get ``#2``, ``#3``... so every recording has its own."""
    return unique_session_keys(session_names(recordings))


def unique_session_keys(sessions: Sequence[str]) -> list[str]:
    """A key per recording given as its ``subject/session``, in order; a repeated session gets ``#2``, ``#3``... so
    every recording has its own. The one rule for recordings and for embeddings tables."""
    keys: list[str] = []
    for key in sessions:
        candidate, repeat = key, 1
        while candidate in keys:
            repeat += 1
            candidate = f"{key}#{repeat}"
        keys.append(candidate)
    return keys


def check_classes(labels: np.ndarray, label: str, grouping: LabelGrouping | None, source: str) -> None:
    """NeurPIRError unless at least two classes remain and they look like categories (``check_categorical``)."""
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        after = f" after grouping {grouping.name!r}" if grouping is not None else ""
        found = f"only {classes[0]!r}" if classes else "no labelled neurons"
        raise NeurPIRError(f"label {label!r} has {found}{after}; a probe needs at least two classes", source=source)
    check_categorical(labels, label)


def from_recordings(recordings: Sequence[Recording], label: str, grouping: LabelGrouping | None) -> LabelledNeurons:
    """Labelled neurons of ``recordings``; a label column missing from every recording is a NeurPIRError."""
    if not recordings:
        raise NeurPIRError("no recordings to evaluate")
    if not any(label in recording.neuron_metadata.columns for recording in recordings):
        available = sorted({c for r in recordings for c in r.neuron_metadata.columns})
        raise NeurPIRError(f"no recording has a neuron column {label!r}; available: {', '.join(available) or 'none'}",
                           source=recordings[0].source.label())
    raw, ids, owners = [], [], []
    for index, recording in enumerate(recordings):
        metadata = recording.neuron_metadata
        raw.extend(metadata[label].tolist() if label in metadata.columns else [None] * recording.n_neurons)
        ids.append(recording.neuron_ids)
        owners.append(np.full(recording.n_neurons, index))
    grouped = group_labels(raw, grouping)
    check_grouping_matches(grouped, grouping, label)
    owner = np.concatenate(owners)[grouped.keep]
    within = np.concatenate([np.arange(r.n_neurons) for r in recordings])[grouped.keep]

    def kept(per_recording: Sequence[str]) -> np.ndarray:
        return np.asarray(per_recording, dtype=str)[owner]

    neurons = LabelledNeurons(label_name=label, subject_ids=kept([r.subject_id for r in recordings]),
                              session_keys=kept(session_keys(recordings)), sessions=kept(session_names(recordings)),
                              neuron_ids=np.concatenate(ids)[grouped.keep], labels=grouped.labels,
                              dropped=grouped.dropped, n_total=len(raw),
                              recording_rows=[within[owner == index] for index in range(len(recordings))],
                              label_values=grouped.values,
                              unit_names=_recordings_unit_names(recordings, grouped.keep),
                              silent=np.concatenate([r.silent() for r in recordings])[grouped.keep],
                              locations=kept([r.source.recorded_location for r in recordings]),
                              neuron_tables=kept([r.neuron_table.strip("/") for r in recordings]))
    check_classes(neurons.labels, label, grouping, recordings[0].source.label())
    return neurons


def from_embeddings(table: pd.DataFrame, label: str, grouping: LabelGrouping | None,
                    source: str = "embeddings") -> tuple[LabelledNeurons, np.ndarray]:
    """Labelled neurons and their (n_kept, dim) embedding matrix from an embeddings table."""
    missing = [name for name in (*EMBEDDING_COLUMNS, label) if name not in table.columns]
    if missing:
        available = ", ".join(map(str, table.columns))
        raise NeurPIRError(f"embeddings table lacks column(s) {', '.join(missing)}; available: {available}",
                           source=source)
    if len(table) == 0:
        raise NeurPIRError("embeddings table is empty", source=source)
    grouped = group_labels(table[label].tolist(), grouping)
    check_grouping_matches(grouped, grouping, label)
    kept = table.loc[grouped.keep]
    keys = table_session_keys(table)[np.asarray(grouped.keep)]
    try:
        vectors = np.stack([np.asarray(v, dtype=np.float64).ravel() for v in kept["embedding"]]) if len(kept) else \
            np.zeros((0, 0))
    except ValueError:
        raise NeurPIRError("embedding vectors do not all have the same length", source=source) from None
    neurons = LabelledNeurons(label_name=label, subject_ids=kept["subject_id"].astype(str).to_numpy(),
                              session_keys=keys, sessions=table_sessions(table)[np.asarray(grouped.keep)],
                              neuron_ids=kept["neuron_id"].to_numpy(),
                              labels=grouped.labels, dropped=grouped.dropped, n_total=len(table),
                              label_values=grouped.values, unit_names=unit_names(kept),
                              silent=kept["silent"].to_numpy(dtype=object) if "silent" in kept.columns else None,
                              locations=_text_column(kept, "file"), neuron_tables=_text_column(kept, "neuron_table"))
    check_classes(neurons.labels, label, grouping, source)
    return neurons, vectors


def _text_column(table: pd.DataFrame, column: str) -> np.ndarray | None:
    """An embeddings table's ``column`` as text ("" where missing), None when the table has no such column."""
    if column not in table.columns:
        return None
    return np.array(["" if pd.isna(value) else str(value) for value in table[column]], dtype=object)


def _recordings_unit_names(recordings: Sequence[Recording], keep: np.ndarray) -> np.ndarray | None:
    """The ``unit_name`` of the kept neurons of ``recordings`` ("" in a recording without that column), None when
    none of them has it."""
    names = [unit_names(recording.neuron_metadata) for recording in recordings]
    if all(per_recording is None for per_recording in names):
        return None
    return np.concatenate([np.full(r.n_neurons, "", dtype=object) if per_recording is None else per_recording
                           for r, per_recording in zip(recordings, names)])[keep]


def table_population(table: pd.DataFrame, key_column: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Every neuron of an embeddings table, labelled or not, with a finite vector: (vectors, session keys as in
    ``from_embeddings``, or the values of ``key_column``); None when the vectors differ in length."""
    lengths = {np.asarray(v).size for v in table["embedding"]}
    if len(lengths) != 1:
        return None
    vectors = np.stack([np.asarray(v, dtype=np.float64).ravel() for v in table["embedding"]])
    finite = np.isfinite(vectors).all(axis=1)
    keys = table_session_keys(table) if key_column is None else table[key_column].astype(str).to_numpy()
    return vectors[finite], keys[finite]


def table_sessions(table: pd.DataFrame) -> np.ndarray:
    """``subject/session`` of every row of an embeddings table, as ``session_names`` gives them to recordings."""
    return (table["subject_id"].astype(str) + "/" + table["session_id"].astype(str)).to_numpy().astype(str)


def table_session_keys(table: pd.DataFrame) -> np.ndarray:
    """``subject/session`` of every row of an embeddings table, as ``session_keys`` gives them to recordings: a
    recording is a ``file`` (when the table has that column), numbered ``#2``... when it repeats a subject and
    session."""
    sessions = pd.Series(table_sessions(table), index=table.index)
    recording = table["file"].astype(str) if "file" in table.columns else sessions
    first = ~recording.duplicated().to_numpy()
    key_of = dict(zip(recording[first], unique_session_keys(sessions[first].tolist())))
    return recording.map(key_of).to_numpy().astype(str)

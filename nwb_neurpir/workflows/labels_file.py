"""Labels kept outside the NWB files (an opto-tagging sheet, a curation table): a CSV/TSV file or DataFrame with a
``neuron_id`` column, the label column and a key naming each neuron's recording, whose values stand in for that
column of the files (``neurpir evaluate --labels``, ``neurpir predict --fit-on ... --labels``).

Key rule: the recording is named by ``identifier`` (its NWB identifier) when the table has that column, else by
``session_id``; a ``subject_id`` column, when present, must match too. Neurons the table lists get its value (an
empty cell leaves them unlabelled); neurons it does not list are unlabelled, whatever their file says. Rows that
match no neuron are ignored with a warning that counts them; when none matches, or a key names two recordings whose
neuron ids overlap (so a row could be either's), or a neuron is listed twice, it is an error naming the table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.recording import Recording

__all__ = ["ExternalLabels", "read_labels", "relabel_frame", "relabel_recordings"]

RECORDING_KEYS = ("identifier", "session_id")
"""The columns that can name a neuron's recording, in the order the first present one is used."""


@dataclass(frozen=True)
class ExternalLabels:
    """A labels table checked for its columns: key columns and ``neuron_id`` as text, then the label column."""

    table: pd.DataFrame
    key: tuple[str, ...]
    """The columns naming a neuron's recording: ``identifier`` or ``session_id``, after ``subject_id`` if present."""
    label: str
    source: str
    """What the table is called in messages: its path, or ``labels table``."""
    file: str | None = None
    """The file the table was read from, as an absolute path (None for a DataFrame)."""
    sha256: str | None = None
    """The sha256 of that file's bytes (None for a DataFrame)."""


def read_labels(labels: str | Path | pd.DataFrame, label: str) -> ExternalLabels:
    """The labels of ``label`` from a CSV (``.tsv``/``.tab``: tab-separated) file or a DataFrame, checked for the
    columns it needs and for neurons listed twice."""
    source = "labels table" if isinstance(labels, pd.DataFrame) else str(labels)
    if isinstance(labels, pd.DataFrame):
        table, file, sha256 = labels.copy(), None, None
    else:
        (table, sha256), file = _read_table(Path(labels)), str(Path(labels).absolute())
    recording = next((name for name in RECORDING_KEYS if name in table.columns), None)
    missing = [name for name in ("neuron_id", label) if name not in table.columns]
    if recording is None or missing:
        needed = ", ".join([*missing, *([] if recording else ["identifier or session_id"])])
        raise NeurPIRError(f"the labels table lacks {needed} (it has {', '.join(map(str, table.columns))})", source)
    key = (*(["subject_id"] if "subject_id" in table.columns else []), recording)
    if table[[*key, "neuron_id"]].isna().any(axis=None):
        raise NeurPIRError(f"the labels table has rows without {' or '.join([*key, 'neuron_id'])}", source)
    for column in (*key, "neuron_id"):
        table[column] = [_as_text(value) for value in table[column]]
    twice = table.duplicated([*key, "neuron_id"])
    if twice.any():
        row = table[twice].iloc[0]
        raise NeurPIRError(f"neuron {row['neuron_id']} of {_named(key, row)} is listed twice", source)
    return ExternalLabels(table=table[[*key, "neuron_id", label]], key=key, label=label, source=source, file=file,
                          sha256=sha256)


def relabel_recordings(recordings: Sequence[Recording], labels: ExternalLabels) -> list[Recording]:
    """The recordings with their ``labels.label`` column replaced by the table's values (unlisted neurons:
    missing)."""
    neurons = pd.concat([pd.DataFrame({
        "subject_id": recording.subject_id, "session_id": recording.session_id or recording.source.identifier,
        "identifier": recording.source.identifier, "neuron_id": [_as_text(n) for n in recording.neuron_ids],
        "recording": recording.source.label()}) for recording in recordings], ignore_index=True)
    values = _matched(neurons, labels)
    bounds = np.cumsum([0, *(recording.n_neurons for recording in recordings)])
    return [dataclasses.replace(recording, neuron_metadata=recording.neuron_metadata.assign(
        **{labels.label: values[start:stop]})) for recording, start, stop in zip(recordings, bounds[:-1], bounds[1:])]


def relabel_frame(frame: pd.DataFrame, labels: ExternalLabels) -> pd.DataFrame:
    """An embeddings frame (``read_embeddings``, ``read_annotated``) with its ``labels.label`` column replaced by the
    table's values; keyed by ``identifier``, each file's recording identifier is read from the file in ``file``."""
    from nwb_neurpir.store.read import annotated_recording

    needed = [name for name in ("neuron_id", "file", *labels.key) if name not in frame.columns
              and name != "identifier"]
    if needed:
        raise NeurPIRError(f"the embeddings have no column {needed[0]} to match the labels table's rows by",
                           labels.source)
    neurons = pd.DataFrame({"neuron_id": [_as_text(n) for n in frame["neuron_id"]],
                            "recording": frame["file"].astype(str).to_numpy()})
    for column in {*labels.key, *({"subject_id", "session_id"} & set(frame.columns))}:
        neurons[column] = ([_as_text(v) for v in frame[column]] if column != "identifier" else
                           neurons["recording"].map({path: annotated_recording(path).identifier
                                                     for path in neurons["recording"].unique()}))
    out = frame.assign(**{labels.label: _matched(neurons, labels)})
    out.attrs = dict(frame.attrs)
    return out


def _matched(neurons: pd.DataFrame, labels: ExternalLabels) -> np.ndarray:
    """The table's value for each row of ``neurons`` (columns: the key, ``neuron_id``, ``recording``, and those of
    ``subject_id``, ``session_id`` and ``identifier`` that are known), None where the table does not list the neuron;
    refuses a key naming two recordings whose neuron ids overlap, warns of rows that match no neuron."""
    key = list(labels.key)
    used = set(map(tuple, labels.table[key].to_numpy().tolist()))
    for value, rows in neurons.groupby(key):
        value = value if isinstance(value, tuple) else (value,)
        recordings = rows["recording"].unique()
        if len(recordings) > 1 and value in used and rows["neuron_id"].duplicated().any():
            raise NeurPIRError(f"{_named(key, dict(zip(key, value)))} names {len(recordings)} recordings "
                               f"({', '.join(recordings[:2])}) whose neuron ids overlap; {_telling_apart(rows, key)}",
                               labels.source)
    ids = neurons[[*key, "neuron_id"]]
    _report_unmatched(len(labels.table) - len(labels.table.merge(ids.drop_duplicates(), on=[*key, "neuron_id"])),
                      labels)
    merged = ids.merge(labels.table, on=[*key, "neuron_id"], how="left")
    values = merged[labels.label].astype(object).to_numpy()
    return np.where(pd.isna(values), None, values)


def _telling_apart(rows: pd.DataFrame, key: Sequence[str]) -> str:
    """What makes a labels table name one of the recordings whose neurons ``rows`` are (all named by one ``key``)."""
    def differ(column: str) -> bool:
        return column in rows.columns and rows.groupby("recording")[column].first().nunique() > 1

    if "subject_id" not in key and differ("subject_id"):
        return "add a subject_id column"
    if "identifier" not in key and differ("identifier"):
        return "name the recordings by an identifier column (their NWB identifiers differ)"
    if "identifier" in key and differ("session_id"):
        return "they are sessions that share an NWB identifier: name them by session_id (without an identifier column)"
    if "identifier" in key or "identifier" in rows.columns:
        return ("they are one recording (copies of one file?) or spike sortings that kept one NWB identifier: give "
                "only one of them, or give each sorting an NWB identifier of its own")
    return ("give only one of them if they are copies of one file, else name them by an identifier column (two "
            "spike sortings of the session?)")


def _report_unmatched(unmatched: int, labels: ExternalLabels) -> None:
    """A NeurPIRError when no row of the table matches a neuron, a warning counting those that do not."""
    by = " and ".join([*labels.key, "neuron_id"])
    if unmatched == len(labels.table):
        first = labels.table.iloc[0]
        raise NeurPIRError(f"none of its {unmatched} rows matches a neuron of the files by {by} (the first names "
                           f"neuron {first['neuron_id']} of {_named(labels.key, first)})", labels.source)
    if unmatched:
        warnings.warn(f"{labels.source}: {unmatched} of its {len(labels.table)} rows match no neuron of the files "
                      f"(by {by}); they are ignored", stacklevel=4)


def _read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """A CSV or TSV file as text columns (empty cells missing), and the sha256 of its bytes."""
    separator = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        content = path.read_bytes()
        return pd.read_csv(io.BytesIO(content), sep=separator, dtype=str), hashlib.sha256(content).hexdigest()
    except FileNotFoundError:
        raise NeurPIRError("no such labels file", path) from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise NeurPIRError(f"cannot be read as a {'TSV' if separator == chr(9) else 'CSV'} table "
                           f"({type(error).__name__}: {' '.join(str(error).split())})", path) from None


def _as_text(value: object) -> str:
    """A key or neuron id as text: whole floats (``3.0``, as pandas reads ids beside empty cells) without ``.0``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _named(key: Sequence[str], row: object) -> str:
    """``subject_id A, session_id s1``: the recording a row names."""
    return ", ".join(f"{column} {row[column]}" for column in key)  # type: ignore[index]

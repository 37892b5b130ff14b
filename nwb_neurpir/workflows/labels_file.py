"""Labels kept outside the NWB files (an opto-tagging sheet, a curation table): a CSV/TSV file or DataFrame with a
``neuron_id`` or ``unit_name`` column, the label column and a key naming each neuron's recording, whose values stand
in for that column of the files (``neurpir evaluate --labels``, ``neurpir predict --fit-on ... --labels``).

Key rule: the recording is named by ``identifier`` (its NWB identifier) when the table has that column, else by
``session_id``; a ``subject_id`` column, when present, must match too. Keys and neuron names are compared stripped of
surrounding whitespace (a spreadsheet's trailing spaces) and in Unicode normal form C, as the files' ids are. The neuron
is named by ``neuron_id`` (the row id of its units or ROI table) or by ``unit_name`` (the units' ``unit_name`` column,
where Kilosort/Phy exports keep the cluster id; compared as text), by both when the table has both. A ``neuron_table``
column (the path or name of the neuron's table in its file, ``units`` or a ``PlaneSegmentation``, as ``embed`` writes
it) is part of the key: rows of other tables than the one read match no neuron; without it, rows are matched to the
table read, with a warning when the files also hold other neuron tables (units and ROIs share ids). Neurons the table
lists get its value (an empty cell leaves them unlabelled); neurons it does not list are unlabelled, whatever their file
says. Rows that match no neuron are ignored with a warning that counts them; when none matches, or a key names two
recordings whose neurons overlap (so a row could be either's), or a row names two neurons of one recording (a repeated
unit name), or a neuron is listed twice, it is an error naming the table. So is a table keyed by ``neuron_id`` whose
rows would match more neurons as unit names: its ids are Phy cluster ids, and row ids would give their labels to other
units.
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
from nwb_neurpir.recording import UNIT_NAME, id_text, unit_names
from nwb_neurpir.unicode_forms import named_columns, nfc
from nwb_neurpir.workflows.table_keys import NEURON_TABLE, named_tables, warn_implicit_table

if TYPE_CHECKING:
    from nwb_neurpir.recording import Recording

__all__ = ["ExternalLabels", "read_labels", "relabel_frame", "relabel_recordings"]

RECORDING_KEYS = ("identifier", "session_id")
"""The columns that can name a neuron's recording, in the order the first present one is used."""
NEURON_KEYS = ("neuron_id", UNIT_NAME)
"""The columns that can name a neuron within its recording; a table may have one or both."""


@dataclass(frozen=True)
class ExternalLabels:
    """A labels table checked for its columns: key columns and neuron columns as text, then the label column."""

    table: pd.DataFrame
    key: tuple[str, ...]
    """The columns naming a neuron's recording: ``identifier`` or ``session_id``, after ``subject_id`` if present."""
    neuron: tuple[str, ...]
    """The columns naming a neuron within it: those of ``NEURON_KEYS`` the table has."""
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
    table = named_columns(table, [label])
    recording = next((name for name in RECORDING_KEYS if name in table.columns), None)
    neuron = tuple(name for name in NEURON_KEYS if name in table.columns)
    missing = [*([] if neuron else [" or ".join(NEURON_KEYS)]), *([] if label in table.columns else [label])]
    if recording is None or missing:
        needed = ", ".join([*missing, *([] if recording else ["identifier or session_id"])])
        raise NeurPIRError(f"the labels table lacks {needed} (it has {', '.join(map(str, table.columns))})", source)
    if table.empty:
        raise NeurPIRError("the labels table has no rows", source)
    key = (*(["subject_id"] if "subject_id" in table.columns else []), recording,
           *([NEURON_TABLE] if NEURON_TABLE in table.columns else []))
    if table[[*key, *neuron]].isna().any(axis=None):
        raise NeurPIRError(f"the labels table has rows without {' or '.join([*key, *neuron])}", source)
    for column in (*key, *neuron):
        table[column] = [id_text(value).strip("/") if column == NEURON_TABLE else _key_text(value)
                         for value in table[column]]
    twice = table.duplicated([*key, *neuron])
    if twice.any():
        row = table[twice].iloc[0]
        raise NeurPIRError(f"{_neuron_named(neuron, row)} of {_named(key, row)} is listed twice", source)
    return ExternalLabels(table=table[[*key, *neuron, label]], key=key, neuron=neuron, label=label, source=source,
                          file=file, sha256=sha256)


def relabel_recordings(recordings: Sequence[Recording], labels: ExternalLabels) -> list[Recording]:
    """The recordings with their ``labels.label`` column replaced by the table's values (unlisted neurons:
    missing)."""
    neurons = pd.concat([pd.DataFrame({
        "subject_id": recording.subject_id, "session_id": recording.session_id or recording.source.identifier,
        "identifier": recording.source.identifier, "neuron_id": [id_text(n) for n in recording.neuron_ids],
        UNIT_NAME: _unit_names(recording.neuron_metadata), "recording": recording.source.label(),
        NEURON_TABLE: recording.neuron_table.strip("/")})
        for recording in recordings], ignore_index=True)
    if NEURON_TABLE not in labels.key:
        warn_implicit_table(labels.source, [(r.source.location, r.neuron_table) for r in recordings])
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
    neurons = pd.DataFrame({"neuron_id": [id_text(n) for n in frame["neuron_id"]], UNIT_NAME: _unit_names(frame),
                            "recording": frame["file"].astype(str).to_numpy()})
    for column in {*labels.key, *({"subject_id", "session_id", NEURON_TABLE} & set(frame.columns))}:
        neurons[column] = ([id_text(v) for v in frame[column]] if column != "identifier" else
                           neurons["recording"].map({path: annotated_recording(path).identifier
                                                     for path in neurons["recording"].unique()}))
    if NEURON_TABLE not in labels.key and NEURON_TABLE in frame.columns:
        warn_implicit_table(labels.source, list(zip(neurons["recording"], neurons[NEURON_TABLE])))
    out = frame.assign(**{labels.label: _matched(neurons, labels)})
    out.attrs = dict(frame.attrs)
    return out


def _unit_names(metadata: pd.DataFrame) -> list[str | None]:
    """Each neuron's ``unit_name`` as text, None where it has none (or the table has no such column)."""
    names = unit_names(metadata)
    return [None] * len(metadata) if names is None else [name or None for name in names]


def _matched(neurons: pd.DataFrame, labels: ExternalLabels) -> np.ndarray:
    """The table's value for each row of ``neurons`` (columns: the key, ``neuron_id``, ``unit_name`` (None where
    unknown), ``recording``, and those of ``subject_id``, ``session_id`` and ``identifier`` that are known), None
    where the table does not list the neuron; refuses a key naming two recordings whose neurons overlap, a row naming
    two neurons, a ``neuron_id`` table that names unit names; warns of rows that match no neuron."""
    if NEURON_TABLE in labels.key:
        labels = dataclasses.replace(labels, table=labels.table.assign(**{NEURON_TABLE: named_tables(
            labels.table[NEURON_TABLE], neurons[NEURON_TABLE])}))
    neurons = neurons.assign(**{column: [None if value is None else _key_text(value) for value in neurons[column]]
                                for column in neurons.columns if column in (*RECORDING_KEYS, "subject_id", UNIT_NAME)})
    key, by = list(labels.key), [*labels.key, *labels.neuron]
    if UNIT_NAME in labels.neuron and neurons[UNIT_NAME].isna().all():
        raise NeurPIRError(f"names neurons by {UNIT_NAME}, but the files' neurons have no {UNIT_NAME} column",
                           labels.source)
    used = set(map(tuple, labels.table[key].to_numpy().tolist()))
    for value, rows in neurons.groupby(key):
        value = value if isinstance(value, tuple) else (value,)
        recordings = rows["recording"].unique()
        if len(recordings) > 1 and value in used and rows.dropna(subset=list(labels.neuron)).duplicated(
                list(labels.neuron)).any():
            ids = "neuron ids" if "neuron_id" in labels.neuron else "unit names"
            raise NeurPIRError(f"{_named(key, dict(zip(key, value)))} names {len(recordings)} recordings "
                               f"({', '.join(recordings[:2])}) whose {ids} overlap; {_telling_apart(rows, key)}",
                               labels.source)
    ids = neurons[by]
    listed = neurons[list(dict.fromkeys([*by, "neuron_id", "recording"]))].drop_duplicates().merge(
        labels.table[by], on=by)  # each neuron once; one row naming two is a unit name repeated in a recording
    if listed.duplicated(by).any():
        row = listed[listed.duplicated(by)].iloc[0]
        raise NeurPIRError(f"{_neuron_named(labels.neuron, row)} of {_named(key, row)} names several neurons of "
                           "its recording; name them by neuron_id", labels.source)
    matched = len(listed)
    if labels.neuron == ("neuron_id",) and matched < len(labels.table):
        _refuse_unit_names(neurons, labels, matched)
    _report_unmatched(len(labels.table) - matched, labels)
    merged = ids.merge(labels.table, on=by, how="left")
    values = merged[labels.label].astype(object).to_numpy()
    return np.where(pd.isna(values), None, values)


def _key_text(value: object) -> str:
    """A key or neuron name of a labels table or of the files' neurons, as compared: text (``id_text``) stripped of
    surrounding whitespace, in Unicode normal form C."""
    return nfc(id_text(value).strip())


def _refuse_unit_names(neurons: pd.DataFrame, labels: ExternalLabels, matched: int) -> None:
    """A NeurPIRError when more rows of a table keyed by ``neuron_id`` (``matched`` of them match a neuron's row id)
    would match the neurons' unit names: its ids are unit names (Phy cluster ids), and read as row ids they would
    label other neurons."""
    names = neurons[[*labels.key, UNIT_NAME]].dropna().rename(columns={UNIT_NAME: "neuron_id"}).drop_duplicates()
    as_names = len(labels.table.merge(names, on=[*labels.key, "neuron_id"]))
    if as_names > matched:
        raise NeurPIRError(f"only {matched} of its {len(labels.table)} rows match a neuron by neuron_id (the row id "
                           f"of the units table), but {as_names} match the units' {UNIT_NAME} (Phy cluster ids?); if "
                           f"its neuron_id column holds unit names, name that column {UNIT_NAME}", labels.source)


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
    by = " and ".join([*labels.key, *labels.neuron])
    if unmatched == len(labels.table):
        first = labels.table.iloc[0]
        raise NeurPIRError(f"none of its {unmatched} rows matches a neuron of the files by {by} (the first names "
                           f"{_neuron_named(labels.neuron, first)} of {_named(labels.key, first)})", labels.source)
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


def _named(key: Sequence[str], row: object) -> str:
    """``subject_id A, session_id s1``: the recording a row names."""
    return ", ".join(f"{column} {row[column]}" for column in key)  # type: ignore[index]


def _neuron_named(columns: Sequence[str], row: object) -> str:
    """``neuron 3``, ``unit_name 12`` or ``neuron 3, unit_name 12``: the neuron a row names within its recording."""
    return ", ".join(f"{'neuron' if column == 'neuron_id' else column} {row[column]}"  # type: ignore[index]
                     for column in columns)

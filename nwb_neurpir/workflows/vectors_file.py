"""Per-neuron vectors of another method (``neurpir evaluate --vectors NAME=PATH``, ``vectors={NAME: table}``), scored
beside NeurPIR and the hand features on the same folds.

Format: a CSV (``.tsv``/``.tab``: tab-separated) or parquet file, or a DataFrame, with one row per neuron: a key
naming its recording -- ``file`` (the file's path, or its name), else ``identifier`` (its NWB identifier), else
``session_id`` (an optional ``subject_id`` must match too) -- then ``neuron_id`` (the unit or ROI id), an optional
``neuron_table`` (the path or name of its table in the file: rows of other tables than the one read are ignored with a
warning that counts them; without it, a warning when the files also hold other neuron tables), and the vector: the
``embedding_0``, ``embedding_1``... columns when there are such (``neurpir embed --out x.csv`` writes them; its other
columns are then ignored), else every other column, all numeric. Or an ``.npz`` file of arrays ``neuron_id``,
``vectors`` (n_neurons x dim) and one key array, ``identifier`` or ``session_id`` (``numpy.savez`` cannot name an
array ``file``), or the ``.npz`` that ``neurpir embed --out x.npz`` writes (``embeddings``, ``neuron_ids``, ``source``
as the file). The checksum of the model behind the vectors (``model_sha256``, which ``neurpir embed`` writes in both
forms) goes into the report, and its ``in_model_training`` (whether the model was trained on each neuron's recording)
makes each fold inductive or transductive for the method, as for ``--model``. Rows are matched by key
and neuron id, never by position; rows of recordings not evaluated are ignored with a warning that counts them (a
table of every recording can score a few of them); a table none of whose rows names an evaluated recording, unknown
neuron ids, neurons listed twice, rows with missing values and non-finite values are errors naming the table and the
row (counted from 1 below the header).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.external import GivenVectors, check_name
from nwb_neurpir.recording import Recording, id_text
from nwb_neurpir.workflows.embedding_export import IN_MODEL_TRAINING
from nwb_neurpir.workflows.table_keys import NEURON_TABLE, named_tables, warn_implicit_table

__all__ = ["VECTOR_KEYS", "ExternalVectors", "matched_vectors", "read_vectors"]

VECTOR_KEYS = ("file", "identifier", "session_id")
"""The columns that can name a neuron's recording, in the order the first present one is used."""
_TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_EMBEDDED = re.compile(r"embedding_\d+")
"""The vector columns of ``neurpir embed --out x.csv``; a table with them has its vector there only."""
_PROVENANCE = ("model_sha256", IN_MODEL_TRAINING)
"""The columns of ``neurpir embed``'s tables that say which model made the vectors and what it was trained on."""


@dataclass(frozen=True)
class ExternalVectors:
    """A vectors table read and checked: its name (the method), where it came from, and its rows."""

    name: str
    source: str
    """What the table is called in the report and in messages: its path, or ``NAME table``."""
    keys: pd.DataFrame
    """Per row: the key columns and ``neuron_id``, as text."""
    vectors: np.ndarray
    model_sha256: str = ""
    """The checksum of the model that made the vectors, when the table names it."""
    in_training: np.ndarray | None = None
    """Per row, whether that model was trained on the neuron's recording, when the table says."""

    @property
    def description(self) -> str:
        model = f", model {self.model_sha256[:12]}" if self.model_sha256 else ""
        return f"external vectors {self.name} ({self.source}{model})"

    def given(self, recordings: Sequence[Recording]) -> GivenVectors:
        """The vectors matched to the recordings' neurons (``per_recording``), with the model that made them and the
        recordings it was trained on (``training_data``); the rows are matched to the recordings once."""
        rows = self._rows_read(recordings)
        return GivenVectors(self.name, self.description, self.per_recording(recordings, rows),
                            checkpoint_sha256=self.model_sha256, training_data=self.training_data(recordings, rows))

    def training_data(self, recordings: Sequence[Recording],
                      rows: tuple[list[int], np.ndarray] | None = None) -> tuple[str, ...] | None:
        """The recordings (``session_key``) the model behind the vectors was trained on, among ``recordings``; None
        when the table does not say. ``rows``: ``_rows_read`` of the recordings, when already matched."""
        from nwb_neurpir.model.sessions import session_key

        if self.in_training is None:
            return None
        owners, read = rows or self._rows_read(recordings)
        return tuple(sorted({session_key(recordings[owner]) for owner, kept, seen
                             in zip(owners, read, self.in_training) if kept and seen}))

    def per_recording(self, recordings: Sequence[Recording],
                      rows: tuple[list[int], np.ndarray] | None = None) -> list[np.ndarray]:
        """Per recording, an (n_neurons, dim) matrix in its neuron order; NaN rows for neurons the table lacks.
        ``rows``: ``_rows_read`` of the recordings, when already matched."""
        owners, read = rows or self._rows_read(recordings)
        positions = [{id_text(n): i for i, n in enumerate(r.neuron_ids)} for r in recordings]
        out = [np.full((r.n_neurons, self.vectors.shape[1]), np.nan) for r in recordings]
        filled: dict[tuple[int, int], int] = {}
        for row, (owner, neuron) in enumerate(zip(owners, self.keys["neuron_id"])):
            if not read[row]:
                continue
            position = positions[owner].get(neuron)
            if position is None:
                raise self._error(row, f"neuron {neuron} is not a neuron of {recordings[owner].source.label()}")
            if (owner, position) in filled:
                raise self._error(row, f"neuron {neuron} of {recordings[owner].source.label()} is listed twice "
                                       f"(also in row {filled[owner, position] + 1})")
            filled[owner, position] = row
            out[owner][position] = self.vectors[row]
        return out

    def _rows_read(self, recordings: Sequence[Recording]) -> tuple[list[int], np.ndarray]:
        """The recording of every row (-1: none evaluated) and whether the row is read: of an evaluated recording and
        of the neuron table read from it. A warning counts the rows of recordings not evaluated (a table of more
        recordings than are evaluated); an error when no row is of an evaluated recording."""
        owners = self._owners(recordings)
        evaluated = np.array([owner >= 0 for owner in owners], dtype=bool)
        if not evaluated.any():
            columns = self._key_columns()
            raise self._error(0, f"{_named(columns, tuple(self.keys[columns].iloc[0]))} is not among the evaluated "
                                 "recordings, nor is any other row's")
        if not evaluated.all():
            warnings.warn(f"{self.source}: {int((~evaluated).sum())} of its {evaluated.size} rows are of recordings "
                          "not evaluated; they are ignored", stacklevel=5)
        return owners, self._of_tables_read(recordings, owners, evaluated)

    def _of_tables_read(self, recordings: Sequence[Recording], owners: Sequence[int],
                        evaluated: np.ndarray) -> np.ndarray:
        """Whether each row is of an ``evaluated`` recording and of the neuron table read from it (all evaluated
        rows without a ``neuron_table`` column, warning when the files hold other tables); a warning counts the
        evaluated rows of other tables, an error when no row is of a table read."""
        tables = [recording.neuron_table.strip("/") for recording in recordings]
        if NEURON_TABLE not in self.keys.columns:
            warn_implicit_table(self.source, [(r.source.location, r.neuron_table) for r in recordings])
            return evaluated
        named = named_tables(self.keys[NEURON_TABLE], tables)
        read = np.array([kept and table == tables[owner] for table, owner, kept in zip(named, owners, evaluated)],
                        dtype=bool)
        first = int(np.argmax(evaluated))
        if not read.any():
            raise self._error(first, f"{NEURON_TABLE} {named[first]} is not the table read "
                                     f"({tables[owners[first]]}); no row is of a neuron table read")
        if not read[evaluated].all():
            warnings.warn(f"{self.source}: {int((~read[evaluated]).sum())} of its {read.size} rows are of other "
                          f"neuron tables than those read ({', '.join(sorted(set(tables)))}); they are ignored",
                          stacklevel=6)
        return read

    def _key_columns(self) -> list[str]:
        """The columns naming a row's recording: ``subject_id`` when there is one, then the first of ``VECTOR_KEYS``."""
        return [*(["subject_id"] if "subject_id" in self.keys.columns else []),
                next(name for name in VECTOR_KEYS if name in self.keys.columns)]

    def _owners(self, recordings: Sequence[Recording]) -> list[int]:
        """The recording of every row, -1 when its key names none of ``recordings`` (an error naming the first row
        whose key names several)."""
        columns = self._key_columns()
        names: dict[tuple[str, ...], list[int]] = {}
        for index, recording in enumerate(recordings):
            for value in _recording_names(recording, columns[-1]):
                subject = (recording.subject_id,) if "subject_id" in self.keys.columns else ()
                names.setdefault((*subject, value), []).append(index)
        owners = []
        for row, value in enumerate(map(tuple, self.keys[columns].to_numpy().tolist())):
            found = sorted(set(names.get(value, [])))
            if not found:
                owners.append(-1)
                continue
            if len(found) > 1:
                raise self._error(row, f"{_named(columns, value)} names {len(found)} recordings "
                                       f"({', '.join(recordings[i].source.label() for i in found[:2])}); "
                                       "name them by file path or identifier")
            owners.append(found[0])
        return owners

    def _error(self, row: int, problem: str) -> NeurPIRError:
        return NeurPIRError(f"row {row + 1}: {problem}", self.source)


def read_vectors(vectors: Mapping[str, str | Path | pd.DataFrame]) -> list[ExternalVectors]:
    """The vectors tables by method name, read and checked (names as ``check_name`` allows)."""
    out = []
    for name, table in vectors.items():
        check_name(name)
        source = f"{name} table" if isinstance(table, pd.DataFrame) else str(table)
        frame = table.copy() if isinstance(table, pd.DataFrame) else _read_file(Path(table))
        out.append(_checked(name, source, frame))
    return out


def matched_vectors(tables: Sequence[ExternalVectors], recordings: Sequence[Recording]) -> list[GivenVectors]:
    """Each table's vectors matched to the recordings' neurons by key and neuron id."""
    return [table.given(recordings) for table in tables]


def _checked(name: str, source: str, frame: pd.DataFrame) -> ExternalVectors:
    """The table split into text keys and a float matrix, after checking its columns and values."""
    key = next((column for column in VECTOR_KEYS if column in frame.columns), None)
    if key is None or "neuron_id" not in frame.columns:
        needed = ", ".join([*([] if "neuron_id" in frame.columns else ["neuron_id"]),
                            *([] if key else ["file, identifier or session_id"])])
        raise NeurPIRError(f"the vectors table lacks {needed} (it has {', '.join(map(str, frame.columns))})", source)
    columns = [*(["subject_id"] if "subject_id" in frame.columns else []), key, "neuron_id",
               *([NEURON_TABLE] if NEURON_TABLE in frame.columns else [])]
    embedded = [column for column in frame.columns if _EMBEDDED.fullmatch(str(column))]
    values = frame[embedded] if embedded else frame.drop(
        columns=[c for c in (*VECTOR_KEYS, "subject_id", "neuron_id", NEURON_TABLE, *_PROVENANCE)
                 if c in frame.columns])
    if values.shape[1] == 0 or len(frame) == 0:
        raise NeurPIRError("the vectors table has no vector columns or no rows", source)
    keys = pd.DataFrame({column: [id_text(v) for v in frame[column]] for column in columns})
    blank = frame[columns].isna().any(axis=1).to_numpy()
    if blank.any():
        raise NeurPIRError(f"row {int(np.argmax(blank)) + 1}: no {' or '.join(columns)}", source)
    matrix = np.full(values.shape, np.nan)
    for index, column in enumerate(values.columns):
        numbers = pd.to_numeric(values[column], errors="coerce").to_numpy(dtype=float)
        wrong = pd.isna(numbers) & ~values[column].isna().to_numpy()
        if wrong.any():
            row = int(np.argmax(wrong))
            what = "the embedding_N columns are the vector" if embedded else \
                f"every column besides {', '.join(columns)} is a vector component"
            raise NeurPIRError(f"row {row + 1}: column {column} holds {values[column].iloc[row]!r}, not a number "
                               f"({what})", source)
        matrix[:, index] = numbers
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing.any(axis=1)))
        raise NeurPIRError(f"row {row + 1}: its vector has {int((~missing[row]).sum())} values, not "
                           f"{values.shape[1]} (vectors of unequal length, or empty cells)", source)
    infinite = ~np.isfinite(matrix)
    if infinite.any():
        row = int(np.argmax(infinite.any(axis=1)))
        raise NeurPIRError(f"row {row + 1}: non-finite value in column {values.columns[infinite[row].argmax()]}",
                           source)
    return ExternalVectors(name=name, source=source, keys=keys, vectors=matrix, **_provenance(frame, source))


def _provenance(frame: pd.DataFrame, source: str) -> dict[str, object]:
    """``model_sha256`` and ``in_training`` of a table that names its model (``neurpir embed``'s), else none."""
    out: dict[str, object] = {}
    if "model_sha256" in frame.columns:
        checksums = sorted({str(value) for value in frame["model_sha256"] if not pd.isna(value) and str(value)})
        if len(checksums) > 1:
            raise NeurPIRError(f"its model_sha256 column names {len(checksums)} models; one vectors table holds "
                               "the vectors of one model (give each model's as its own --vectors NAME=PATH)", source)
        out["model_sha256"] = checksums[0] if checksums else ""
    if IN_MODEL_TRAINING in frame.columns:
        flags = frame[IN_MODEL_TRAINING].map(lambda value: str(value).strip().casefold())
        wrong = ~flags.isin(["true", "false", "1", "0"])
        if wrong.any():
            raise NeurPIRError(f"row {int(np.argmax(wrong.to_numpy())) + 1}: {IN_MODEL_TRAINING} is "
                               f"{frame[IN_MODEL_TRAINING].iloc[int(np.argmax(wrong.to_numpy()))]!r}, not True or "
                               "False", source)
        out["in_training"] = flags.isin(["true", "1"]).to_numpy()
    return out


def _read_file(path: Path) -> pd.DataFrame:
    """A vectors file as a DataFrame: CSV/TSV cells as text (empty cells missing), parquet as stored, npz arrays."""
    suffix = path.suffix.lower()
    if suffix not in (*_TEXT_SUFFIXES, ".parquet", ".npz"):
        raise NeurPIRError("vectors are read from .csv, .tsv, .parquet or .npz files", path)
    if not path.is_file():
        raise NeurPIRError("no such vectors file", path)
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".npz":
            return _npz_frame(path)
        return pd.read_csv(path, sep=_TEXT_SUFFIXES[suffix], dtype=str, keep_default_na=False, na_values=[""])
    except NeurPIRError:
        raise
    except (OSError, ValueError, ImportError, pd.errors.ParserError) as error:
        raise NeurPIRError(f"cannot be read as a vectors table ({type(error).__name__}: "
                           f"{' '.join(str(error).split())})", path) from None


def _npz_frame(path: Path) -> pd.DataFrame:
    """An npz file of ``neuron_id``, a key array and ``vectors`` (n_neurons x dim), or the one ``neurpir embed``
    writes, as a vectors table."""
    with np.load(path, allow_pickle=False) as arrays:
        if {"embeddings", "neuron_ids", "source"} <= set(arrays.files):
            return _embedded_npz_frame(path, {name: arrays[name] for name in arrays.files})
        key = next((name for name in VECTOR_KEYS[1:] if name in arrays.files), None)
        if key is None or "neuron_id" not in arrays.files or "vectors" not in arrays.files:
            raise NeurPIRError(f"an npz vectors file holds arrays neuron_id, vectors and identifier or session_id "
                               f"(it has {', '.join(arrays.files)})", path)
        vectors = np.asarray(arrays["vectors"])
        if vectors.ndim != 2 or len(vectors) != len(arrays["neuron_id"]) or len(arrays[key]) != len(vectors):
            raise NeurPIRError("its vectors array must be (n_neurons, dim), with one neuron_id and key per row", path)
        return pd.concat([pd.DataFrame({key: arrays[key], "neuron_id": arrays["neuron_id"]}),
                          pd.DataFrame(vectors, columns=[f"v{i}" for i in range(vectors.shape[1])])], axis=1)


def _embedded_npz_frame(path: Path, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The arrays of ``neurpir embed --out x.npz`` as the table its ``--out x.csv`` would be: ``file`` (its
    ``source``), ``neuron_id``, ``neuron_table``, the model's checksum, ``in_model_training`` when the file has it
    (older versions of ``neurpir embed`` did not write it: the folds are then ``unknown``), and the vector as
    ``embedding_0``..."""
    vectors = np.asarray(arrays["embeddings"])
    n_rows = len(arrays["neuron_ids"])
    if vectors.ndim != 2 or len(vectors) != n_rows or len(arrays["source"]) != n_rows:
        raise NeurPIRError("its embeddings array must be (n_neurons, dim), with one neuron id and source per row", path)
    columns = {"file": arrays["source"], "neuron_id": arrays["neuron_ids"],
               **{name: arrays[name] for name in (NEURON_TABLE, IN_MODEL_TRAINING) if name in arrays},
               "model_sha256": str(arrays["model_sha256"]) if "model_sha256" in arrays else ""}
    return pd.concat([pd.DataFrame(columns),
                      pd.DataFrame(vectors, columns=[f"embedding_{i}" for i in range(vectors.shape[1])])], axis=1)


def _recording_names(recording: Recording, key: str) -> set[str]:
    """What a table's ``key`` column may call the recording: its file (as given, absolute, or its name), NWB
    identifier, or session."""
    if key == "identifier":
        return {recording.source.identifier}
    if key == "session_id":
        return {recording.session_id or recording.source.identifier}
    location = recording.source.location
    return {location, recording.source.recorded_location, Path(location).name}


def _named(columns: Sequence[str], value: Sequence[str]) -> str:
    """``subject_id A, file x.nwb``: the recording a row names."""
    return ", ".join(f"{column} {item}" for column, item in zip(columns, value))

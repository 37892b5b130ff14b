"""``embed_sources``: one vector per neuron of NWB sources from a trained model, kept in memory, and written as a
``.npz`` file (embeddings, neuron ids, subjects, sessions, sources, the model's checksum, whether the model was trained
on each neuron's recording, and the label columns), as a CSV/TSV table (one row per neuron, those as columns, one
column per dimension) or as JSON."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.recording import unit_names
from nwb_neurpir.renamed import accepts_ophys_series

if TYPE_CHECKING:
    import pandas as pd

    from nwb_neurpir.recording import Recording

__all__ = ["IN_MODEL_TRAINING", "TABLE_SUFFIXES", "EmbeddedSources", "check_output", "embed_sources", "label_arrays"]

IN_MODEL_TRAINING = "in_model_training"
"""The per-neuron array (``.npz``) or column (CSV/TSV) saying whether the model's training data names the neuron's
recording: what ``evaluate --vectors`` decides each fold's mode from (inductive or transductive)."""
_NPZ_KEYS = ("embeddings", "neuron_ids", "neuron_table", "silent", "subject_id", "session_id", "source",
             "model_sha256", IN_MODEL_TRAINING)
TABLE_SUFFIXES = {".npz": None, ".csv": ",", ".tsv": "\t"}
"""What ``EmbeddedSources.write`` can write, by file suffix (with the column separator of the text tables)."""


@dataclass
class EmbeddedSources:
    """Each recording with its (n_neurons, dim) vectors, and the checksum of the model that made them."""

    rows: list[tuple[Recording, np.ndarray]]
    model_sha256: str
    training_data: tuple[str, ...] = ()
    """The recordings the model was trained on, as its provenance names them (``session_key``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per recording its source, identifier, subject, ``neuron_table`` (the path of the table whose
        row ids the neuron ids are), neuron ids, ``unit_names`` (when its units have a ``unit_name`` column: the Phy
        cluster ids of Kilosort/Phy exports), which neurons are ``silent`` (no activity in the time read) and vectors
        (null where not finite; every digit of the float32 values, so that they read back exactly)."""
        return {"model_sha256": self.model_sha256, "recordings": [_recording_dict(r, v) for r, v in self.rows]}

    def arrays(self) -> dict[str, np.ndarray]:
        """Every neuron's vector (``embeddings``), id, ``neuron_table`` (whose id it is), ``silent`` (True for a
        neuron without activity in the time read: its vector says nothing about it), subject, session, ``source``
        (the file or DANDI asset, as in the JSON form, a file name that is not UTF-8 as ``path_text`` writes it;
        ``np.savez`` cannot take a key called ``file``), ``in_model_training`` (whether the model's training data
        names the neuron's recording) and label columns, one row per neuron."""
        from nwb_neurpir.model.sessions import session_key
        from nwb_neurpir.recording import path_text

        def per_neuron(value: Callable[[Recording], str]) -> np.ndarray:
            return np.concatenate([[value(r)] * r.n_neurons for r, _ in self.rows]).astype(str)

        return dict(
            embeddings=np.concatenate([v for _, v in self.rows]).astype(np.float32),
            neuron_ids=np.concatenate([r.neuron_ids for r, _ in self.rows]),
            neuron_table=per_neuron(lambda r: r.neuron_table),
            silent=np.concatenate([r.silent() for r, _ in self.rows]),
            subject_id=per_neuron(lambda r: r.subject_id), session_id=per_neuron(lambda r: r.session_id),
            source=per_neuron(lambda r: path_text(r.source.label())),
            in_model_training=np.concatenate([[session_key(r) in self.training_data] * r.n_neurons
                                              for r, _ in self.rows]).astype(bool),
            **label_arrays([r.neuron_metadata for r, _ in self.rows]))

    def write(self, path: str | Path) -> Path:
        """Write :meth:`arrays` to ``path`` atomically, making its missing folders: ``.npz`` (with the model checksum;
        loadable without pickle), or ``.csv``/``.tsv``: one row per neuron with the columns ``npir.read_embeddings``
        gives (``subject_id``, ``session_id``, ``neuron_id``, ``neuron_table``, ``silent``, the label columns,
        ``file``), then ``model_sha256`` and ``in_model_training``, then the vector as ``embedding_0``...; numbers are
        written so that they read back exactly."""
        from nwb_neurpir.atomic_files import atomic_write_bytes

        path = Path(path)
        arrays = self.arrays()
        buffer = io.BytesIO()
        if TABLE_SUFFIXES[path.suffix.lower()] is None:
            np.savez(buffer, model_sha256=np.array(self.model_sha256), **arrays)
        else:
            import pandas as pd

            vectors, ids, tables, silent, subjects, sessions, files, trained = (arrays.pop(key) for key in (
                "embeddings", "neuron_ids", "neuron_table", "silent", "subject_id", "session_id", "source",
                IN_MODEL_TRAINING))
            frame = pd.DataFrame({"subject_id": subjects, "session_id": sessions, "neuron_id": ids,
                                  "neuron_table": tables, "silent": silent, **arrays, "file": files,
                                  "model_sha256": self.model_sha256, IN_MODEL_TRAINING: trained})
            frame = frame.join(pd.DataFrame(vectors, columns=[f"embedding_{i}" for i in range(vectors.shape[1])]))
            frame.to_csv(buffer, sep=TABLE_SUFFIXES[path.suffix.lower()], index=False)  # numbers that read back exact
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
        return path


def _recording_dict(recording: Recording, vectors: np.ndarray) -> dict[str, Any]:
    """One recording of ``EmbeddedSources.to_dict``."""
    names = unit_names(recording.neuron_metadata)
    return {"source": recording.source.label(), "identifier": recording.source.identifier,
            "subject_id": recording.subject_id, "neuron_table": recording.neuron_table.strip("/"),
            "neuron_ids": recording.neuron_ids.tolist(),
            **({} if names is None else {"unit_names": names.tolist()}), "silent": recording.silent().tolist(),
            "embeddings": [[None if not np.isfinite(x) else float(x) for x in row] for row in vectors]}


def check_output(path: Path) -> None:
    """Refuse, before anything is embedded, an output file ``write`` could not write: another suffix than
    ``TABLE_SUFFIXES``, a folder, a place where it (or the folders missing on its way) cannot be created, or a
    symbolic link on its way that is not followed for writing (``followed_links``)."""
    from nwb_neurpir.errors import NeurPIRError
    from nwb_neurpir.followed_links import resolved_for_writing
    from nwb_neurpir.store.atomic import is_writable

    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise NeurPIRError(f"--out must end in {', '.join(TABLE_SUFFIXES)}", source=path)
    if path.is_dir():
        raise NeurPIRError("is a folder; give the file to write", source=path)
    nearest = next(folder for folder in path.absolute().parents if folder.exists())
    if not nearest.is_dir():
        raise NeurPIRError(f"cannot write here: {nearest} is a file, not a folder", source=path)
    if not is_writable(nearest):
        raise NeurPIRError(f"cannot write here: folder {nearest} is not writable", source=path)
    resolved_for_writing(path)


@accepts_ophys_series
def embed_sources(model_dir: str | Path, sources: list[str], glob: str | None = None, *,
                  cache_dir: str | Path | None = None, unit_filter: str | None = None,
                  series: str | None = None, during: str | None = None, progress: bool = True,
                  on_recording: Callable[[Recording, np.ndarray], None] | None = None,
                  num_threads: int = 0) -> EmbeddedSources:
    """Embed every neuron of ``sources`` (``series``: the calcium traces or units table read; ``during``: the
    intervals whose time alone is read, ``"epochs:stage=NREM"``) with the model in
    ``model_dir`` (read on the model's time grid; context inputs a file lacks are set to their training mean, with a
    warning) and ``num_threads`` torch threads (0: ``OMP_NUM_THREADS`` or every CPU this process may use);
    ``on_recording`` is called after each recording."""
    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.workflows.model_inputs import (load_model_folder, open_for_model, warn_missing_context,
                                                   warn_unobserved)

    model = load_model_folder(model_dir, num_threads)
    rows = []
    for recording in open_for_model(model, sources, glob, access=DataAccess(cache_dir=cache_dir),
                                    unit_filter=unit_filter, series=series, during=during, progress=progress,
                                    desc="embedding"):
        warn_missing_context(model, recording)
        vectors = model.embed(recording, progress=progress)
        warn_unobserved(recording, vectors, "get NaN vectors")
        rows.append((recording, vectors))
        if on_recording is not None:
            on_recording(recording, vectors)
    return EmbeddedSources(rows=rows, model_sha256=model.provenance().checkpoint_sha256,
                           training_data=tuple(model.training_data_))


def label_arrays(tables: list[pd.DataFrame]) -> dict[str, np.ndarray]:
    """The one-value-per-neuron label columns of the recordings' neuron tables, concatenated: integers and booleans
    as they are when every recording has the column, other numbers as float64 (NaN where a recording lacks the
    column), anything else as text ("" where absent); loadable without pickle."""
    import pandas as pd

    joined = pd.concat(tables, ignore_index=True)
    arrays = {}
    for column in joined.columns:
        values = joined[column]
        if str(column) in _NPZ_KEYS or values.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray))).any():
            continue
        if (pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values)) and values.notna().all():
            arrays[str(column)] = values.to_numpy(dtype=bool if pd.api.types.is_bool_dtype(values) else np.int64)
        elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            arrays[str(column)] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arrays[str(column)] = np.array(["" if pd.isna(v) else str(v) for v in values], dtype=str)
    return arrays

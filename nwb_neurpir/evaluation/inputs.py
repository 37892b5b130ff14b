"""Evaluation straight from sources: annotated NWB files (embeddings already inside), or any NWB sources with a
trained model folder or a training config.

Embeddings of annotated files come from ``nwb_neurpir.store.read_embeddings``; subject and session are read from the
same file. With hand-feature baselines requested, the activity is read too (so the files must hold it, i.e. not be
sidecar files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.grouping import LabelGrouping, group_labels
from nwb_neurpir.evaluation.results import EmbeddingView, EvaluationResult
from nwb_neurpir.recording import Recording

__all__ = [
    "DEFAULT_LABELS",
    "aligned_embeddings",
    "annotated_view",
    "evaluate_annotated",
    "evaluate_recordings",
    "local_paths",
    "read_annotated",
]

DEFAULT_LABELS = ("cell_type", "brain_area", "location")
"""Label columns ``annotated_view`` colours by when none is named (the first one present)."""


def _identity(path: Path) -> tuple[str, str]:
    """``subject_id`` and ``session_id`` (else the identifier) of an NWB file, '' when absent."""
    from nwb_neurpir.io.h5_tables import decode_text
    from nwb_neurpir.store.checks import open_nwb_hdf5

    with open_nwb_hdf5(path) as file:
        def text(name: str) -> str:
            node = file.get(name)
            return decode_text(node[()]) if node is not None and getattr(node, "shape", None) == () else ""

        return text("general/subject/subject_id"), text("general/session_id") or text("identifier")


def local_paths(resolved: Sequence[Any]) -> list[str]:
    """Paths of resolved sources (``nwb_neurpir.sources.ResolvedSource``), all of which must be local files:
    annotated files and sidecars are read locally."""
    remote = [source.label() for source in resolved if source.kind != "local"]
    if remote:
        raise NeurPIRError("annotated embeddings are read from local NWB files or sidecars; use --model or --train "
                           "for remote sources", source=remote[0])
    return [source.location for source in resolved]


def read_annotated(paths: Sequence[str | Path], name: str | None = None) -> pd.DataFrame:
    """One table of every file's embeddings with ``subject_id`` and ``session_id`` columns; ``attrs["training_data"]``
    lists the sessions the embedding model(s) were trained on."""
    from nwb_neurpir.store import read_embeddings

    frames, training_data = [], []
    for path in paths:
        frame = read_embeddings(path, name)
        subject_id, session_id = _identity(Path(path))
        frame.insert(0, "subject_id", subject_id)
        frame.insert(1, "session_id", session_id)
        frame["file"] = str(path)
        training_data.extend(frame.attrs.get("model", {}).get("training_data", []))
        frames.append(frame)
    if not frames:
        raise NeurPIRError("no annotated files given")
    table = pd.concat(frames, ignore_index=True)
    table.attrs = {"training_data": list(dict.fromkeys(training_data))}
    return table


def aligned_embeddings(recording: Recording, table: pd.DataFrame) -> np.ndarray:
    """(n_neurons, dim) embeddings in the recording's neuron order; NaN rows for neurons without one."""
    if len(table) == 0:
        raise NeurPIRError("has an empty embeddings table", source=recording.source.label())
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in table["embedding"]])
    position = {int(neuron): row for row, neuron in enumerate(table["neuron_id"])}
    out = np.full((recording.n_neurons, vectors.shape[1]), np.nan)
    rows = [(index, position[int(n)]) for index, n in enumerate(recording.neuron_ids) if int(n) in position]
    if not rows:
        raise NeurPIRError("none of the embedded neuron ids matches a neuron read from the file",
                           source=recording.source.label())
    mine, theirs = map(list, zip(*rows))
    out[mine] = vectors[theirs]
    return out


def evaluate_annotated(
    paths: Sequence[str | Path],
    *,
    label: str,
    name: str | None = None,
    methods: Sequence[str] | None = None,
    reader_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
    **options: Any,
) -> EvaluationResult:
    """``evaluate`` on annotated files: their embeddings as ``neurpir``; hand baselines (read from the same files)
    unless ``methods`` names only ``neurpir`` (then sidecar files work too). ``options`` go to ``evaluate``."""
    from nwb_neurpir.evaluation.evaluate import evaluate
    from nwb_neurpir.io import open_recording

    table = read_annotated(paths, name)
    if methods is not None and all(m.partition(":")[0] == "neurpir" for m in methods):
        return evaluate(label=label, embeddings=table, methods=methods, progress=progress, **options)
    recordings, matrices = [], []
    for path, frame in table.groupby("file", sort=False):
        recording = open_recording(path, keep_spike_times=True, **(reader_kwargs or {}))
        recordings.append(recording)
        matrices.append(aligned_embeddings(recording, frame))
    return evaluate(recordings, label=label, embeddings=matrices,
                    embeddings_training_data=table.attrs["training_data"], methods=methods, progress=progress,
                    **options)


def evaluate_recordings(
    sources: Sequence[str | Path],
    *,
    label: str,
    glob: str | None = None,
    cache_dir: str | Path | None = None,
    reader_kwargs: dict[str, Any] | None = None,
    model_dir: str | Path | None = None,
    config: Any = None,
    progress: bool = True,
    **options: Any,
) -> EvaluationResult:
    """Read ``sources`` (spike times kept for the ISI features) and ``evaluate`` them with the model in
    ``model_dir`` or by training ``config`` per fold; ``options`` go to ``evaluate``."""
    from nwb_neurpir.evaluation.evaluate import evaluate
    from nwb_neurpir.io import open_recordings

    model = None
    if model_dir is not None:
        from nwb_neurpir.model import NeurPIR

        model = NeurPIR.load(model_dir)
    recordings = list(open_recordings(sources, glob, cache_dir=cache_dir, progress=progress, keep_spike_times=True,
                                      **(reader_kwargs or {})))
    return evaluate(recordings, label=label, model=model, config=config, progress=progress, **options)


def annotated_view(table: pd.DataFrame, label: str | None = None, grouping: LabelGrouping | None = None,
                   title: str = "NeurPIR embeddings") -> EmbeddingView:
    """The vectors of an annotated table for a UMAP, coloured by ``label`` (after ``grouping``; neurons outside it
    dropped) or by the first of ``DEFAULT_LABELS`` present."""
    if label is None:
        label = next((name for name in DEFAULT_LABELS if name in table.columns), None)
    elif label not in table.columns:
        columns = [c for c in table.columns if c not in ("embedding", "file")]
        raise NeurPIRError(f"the embeddings have no column {label!r}; available: {', '.join(map(str, columns))}")
    raw = table[label].tolist() if label is not None else ["all"] * len(table)
    grouped = group_labels(raw, grouping)
    kept = table.loc[grouped.keep]
    if len(kept) == 0:
        raise NeurPIRError(f"no neuron has a {label!r} value inside the grouping")
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in kept["embedding"]])
    return EmbeddingView(vectors=vectors, labels=grouped.labels, subjects=kept["subject_id"].astype(str).to_numpy(),
                         title=f"{title} ({label or 'no label'})")

"""Evaluation straight from sources: annotated NWB files (embeddings already inside), or any NWB sources with a
trained model folder or a training config.

Embeddings of annotated files come from ``nwb_neurpir.store.read_embeddings``; subject and session are read from the
same file. With hand-feature baselines requested, the activity is read too (so the files must hold it, i.e. not be
sidecar files).
"""

from __future__ import annotations

import time
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
    from nwb_neurpir.io.h5_tables import scalar_text
    from nwb_neurpir.io.nwb_file import open_nwb

    with open_nwb(path) as file:
        def text(name: str) -> str:
            return scalar_text(file, name) or ""

        return text("general/subject/subject_id"), text("general/session_id") or text("identifier")


def local_paths(resolved: Sequence[Any]) -> list[str]:
    """Paths of resolved sources (``nwb_neurpir.io.sources.ResolvedSource``), all of which must be local files:
    annotated files and sidecars are read locally."""
    remote = [source.label() for source in resolved if not source.is_local]
    if remote:
        raise NeurPIRError("annotated embeddings are read from local NWB files or sidecars; use --model or --train "
                           "for remote sources", source=remote[0])
    return [source.location for source in resolved]


def read_annotated(paths: Sequence[str | Path], name: str | None = None) -> pd.DataFrame:
    """One table of every file's embeddings with ``subject_id`` and ``session_id`` columns; ``attrs["training_data"]``
    lists the sessions the embedding model(s) were trained on, ``attrs["models"]`` each distinct model's provenance
    (by checksum)."""
    from nwb_neurpir.store import read_embeddings

    frames, training_data, models = [], [], {}
    for path in paths:
        frame = read_embeddings(path, name)
        subject_id, session_id = _identity(Path(path))
        frame.insert(0, "subject_id", subject_id)
        frame.insert(1, "session_id", session_id)
        frame["file"] = str(path)
        model = frame.attrs.get("model", {})
        training_data.extend(model.get("training_data", []))
        models.setdefault(model.get("checkpoint_sha256", ""), {**model, "files": []})["files"].append(str(path))
        frames.append(frame)
    if not frames:
        raise NeurPIRError("no annotated files given")
    table = pd.concat(frames, ignore_index=True)
    table.attrs = {"training_data": list(dict.fromkeys(training_data)), "models": list(models.values())}
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


def _model_provenance(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The provenance to report for annotated files: the one model's (with ``files``), or every model's."""
    if not models:
        return None
    if len(models) == 1:
        return {**models[0], "path": "embedded in the annotated files (model folder not recorded)"}
    return {"checkpoint_sha256": "several models", "models": models,
            "package_version": ", ".join(sorted({m.get("package_version", "") for m in models}))}


def _uses_neurpir(methods: Sequence[str] | None) -> bool:
    return methods is None or any("neurpir" in m.partition(":")[0] for m in methods)


def _timed_total(result: EvaluationResult, reading: float) -> EvaluationResult:
    """``result`` with the time spent reading its inputs counted in, so ``total`` is the one elapsed figure."""
    from nwb_neurpir.evaluation.evaluate import round_timings

    total = result.timings.get("total", 0.0) + reading
    result.timings = round_timings({"reading": reading, **result.timings, "total": total})
    return result


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
    unless ``methods`` names only ``neurpir`` (then sidecar files work too). Methods that need no NeurPIR vectors
    (``hand``, ``hand:gb``...) need no embeddings in the files. ``options`` go to ``evaluate``."""
    from nwb_neurpir.evaluation.evaluate import evaluate
    from nwb_neurpir.io import open_recording
    from nwb_neurpir.io.access import DataAccess

    clock = time.perf_counter()
    access = DataAccess()
    if not _uses_neurpir(methods):
        recordings = [open_recording(path, access=access, keep_spike_times=True, **(reader_kwargs or {}))
                      for path in paths]
        return _timed_total(evaluate(recordings, label=label, methods=methods, progress=progress, **options),
                            time.perf_counter() - clock)
    table = read_annotated(paths, name)
    provenance = _model_provenance(table.attrs["models"])
    if methods is not None and all(m.partition(":")[0] == "neurpir" for m in methods):
        return _timed_total(evaluate(label=label, embeddings=table, methods=methods, progress=progress,
                                     model_provenance=provenance, **options), time.perf_counter() - clock)
    recordings, matrices = [], []
    for path, frame in table.groupby("file", sort=False):
        recording = open_recording(path, access=access, keep_spike_times=True, **(reader_kwargs or {}))
        recordings.append(recording)
        matrices.append(aligned_embeddings(recording, frame))
    reading = time.perf_counter() - clock
    return _timed_total(evaluate(recordings, label=label, embeddings=matrices,
                                 embeddings_training_data=table.attrs["training_data"], methods=methods,
                                 progress=progress, model_provenance=provenance, **options), reading)


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
    from nwb_neurpir.io.access import DataAccess

    clock = time.perf_counter()
    model = None
    if model_dir is not None:
        from nwb_neurpir.model import NeurPIR

        model = NeurPIR.load(model_dir)
    recordings = list(open_recordings(sources, glob, access=DataAccess(cache_dir=cache_dir), progress=progress,
                                      keep_spike_times=True, **(reader_kwargs or {})))
    reading = time.perf_counter() - clock
    result = evaluate(recordings, label=label, model=model, config=config, progress=progress, **options)
    if model_dir is not None and result.settings.get("model"):
        result.settings["model"]["path"] = str(Path(model_dir).resolve())
    return _timed_total(result, reading)


def annotated_view(table: pd.DataFrame, label: str | None = None, grouping: LabelGrouping | None = None,
                   title: str = "NeurPIR embeddings", normalize: str = "auto",
                   unit_filter: str | None = None) -> EmbeddingView:
    """The vectors of an annotated table for a UMAP, coloured by ``label`` (after ``grouping``; neurons outside it
    dropped) or by the first of ``DEFAULT_LABELS`` present; ``unit_filter`` keeps the neurons matching it.

    ``normalize`` works as in ``evaluate`` (each file is a session; the label's classes count only when a label is
    known): ``auto`` z-scores per session unless a session is too small or single-class, then warns and uses none."""
    import warnings

    from nwb_neurpir.evaluation.evaluate import EvaluationWarning
    from nwb_neurpir.evaluation.normalization import choose_normalization
    from nwb_neurpir.io.unit_filter import select_rows

    if label is None:
        label = next((name for name in DEFAULT_LABELS if name in table.columns), None)
    elif label not in table.columns:
        columns = [c for c in table.columns if c not in ("embedding", "file")]
        raise NeurPIRError(f"the embeddings have no column {label!r}; available: {', '.join(map(str, columns))}")
    table = table.iloc[select_rows(unit_filter, table, what="neuron")].reset_index(drop=True)
    raw = table[label].tolist() if label is not None else ["all"] * len(table)
    grouped = group_labels(raw, grouping)
    kept = table.loc[grouped.keep]
    if len(kept) == 0:
        raise NeurPIRError(f"no neuron has a {label!r} value inside the grouping")
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in kept["embedding"]])
    sessions = kept["file"].astype(str).to_numpy()
    normalization = choose_normalization(normalize, sessions, grouped.labels if label is not None else None)
    if normalization.note:
        warnings.warn(normalization.note, EvaluationWarning, stacklevel=2)
    suffix = ", z-scored per session" if normalization.applied == "session" else ""
    return EmbeddingView(vectors=normalization.apply(vectors, sessions), labels=grouped.labels,
                         subjects=kept["subject_id"].astype(str).to_numpy(),
                         title=f"{title} ({label or 'no label'}){suffix}", label_name=label or "label",
                         normalization=normalization.to_dict())

"""``evaluate_sources``: the evaluation straight from sources, in the mode the inputs ask for -- annotated NWB files
(embeddings already inside), a trained model folder, or a training config (a model per fold) -- with the report.

Embeddings of annotated files come from ``nwb_neurpir.store.read_embeddings``; subject and session are read from the
same file. With hand-feature baselines requested, the activity is read too (so the files must hold it, i.e. not be
sidecar files).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import ContradictedReading, NeurPIRError
from nwb_neurpir.evaluation.plots import DEFAULT_DPI, check_dpi
from nwb_neurpir.evaluation.results import EmbeddingView, EvaluationResult
from nwb_neurpir.recording import recording_key, refuse_one_recording_twice
from nwb_neurpir.renamed import accepts_ophys_series
from nwb_neurpir.workflows.annotated import MovedSources, activity_source, local_paths, read_annotated
from nwb_neurpir.workflows.labels_file import ExternalLabels, relabel_frame, relabel_recordings
from nwb_neurpir.workflows.recordings import given_recordings, recordings_or_sources
from nwb_neurpir.workflows.vectors_file import ExternalVectors, matched_vectors, read_vectors

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.model import NeurPIRConfig
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.workflows.estimator import NeurPIR
    from nwb_neurpir.workflows.recordings import RecordingsOrSources

__all__ = ["EvaluationRun", "aligned_embeddings", "evaluate", "evaluate_annotated", "evaluate_recordings",
           "evaluate_sources"]


@dataclass
class EvaluationRun:
    """An evaluation's result and the report files written for it (none without a report folder)."""

    result: EvaluationResult
    written: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, with ``written``: the report files by kind."""
        payload = self.result.to_dict()
        payload["written"] = {key: str(path) for key, path in self.written.items()}
        return payload


def evaluate_sources(
    sources: Sequence[str | Path],
    *,
    label: str | None = None,
    glob: str | None = None,
    cache_dir: str | Path | None = None,
    unit_filter: str | None = None,
    bin_size: float | None = None,
    series: str | None = None,
    during: str | None = None,
    modality: str = "auto",
    model: TrainedModel | str | Path | None = None,
    num_threads: int = 0,
    config: NeurPIRConfig | None = None,
    transductive: bool = False,
    embeddings_name: str | None = None,
    report_dir: str | Path | None = None,
    overwrite: bool = False,
    plots: bool = True,
    projection: str = "umap",
    dpi: float = DEFAULT_DPI,
    command: str | None = None,
    labels: str | Path | pd.DataFrame | None = None,
    vectors: Mapping[str, str | Path | pd.DataFrame] | None = None,
    **options: Any,
) -> EvaluationRun:
    """Evaluate the sources with ``model`` (a trained model or its folder), by training ``config`` per fold (once on
    all sources with ``transductive``), or else from the embeddings stored in them (``embeddings_name`` picks the
    table); write the report to ``report_dir`` (PNG figures at ``dpi`` unless ``plots=False``; a report already
    there is replaced only with ``overwrite``, checked before any work). ``bin_size``: the grid the sources are read on
    (default: the model's, else the reader's); ``during`` (``--during``, ``"epochs:stage=NREM"``): the intervals whose
    time alone is read, for the vectors a model makes and for the hand features; ``modality`` (``spikes`` or ``ophys``;
    with a model or a config only): the kind of neurons read, files of the other kind skipped with one warning.
    ``command``, the command line that asked for it, goes into the report. ``labels`` (a CSV/TSV file or DataFrame, see
    ``labels_file``) stands in for the files' ``label`` column. ``vectors`` (method name -> a table of per-neuron
    vectors, see ``vectors_file``) are scored as methods of those names beside NeurPIR (when the files are annotated, or
    with ``model``/``config``) and the hand features. ``options`` go to ``evaluate`` (``match_column`` without
    ``label``: the stability alone). ``num_threads``: the torch threads a ``model`` folder embeds with (0:
    ``OMP_NUM_THREADS`` or every CPU this process may use)."""
    from nwb_neurpir.evaluation import write_report
    from nwb_neurpir.workflows.labels_file import read_labels

    if labels is not None and label is None:
        raise NeurPIRError("--labels (labels=) gives the values of --label (label=); name the label column too")
    external = None if labels is None else read_labels(labels, label)
    if vectors and label is None:
        raise NeurPIRError("--vectors (vectors=) are probed for --label (label=); name the label column too")
    tables = read_vectors(vectors or {})

    if report_dir is not None and not overwrite:
        _check_new_report(Path(report_dir), plots)
    if report_dir is not None and plots:
        check_dpi(dpi)
    reader = {"unit_filter": unit_filter, "bin_size": bin_size, "series": series, "during": during}
    if model is not None or config is not None or given_recordings(sources):
        result = evaluate_recordings(sources, label=label, glob=glob, cache_dir=cache_dir,
                                     reader_kwargs={**reader, "modality": modality}, model=model, config=config,
                                     num_threads=num_threads,
                                     labels=external, vectors=tables,
                                     protocol="transductive" if transductive else None, **options)
    else:
        from nwb_neurpir.io.access import DataAccess
        from nwb_neurpir.io.resolve import resolve_sources
        from nwb_neurpir.workflows.embeddings import annotated_files

        if modality != "auto":
            raise NeurPIRError("--modality (modality=) reads the recordings of --model or --train; annotated files "
                               "and hand baselines alone are read as they are: pick the neurons with --series "
                               "(series=: a PlaneSegmentation or RoiResponseSeries for calcium ROIs, a units table "
                               "for spikes; `neurpir inspect` names them)")

        given = local_paths(resolve_sources(sources, glob, access=DataAccess(cache_dir=cache_dir)))
        # with NeurPIR among the methods, files found in folders without embeddings are left out
        embedded = _uses_neurpir(options.get("methods"))
        if embedded and tables and options.get("methods") is None:
            embedded = _annotated_among(sources, glob, embeddings_name)
        paths = annotated_files(sources, glob, embeddings_name) if embedded else given
        result = evaluate_annotated(paths, label=label, name=embeddings_name, reader_kwargs=reader,
                                    moved_sources=given, labels=external, vectors=tables, embedded=embedded,
                                    **options)
        _note_left_out(result, _without_embeddings(given, paths), embeddings_name)
    result.settings["command"] = command
    if report_dir is not None and plots and options.get("progress", True):
        print(f"writing the report and its figures to {report_dir} (a {projection.upper()} of the vectors can take a "
              "minute) ...", file=sys.stderr)
    written = (write_report(result, report_dir, plots=plots, projection=projection, dpi=dpi)
               if report_dir is not None else {})
    return EvaluationRun(result=result, written=written)


def _annotated_among(sources: Sequence[str | Path], glob: str | None, name: str | None) -> bool:
    """Whether the sources hold NeurPIR embeddings (given vectors are then scored beside them, else alone)."""
    from nwb_neurpir.workflows.embeddings import annotated_files

    try:
        annotated_files(sources, glob, name)
    except NeurPIRError:
        return False
    return True


def _without_embeddings(given: Sequence[str], annotated: Sequence[str]) -> list[str]:
    """The files among ``given`` left out for lack of embeddings: neither annotated nor the recording that a
    sidecar among ``annotated`` holds the embeddings of."""
    moved = MovedSources(given)
    covered = set()
    for path in annotated:
        covered.add(Path(path).resolve())
        try:
            covered.add(Path(activity_source(path, moved)[0]).resolve())
        except NeurPIRError:
            continue  # a sidecar whose recording is not among the files given: it stands for none of them
    return [path for path in given if Path(path).resolve() not in covered]


def _note_left_out(result: EvaluationResult, left_out: Sequence[str], name: str | None) -> None:
    """Add (and warn) a note naming the files left out of ``result`` for lack of embeddings."""
    import warnings

    from nwb_neurpir.evaluation.evaluate import EvaluationWarning, some_of

    if not left_out:
        return
    table = f" named {name}" if name else ""
    note = (f"{len(left_out)} files left out: they hold no NeurPIR embeddings{table} (annotate them, or evaluate "
            f"hand features alone with --methods hand): {some_of(list(left_out))}")
    result.notes.append(note)
    warnings.warn(note, EvaluationWarning, stacklevel=3)


def _check_new_report(report_dir: Path, plots: bool) -> None:
    """Refuse a report folder that already holds a file the report may write (``report_files``): it would be
    replaced."""
    from nwb_neurpir.evaluation.report import report_files

    found = [name for name in report_files(plots) if os.path.lexists(report_dir / name)]
    if found:
        raise NeurPIRError(f"already holds {', '.join(found)}, which this report would replace; use --overwrite "
                           "(overwrite=True) to replace them, or another --out folder", source=report_dir)


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
    label: str | None = None,
    name: str | None = None,
    methods: Sequence[str] | None = None,
    reader_kwargs: dict[str, Any] | None = None,
    moved_sources: Sequence[str | Path] = (),
    labels: ExternalLabels | None = None,
    vectors: Sequence[ExternalVectors] = (),
    embedded: bool | None = None,
    progress: bool = True,
    **options: Any,
) -> EvaluationResult:
    """``evaluate`` on annotated files: their embeddings as ``neurpir``; hand baselines read from the same files or,
    for sidecar files, from the sources they name (when such a source has moved, the file among ``moved_sources``
    with its NWB identifier). Methods that need no NeurPIR vectors (``hand``, ``hand:gb``...)
    need no embeddings in the files; they are computed on the grid of the model that made the embeddings (unless
    ``reader_kwargs`` name a ``bin_size``), as a model reads files. ``labels`` stand in for the files' label column;
    ``vectors`` are other methods' (scored beside them). ``embedded``: read the files' embeddings (default: when
    ``methods`` name NeurPIR, or are not given). ``options`` go to ``evaluate``."""
    from nwb_neurpir.evaluation.evaluate import evaluate
    from nwb_neurpir.io import open_recording
    from nwb_neurpir.io.access import DataAccess

    clock = time.perf_counter()
    access = DataAccess()
    moved = MovedSources(moved_sources)

    def recording_of(path: str, reader: dict[str, Any], neuron_table: str | None = None) -> Recording:
        """The activity of the neurons whose vectors the file's table over ``neuron_table`` holds, over the time
        they were made from; None (hand features alone): of the neurons and time the reader's ``series`` and
        ``during`` choose, else as the file's first table was read."""
        given = {key: reader.get(key) for key in ("series", "during")}
        try:
            source, same_neurons = activity_source(path, moved, neuron_table, **(given if neuron_table else {}),
                                                   name=name if neuron_table else None)
        except ContradictedReading:
            raise
        except NeurPIRError as error:
            raise NeurPIRError(f"{error.one_line()}; the hand features are computed from its activity (--methods "
                               "neurpir reads the sidecar alone)") from None
        chosen = {key: value for key, value in same_neurons.items() if neuron_table or given.get(key) is None}
        return open_recording(source, access=access, keep_spike_times=True, **{**reader, **chosen})

    reader = dict(reader_kwargs or {})
    if not (_uses_neurpir(methods) if embedded is None else embedded):
        recordings = [recording_of(path, reader) for path in paths]
        refuse_one_recording_twice([(str(path), recording_key(r)) for path, r in zip(paths, recordings)])
        return _timed_total(evaluate(_relabelled(recordings, labels), label=label, methods=methods,
                                     progress=progress, vectors=matched_vectors(vectors, recordings), **options),
                            time.perf_counter() - clock)
    table = read_annotated(paths, name)
    provenance = _model_provenance(table.attrs["models"])
    if not vectors and methods is not None and all(m.partition(":")[0] == "neurpir" for m in methods):
        table = table if labels is None else relabel_frame(table, labels)
        return _timed_total(evaluate(label=label, embeddings=table, methods=methods, progress=progress,
                                     model_provenance=provenance, **options), time.perf_counter() - clock)
    model_grids = {model.get("hyperparameters", {}).get("bin_size") for model in table.attrs["models"]} - {None}
    if reader.get("bin_size") is None and len(model_grids) == 1:
        reader["bin_size"] = model_grids.pop()
    recordings, matrices = [], []
    for path, frame in table.groupby("file", sort=False):
        recording = recording_of(path, reader, frame["neuron_table"].iloc[0])
        recordings.append(recording)
        matrices.append(aligned_embeddings(recording, frame))
    recordings = _relabelled(recordings, labels)
    reading = time.perf_counter() - clock
    return _timed_total(evaluate(recordings, label=label, embeddings=matrices,
                                 embeddings_training_data=table.attrs["training_data"], methods=methods,
                                 progress=progress, model_provenance=provenance,
                                 vectors=matched_vectors(vectors, recordings), **options), reading)


def evaluate_recordings(
    sources: Sequence[str | Path] | Sequence[Recording],
    *,
    label: str | None = None,
    glob: str | None = None,
    cache_dir: str | Path | None = None,
    reader_kwargs: dict[str, Any] | None = None,
    model: TrainedModel | str | Path | None = None,
    num_threads: int = 0,
    config: Any = None,
    labels: ExternalLabels | None = None,
    vectors: Sequence[ExternalVectors] = (),
    progress: bool = True,
    **options: Any,
) -> EvaluationResult:
    """Read ``sources`` (spike times kept for the ISI features; as the model's modality and, unless
    ``reader_kwargs`` name one, on its bin size; else as the ``modality`` of ``reader_kwargs`` or of ``config``,
    files of the other kind skipped with one warning), or take the ``Recording`` objects given as they were read,
    and ``evaluate`` them with ``model`` (a trained model or its folder, loaded to embed with ``num_threads`` torch
    threads), by training ``config`` per fold, or with neither on the methods that need no NeurPIR vectors (hand
    features, ``vectors``), ``labels`` standing in for their label column, ``vectors`` scored beside them;
    ``options`` go to ``evaluate``."""
    from nwb_neurpir.evaluation.evaluate import evaluate
    from nwb_neurpir.io import open_recordings
    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.workflows.model_inputs import load_model_folder, open_for_model

    clock = time.perf_counter()
    folder = model if isinstance(model, (str, Path)) else None
    if folder is not None:
        model = load_model_folder(folder, num_threads)
    reader = dict(reader_kwargs or {}, access=DataAccess(cache_dir=cache_dir), progress=progress,
                  keep_spike_times=True)
    modality = reader.pop("modality", "auto")
    if given_recordings(sources):
        _refuse_reading_options(glob, cache_dir, {**(reader_kwargs or {}), "modality": modality})
        recordings = list(sources)
    elif model is not None:
        if modality not in ("auto", model.config.modality):
            raise NeurPIRError(f"--modality {modality} (modality=) was asked for, but the model was trained on "
                               f"{model.config.modality} data", source=folder)
        recordings = list(open_for_model(model, sources, glob, **reader))
    else:
        asked = getattr(config, "modality", None) if modality == "auto" else modality
        recordings = list(open_recordings(sources, glob, modality=asked or "auto", **reader))
    recordings = _relabelled(recordings, labels)
    reading = time.perf_counter() - clock
    result = evaluate(recordings, label=label, model=model, config=config, progress=progress,
                      vectors=matched_vectors(vectors, recordings), **options)
    if folder is not None and result.settings.get("model"):
        result.settings["model"]["path"] = str(Path(folder).resolve())
        result.view = _view_of_model(result.view, Path(folder))
    return _timed_total(result, reading)


def _view_of_model(view: EmbeddingView | None, folder: Path) -> EmbeddingView | None:
    """``view`` titled with the name of the model folder whose vectors it draws (not when it draws an ablation trained
    per fold, or hand features)."""
    import dataclasses

    from nwb_neurpir.evaluation.representations import NEURPIR_VARIANTS

    full = NEURPIR_VARIANTS["neurpir"]
    if view is None or not view.title.startswith(full):
        return view
    return dataclasses.replace(view, title=f"NeurPIR vectors of model {folder.resolve().name}{view.title[len(full):]}")


def _refuse_reading_options(glob: str | None, cache_dir: str | Path | None, reader: dict[str, Any]) -> None:
    """Refuse options that say how to read sources when the recordings given were read already."""
    asked = {"glob": glob, "cache_dir": cache_dir, **reader}
    named = next((name for name, value in asked.items() if value not in (None, "auto")), None)
    if named is not None:
        raise NeurPIRError(f"{named}= says how to read files, but the recordings given were read already: read them "
                           f"with npir.open_recordings(..., {named}=...), or give the files' paths")


@accepts_ophys_series
def evaluate(
    sources: RecordingsOrSources,
    *,
    label: str | None = None,
    model: NeurPIR | TrainedModel | str | Path | None = None,
    report_dir: str | Path | None = None,
    **options: Any,
) -> EvaluationResult:
    """Probe ``label`` on each animal in turn, held out, from NeurPIR vectors and from hand features: the Python
    form of ``neurpir evaluate``. ``match_column`` (``--match-column``), a neuron column that tracks units across
    an animal's recordings, adds their cross-session stability (``result.stability``); alone, without ``label``,
    it is all that is measured.

    ``sources``: paths, folders, DANDI asset IDs or URLs (``npir.open_recordings``), or ``Recording`` objects read
    already (evaluated as they were read: ``keep_spike_times=True`` gives the hand features' ISI statistics exact
    spike times, else they come from the binned counts; with ``model=None`` they are probed with the methods that
    need no NeurPIR vectors, the hand features by default).

    ``model``: a fitted :class:`~nwb_neurpir.NeurPIR` estimator, a trained model or a model folder embeds every
    source; an unfitted estimator trains one model per fold with its parameters (``transductive=True``: one model
    on all sources); ``None`` reads the embeddings stored in annotated files or sidecars. ``options`` are
    ``evaluate_sources``'s and ``neurpir evaluate``'s: ``grouping``, ``split``, ``methods`` (a list, or the
    command's comma-separated text), ``probe``, ``normalize``, ``n_splits`` (``--folds``), ``seed``, ``glob``,
    ``bin_size``, ``unit_filter``, ``series`` (``--series``: the calcium traces or units table), ``during``
    (``--during``: the intervals whose time alone is read, ``"epochs:stage=NREM"``), ``match_column``,
    ``labels`` (``--labels``: a CSV/TSV file or DataFrame of labels kept outside the files), ``vectors``
    (``--vectors``: method name -> a CSV/TSV/parquet/npz file or DataFrame of another method's per-neuron vectors,
    scored beside NeurPIR and the hand features; see ``nwb_neurpir.workflows.vectors_file``), ``progress`` (None
    follows ``NEURPIR_PROGRESS``, as ``open_recordings``)... With ``report_dir`` the report (report.md/json and PNG
    figures, at ``dpi`` dots per inch, default 120; ``plots=False``: none; ``projection="pca"``: an instant embedding
    figure) is written there (``overwrite=True`` replaces a report already there); ``result.table()`` gives the
    scores as a DataFrame.

    >>> import nwb_neurpir as npir
    >>> result = npir.evaluate("sim/", label="cell_type", model=npir.NeurPIR(max_steps=200))   # doctest: +SKIP
    >>> result.table()["pooled_balanced_accuracy"]                                              # doctest: +SKIP
    """
    from nwb_neurpir.evaluation.methods import split_methods
    from nwb_neurpir.progress import progress_or_environment
    from nwb_neurpir.workflows.estimator import NeurPIR, NotFittedError, trained_model

    options["progress"] = progress_or_environment(options.get("progress"))
    config = None
    if isinstance(model, NeurPIR):
        try:
            model = trained_model(model)
        except NotFittedError:
            model, config = None, model.config
    if isinstance(options.get("methods"), str):
        options["methods"] = split_methods(options["methods"])
    return evaluate_sources(recordings_or_sources(sources), label=label, model=model, config=config,
                            report_dir=report_dir, **options).result


def _relabelled(recordings: list[Recording], labels: ExternalLabels | None) -> list[Recording]:
    """The recordings with their label column from ``labels``, when given."""
    return recordings if labels is None else relabel_recordings(recordings, labels)


def aligned_embeddings(recording: Recording, table: pd.DataFrame) -> np.ndarray:
    """(n_neurons, dim) embeddings in the recording's neuron order; NaN rows for neurons without one, infinite rows
    for those whose stored vector holds NaN or infinite values (``evaluate`` drops both, by name)."""
    if len(table) == 0:
        raise NeurPIRError("has an empty embeddings table", source=recording.source.label())
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in table["embedding"]])
    vectors[~np.isfinite(vectors).all(axis=1)] = np.inf
    position = {int(neuron): row for row, neuron in enumerate(table["neuron_id"])}
    out = np.full((recording.n_neurons, vectors.shape[1]), np.nan)
    rows = [(index, position[int(n)]) for index, n in enumerate(recording.neuron_ids) if int(n) in position]
    if not rows:
        raise NeurPIRError("none of the embedded neuron ids matches a neuron read from the file",
                           source=recording.source.label())
    mine, theirs = map(list, zip(*rows))
    out[mine] = vectors[theirs]
    return out

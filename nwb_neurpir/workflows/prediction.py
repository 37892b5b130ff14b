"""``predict``: a fitted ``LabelProbe`` applied to the neurons of NWB sources, each neuron's predicted label and class
probabilities written into its file (or, for DANDI assets and read-only files, into a sidecar file)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.workflows.annotation import AnnotateOutcome, as_embedded, other_modality_skipped
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.recording import same_grid
from nwb_neurpir.renamed import accepts_ophys_series
from nwb_neurpir.workflows.recordings import source_items

if TYPE_CHECKING:
    import pandas as pd

    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.io.sources import ResolvedSource
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.workflows.estimator import NeurPIR
    from nwb_neurpir.workflows.probe import LabelProbe
    from nwb_neurpir.workflows.recordings import Sources

__all__ = ["PredictOutcome", "predict", "predict_with_saved_probe"]


@dataclass(frozen=True)
class PredictOutcome(AnnotateOutcome):
    """What happened to one source (``status``: in-place, copy, sidecar, skipped, failed, or unchanged: the file
    already held these predictions, by the same probe from the same model's embeddings; ``path``; ``n_neurons``
    predicted; ``error``), how many of its neurons got each class (``counts``), how many were left unpredicted for
    having no activity in the time read (``n_silent``: no label, as neurons a unit filter leaves out), the tables an
    ``overwrite`` replaced (``replaced``: ``module/name (model <checksum>)``) and the probe that predicted them
    (``LabelProbe.summary``)."""

    counts: dict[str, int] = field(default_factory=dict)
    probe: dict[str, Any] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "counts": dict(self.counts), "replaced": list(self.replaced),
                "probe": dict(self.probe)}


@accepts_ophys_series
def predict(probe: LabelProbe | str | Path, sources: Sources, glob: str | None = None, *,
            model: NeurPIR | TrainedModel | str | Path | None = None, name: str | None = None,
            embeddings: str | None = None, sidecar: bool | None = None, output_dir: str | Path | None = None,
            overwrite: bool = False, cache_dir: str | Path | None = None, unit_filter: str | None = None,
            series: str | None = None, during: str | None = None, lock_timeout: float | None = None,
            progress: bool | None = None, raise_on_failure: bool = True) -> list[PredictOutcome]:
    """Predict ``probe.label`` for every neuron of the sources and store it with the class probabilities in a
    ``NeuronPredictions`` table (default name ``predicted_<label>``).

    A local file that already holds embeddings of the probe's model gets the predictions next to them, in place
    (atomic, locked; a writable file) or, with ``output_dir``, in a copy there; ``embeddings`` names the table when
    the file holds several of that model (else the default-named one is used), and ``unit_filter`` keeps the
    neurons it selects. Any other source is embedded by ``model`` (the one the probe was fitted on: an estimator, a
    trained model or a model folder; ``series`` picks the calcium traces or units table it reads) and
    annotated as ``annotate`` does -- in place, a copy in ``output_dir``, or a sidecar file for DANDI assets, URLs,
    read-only files without ``output_dir`` and ``sidecar=True`` -- and the predictions go into that file.
    Where the file has none of the model's embeddings, ``embeddings`` names the table the new ones are written
    under (default ``NeurPIREmbeddings``): another model's of that name are kept unless ``overwrite``, which
    replaces earlier embeddings, sidecars and predictions of the same names (the outcome's ``replaced`` lists them).
    A file that already holds predictions of that name by this very probe (same checksum) from this model's
    embeddings is left as it is (status ``unchanged``), also without ``overwrite``. ``during`` (``--during``,
    ``"epochs:stage=NREM"``) reads only the time inside those intervals, for the vectors embedded now and for the
    hand features.
    Every neuron gets one of the probe's classes (the label set is closed: a warning counts the labelled neurons
    whose own label, after the probe's grouping, is none of them), except neurons without any activity in the time
    read, which are left unpredicted (``n_silent``); a warning names a file whose recording the probe was fitted
    on (in-sample labels). Sidecar files and files without neurons are skipped, as are files of the other modality
    beside files of the model's own. Every source is tried; then, unless ``raise_on_failure=False``, a failure
    raises a ``NeurPIRError``. ``progress``: None follows ``NEURPIR_PROGRESS`` (as ``open_recordings``).

    >>> import nwb_neurpir as npir
    >>> probe = npir.LabelProbe("cell_type").fit(["sim/sub-sim01", "sim/sub-sim02"])    # doctest: +SKIP
    >>> npir.predict(probe, "sim/sub-sim03", model="model/")                          # doctest: +SKIP
    """
    from tqdm import tqdm

    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.io.nwb_reader import NoNeurons, SidecarFile
    from nwb_neurpir.io.resolve import resolve_each
    from nwb_neurpir.progress import progress_or_environment
    from nwb_neurpir.store import DEFAULT_LOCK_TIMEOUT
    from nwb_neurpir.workflows.estimator import trained_model
    from nwb_neurpir.workflows.model_inputs import OtherModality
    from nwb_neurpir.store.read import annotated_recording
    from nwb_neurpir.workflows.prediction_checks import AlreadyPredicted, in_sample_keys
    from nwb_neurpir.workflows.probe import LabelProbe

    fitted = probe if isinstance(probe, LabelProbe) else LabelProbe.load(probe)
    embedder = None if model is None else trained_model(model)
    if embedder is not None:
        _check_same_model(fitted, embedder)
    access = DataAccess(cache_dir=cache_dir)
    options = dict(name=name, overwrite=overwrite, progress=False,
                   lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout)
    resolved, failures = resolve_each(source_items(sources), glob, access=access)
    outcomes = [PredictOutcome(source=text, status="failed", error=error.one_line()) for text, error in failures]
    other_kind: list[int] = []
    recordings = [annotated_recording(path) for path in fitted.training_data_]  # read once, for every file
    written = _Written(fitted.provenance(recordings), in_sample_keys(recordings))
    for source in tqdm(resolved, desc="predicting", unit="file", disable=not progress_or_environment(progress)):
        try:
            outcomes.append(_predict_one(fitted, embedder, source, access, sidecar, output_dir, unit_filter,
                                         series, during, embeddings, written, options))
        except AlreadyPredicted as done:
            outcomes.append(_unchanged(fitted, source.label(), done))
        except NeurPIRError as error:
            if isinstance(error, OtherModality):
                other_kind.append(len(outcomes))
            status = "skipped" if isinstance(error, (SidecarFile, NoNeurons)) else "failed"
            outcomes.append(PredictOutcome(source=source.label(), status=status, error=error.one_line()))
    outcomes = other_modality_skipped(outcomes, other_kind)
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    if failed and raise_on_failure:
        more = f" ({len(failed) - 1} more sources failed)" if len(failed) > 1 else ""
        raise NeurPIRError(f"{failed[0].error}{more}")
    return outcomes


def _unchanged(probe: LabelProbe, source: str, done: Any) -> PredictOutcome:  # noqa: ANN401 - AlreadyPredicted
    """The outcome of a file that already holds this probe's predictions: their neurons and counts per class."""
    counts = Counter(done.frame["label"].tolist())
    return PredictOutcome(source=source, status="unchanged", path=done.source, n_neurons=len(done.frame),
                          counts=dict(sorted(counts.items())), probe=probe.summary())


def predict_with_saved_probe(model_dir: str | Path, sources: Iterable[str | Path], glob: str | None = None, *,
                             fit_on: list[str] | None = None, labels: str | Path | None = None,
                             label: str = "cell_type", grouping: str | None = None,
                             probe_kind: str | None = None, probe_inputs: str | None = None,
                             probe_dir: str | Path | None = None, embeddings: str | None = None,
                             say: Callable[[str], None] = lambda _text: None,
                             num_threads: int = 0,
                             **options: Any) -> list[PredictOutcome]:
    """``predict`` with the model in ``model_dir`` and a probe kept beside it: fitted on the annotated, labelled
    files ``fit_on`` (a ``probe_kind`` probe, default logistic, reading ``probe_inputs``, default neurpir+hand;
    ``labels``, a CSV/TSV file, replacing their ``label`` column) and
    saved to ``probe_dir`` (default ``<model_dir>/probes/<label>[-<grouping>]``; the same probe saved there before,
    or by another job at the same time, is reused, a different one replaced only with ``overwrite``; ``say`` hears
    its summary, and a warning when the probe's cross-animal accuracy is not above chance), or, without ``fit_on``,
    the one saved there (``say`` hears its summary and that warning too; a ``probe_kind`` or
    ``probe_inputs`` other than its own is refused: they need ``fit_on``; so is a ``grouping`` whose groups or their
    values differ from those it was fitted with). ``embeddings`` names the
    embedding table where files hold several, in ``fit_on`` and in the sources. A ``fit_on`` sidecar whose source has
    moved reads its hand features from the file of ``fit_on`` or ``sources`` with the source's NWB identifier. The
    model embeds with ``num_threads`` torch threads (0: ``OMP_NUM_THREADS`` or every CPU this process may use).
    ``options`` go to ``predict``; a failed source is reported in its outcome, not raised."""
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.workflows.prediction_checks import chance_warning, check_saved_grouping, check_saved_settings
    from nwb_neurpir.workflows.probe import LabelProbe
    from nwb_neurpir.workflows.probe_saving import keep_probe

    model = TrainedModel.load(model_dir).set_threads(num_threads)
    sources = source_items(sources)
    probe = LabelProbe(label, grouping, probe_kind or "logistic", inputs=probe_inputs or "neurpir+hand")
    folder = Path(probe_dir) if probe_dir is not None else probe.default_folder(model_dir)
    if fit_on:
        _check_can_save(folder)
        tables = _files_of_model(fit_on, model.provenance().checkpoint_sha256, embeddings)
        _check_fit_on_time(tables, options.get("during"))
        say(f"fitting the {probe.name} probe on {len(tables)} annotated files"
            + (" (reading their activity for the hand features)" if probe.reads_hand_features else "") + " ...")
        probe.fit(list(tables), _one_table(tables), moved_sources=[*fit_on, *sources], labels=labels)
        probe, reused = keep_probe(probe, folder, bool(options.get("overwrite")))
        say(f"{probe.summary_line()}; " + (f"the same probe is already saved at {folder}, reused" if reused else
                                           f"saved to {folder}"))
    else:
        asked, probe = probe, LabelProbe.load(folder)
        check_saved_settings(probe, probe_kind, probe_inputs, folder)
        check_saved_grouping(probe, asked.grouping, folder)
        _check_same_model(probe, model, f"the probe saved in {folder}")
        say(f"{probe.summary_line()}; saved at {folder}, reused")
    warning = chance_warning(probe)
    if warning:
        say(warning)
    return predict(probe, sources, glob, model=model, embeddings=embeddings, raise_on_failure=False, **options)


def _check_can_save(folder: Path) -> None:
    """Refuse, before the probe is fitted, a probe folder that cannot be written or made (a read-only model folder)."""
    from nwb_neurpir.store.atomic import is_writable

    nearest = next(path for path in (folder, *folder.parents) if path.exists())
    if not is_writable(nearest):
        where = "" if nearest == folder else f" ({nearest} is not writable)"
        raise NeurPIRError(f"cannot save the probe here{where}; give a folder you can write with --probe-dir",
                           source=folder)


def _files_of_model(sources: list[str], model_sha256: str, embeddings: str | None) -> dict[str, str]:
    """The annotated files among ``sources`` that hold embeddings of the model, each with the table of them it
    reads (``module/name``; beside a dandiset's ``_ecephys.nwb`` files annotated with a spikes model, its
    ``_ophys.nwb`` files may hold an ophys model's): the others are left out with a warning; none left is a
    ``NeurPIRError``."""
    import warnings

    from nwb_neurpir.workflows.embeddings import annotated_files

    files = annotated_files(sources, None, embeddings)
    kept = {path: found[0] for path in files if (found := _model_table(path, model_sha256, embeddings))}
    if not kept:
        raise NeurPIRError("no --fit-on file holds embeddings of this model; annotate them with it first",
                           source=", ".join(map(str, sources)))
    if len(kept) < len(files):
        warnings.warn(f"{len(files) - len(kept)} --fit-on files hold embeddings of other models only; the probe is "
                      f"fitted on the {len(kept)} annotated with this one", stacklevel=3)
    return kept


def _check_fit_on_time(tables: dict[str, str], during: str | None) -> None:
    """Refuse (``ContradictedReading``) a ``during`` (``--during``) other than the one the vectors of ``tables``
    (file -> its table) were made with: the probe fits on those vectors and hand features read with theirs."""
    from nwb_neurpir.store import read_embeddings
    from nwb_neurpir.workflows.annotated import embedded_reading

    for path, key in tables.items() if during is not None else ():
        frame = read_embeddings(path, key)
        embedded_reading(frame.attrs["neuron_table"], frame.attrs.get("model", {}).get("hyperparameters", {}), None,
                         path, during)


def _one_table(tables: dict[str, str]) -> str:
    """The one table name (``module/name``) the probe reads in every file of ``tables`` (file -> its table)."""
    names = sorted(set(tables.values()))
    if len(names) > 1:
        raise NeurPIRError(f"the --fit-on files hold this model's embeddings under different names "
                           f"({', '.join(names)}); pick one by name (--embeddings)")
    return names[0]


def _check_same_model(probe: LabelProbe, model: TrainedModel, which: str = "the probe") -> None:
    if not probe.model_sha256_:
        raise NeurPIRError(f"{which} does not record which model made the embeddings it was fitted on (a frame "
                           "without attrs); fit it again with this package")
    if model.provenance().checkpoint_sha256 != probe.model_sha256_:
        raise NeurPIRError(f"{which} was fitted on embeddings of another model (checksums differ); fit it on "
                           "files annotated with this model")


def _predict_one(probe: LabelProbe, model: TrainedModel | None, source: ResolvedSource, access: Any,  # noqa: ANN401
                 sidecar: bool | None, output_dir: str | Path | None, unit_filter: str | None,
                 series: str | None, during: str | None, embeddings: str | None, written: _Written,
                 options: dict[str, Any]) -> PredictOutcome:
    from nwb_neurpir.io import read_resolved
    from nwb_neurpir.store import write_predictions
    from nwb_neurpir.store.predictions import predictions_name
    from nwb_neurpir.workflows.annotated import embedded_reading
    from nwb_neurpir.workflows.prediction_checks import replaced_tables

    recording, hand = None, probe.hand_reading()
    predictions = options["name"] or predictions_name(probe.label)
    made_by = (written.probe.checkpoint_sha256, probe.model_sha256_)
    found = _local_embeddings(probe, source, sidecar, output_dir, embeddings)
    if found is not None:
        (ids, vectors, table, provenance), path, status, copy_from = found
        replaced = replaced_tables(path, None, predictions, options["overwrite"], made_by)
        same_neurons = embedded_reading(table, provenance.hyperparameters, series, source.label(), during)
        if unit_filter is not None:
            recording = read_resolved(source, access, unit_filter=unit_filter, **same_neurons, **hand)
            ids, vectors = _selected(ids, vectors, recording.neuron_ids, source.label())
    elif model is None:
        _check_modality(probe, source, access)
        raise NeurPIRError("has no embeddings of the probe's model; give the model to embed it", source=source.label())
    else:
        recording, ids, vectors, table, provenance, path, status, replaced = _embed_and_annotate(
            model, source, access, sidecar, output_dir, unit_filter, series, during, embeddings, predictions,
            made_by, options, hand.get("keep_spike_times", False))
        same_neurons = embedded_reading(table, provenance.hyperparameters, series, source.label(), during)
        copy_from = None
    if recording is None or not _reads_embedded(recording, same_neurons) or not _read_for_hand(recording, hand):
        recording = read_resolved(source, access, **{"bin_size": None, **hand}, **same_neurons)
    probabilities = probe.predict_proba(vectors, recording, ids) if hand else probe.predict_proba(vectors)
    ids, probabilities, n_silent = _told_about(probe, recording, ids, probabilities, written.training,
                                               source.label())
    write_predictions(copy_from or path, ids, probabilities, written.probe, provenance, neuron_table=table,
                      output=path if copy_from else None, **options)
    counts = Counter(np.asarray(probe.classes_)[probabilities.argmax(axis=1)].tolist())
    return PredictOutcome(source=source.label(), status=status, path=str(path), n_neurons=int(ids.size),
                          counts=dict(sorted(counts.items())), probe=probe.summary(), n_silent=n_silent,
                          replaced=replaced)


def _read_for_hand(recording: Recording, hand: dict[str, Any]) -> bool:
    """Whether ``recording`` was read as the probe's ``hand_reading`` asks: on its grid, with spike times if asked."""
    if not hand:
        return True
    wants_times = hand["keep_spike_times"] and recording.modality == "spikes"
    return same_grid(recording.bin_size, hand["bin_size"]) and not (wants_times and recording.spike_times is None)


def _reads_embedded(recording: Recording, reading: dict[str, str]) -> bool:
    """Whether ``recording`` was read from the traces (or units table) that ``reading`` (``embedded_reading``) reads:
    vectors stored beside a recording read with other ``--series`` were not made from it."""
    wanted = reading.get("series", "units")
    return wanted in (recording.activity_series or recording.neuron_table, recording.neuron_table)


@dataclass(frozen=True)
class _Written:
    """What every file written by one ``predict`` records of the probe (``ProbeProvenance``) and the recordings it
    was fitted on (``in_sample_keys``): read from its training files once."""

    probe: Any
    training: dict[tuple[str, str], str]


def _told_about(probe: LabelProbe, recording: Recording, ids: np.ndarray, probabilities: np.ndarray,
                training: dict[tuple[str, str], str], label: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The neurons to write and their probabilities: those with activity in the time read (how many are left out is
    returned); warns when the probe was fitted on this recording or its labelled neurons have labels outside the
    probe's classes."""
    import warnings

    from nwb_neurpir.workflows.prediction_checks import outside_classes_note, silent, warn_in_sample

    quiet = silent(recording, ids)
    if quiet.all():
        raise NeurPIRError(f"none of its {ids.size} neurons has any activity in the time read; nothing to predict",
                           source=label)
    ids, probabilities = ids[~quiet], probabilities[~quiet]
    warn_in_sample(training, recording, label)
    note = outside_classes_note(probe, recording, ids)
    if note:
        warnings.warn(f"{label}: {note}", stacklevel=3)
    return ids, probabilities, int(quiet.sum())


def _check_modality(probe: LabelProbe, source: ResolvedSource, access: Any) -> None:  # noqa: ANN401
    """An ``OtherModality`` error for a file holding only neurons of another modality than the probe's model's (so
    that, beside files of the model's own, it is skipped rather than failed); the neurons themselves are not read."""
    from nwb_neurpir.io.nwb_reader import ModalityMismatch, readable_modality
    from nwb_neurpir.workflows.model_inputs import model_mismatch

    if probe.model_modality_ is not None:
        with access.open_h5(source) as h5:
            try:
                readable_modality(h5, probe.model_modality_, source.label())
            except ModalityMismatch as exc:
                raise model_mismatch(exc) from None


def _selected(ids: np.ndarray, vectors: np.ndarray, wanted: np.ndarray,
              source: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored rows of the neurons ``wanted`` (those a unit filter selects)."""
    keep = np.isin(ids, wanted)
    if not keep.any():
        raise NeurPIRError("none of the neurons --filter selects has a stored embedding", source=source)
    return ids[keep], vectors[keep]


def _local_embeddings(probe: LabelProbe, source: ResolvedSource, sidecar: bool | None,
                      output_dir: str | Path | None,
                      embeddings: str | None) -> tuple[tuple, Path, str, Path | None] | None:
    """Vectors of the probe's model already stored for a local source, where ``annotate`` would have put them: in
    an earlier copy in ``output_dir`` (predictions go into it), in the file itself (into a copy in ``output_dir``,
    else in place when writable); with the file to write, its status and the file to copy from. None when there
    are none (sidecars are looked up once the recording is read, in ``_embed_and_annotate``)."""
    from nwb_neurpir.store.annotate import goes_to_sidecar, local_target

    if goes_to_sidecar(source.info, output_dir, True if sidecar else None):
        return None
    local = Path(source.location)
    target, how = local_target(local, output_dir, source.relative_path)
    if how == "copy" and target.exists() and \
            (stored := _stored_embeddings(target, probe.model_sha256_, embeddings)) is not None:
        return stored, target, "copy", None
    stored = _stored_embeddings(local, probe.model_sha256_, embeddings)
    if stored is None:
        return None
    if how == "in-place":
        return stored, local, "in-place", None
    target.parent.mkdir(parents=True, exist_ok=True)
    return stored, target, "copy", local


def _embed_and_annotate(model: TrainedModel, source: ResolvedSource, access: Any, sidecar: bool | None,  # noqa: ANN401
                        output_dir: str | Path | None, unit_filter: str | None, series: str | None,
                        during: str | None, embeddings: str | None, predictions: str, made_by: tuple[str, str],
                        options: dict[str, Any], keep_spike_times: bool) -> tuple[Recording, np.ndarray, np.ndarray,
                                                                                 str, Any, Path, str,
                                                          list[str]]:
    """Embed the source's neurons (read keeping their spike times with ``keep_spike_times``, for a probe's hand
    features) and store the vectors as ``annotate`` does (in place, a copy in ``output_dir``, or a sidecar), named
    ``embeddings`` (default ``NeurPIREmbeddings``) -- or, when ``annotate`` already wrote this model's vectors into
    the sidecar, use those; returns the recording, the neuron ids and their vectors, the neuron table in the written
    file, provenance, the file, how it was written and the tables that the vectors and the
    ``predictions`` replace there (refused, before embedding, without ``overwrite``; ``AlreadyPredicted`` when
    those predictions are ``made_by``'s: the probe's and the model's checksums)."""
    from nwb_neurpir.store import DEFAULT_MODULE, DEFAULT_NAME, annotate_recording, read_embeddings
    from nwb_neurpir.store.annotate import goes_to_sidecar, local_target, sidecar_target
    from nwb_neurpir.workflows.model_inputs import read_for_model, warn_missing_context
    from nwb_neurpir.workflows.prediction_checks import replaced_tables

    recording = read_for_model(model, source, access, unit_filter=unit_filter, series=series, during=during,
                               keep_spike_times=keep_spike_times)
    name, overwrite = embeddings or DEFAULT_NAME, options["overwrite"]
    if goes_to_sidecar(source.info, output_dir, True if sidecar else None):
        target = sidecar_target(source.info, name, output_dir, recording.subject_id, recording.session_id)
        stored = _stored_embeddings(target, model.provenance().checkpoint_sha256, embeddings) \
            if target.exists() else None
        if stored is not None:
            ids, vectors, table, provenance = stored
            ids, vectors = _selected(ids, vectors, recording.neuron_ids, source.label())
            return recording, ids, vectors, table, provenance, target, "sidecar", \
                replaced_tables(target, None, predictions, overwrite, made_by)
    else:
        target = local_target(Path(source.location), output_dir)[0]
        if embeddings is not None and target.is_file() and \
                _tables_of_model(target, model.provenance().checkpoint_sha256, None):
            raise NeurPIRError(f"has no embedding table {embeddings!r} of the probe's model", source=source.label())
    replaced = replaced_tables(target, name, predictions, overwrite, made_by)
    provenance = as_embedded(model.provenance(), recording, warn_missing_context(model, recording))
    vectors = model.embed(recording, progress=False)
    keep = np.isfinite(vectors).all(axis=1)
    recording, vectors = recording.select_neurons(keep), vectors[keep]
    result = annotate_recording(recording, vectors, provenance, name=name, sidecar=True if sidecar else None,
                                output_dir=output_dir, overwrite=overwrite,
                                lock_timeout=options["lock_timeout"], progress=False)
    table = recording.neuron_table if result.kind != "sidecar" else \
        read_embeddings(result.path, f"{DEFAULT_MODULE}/{name}").attrs["stored_table"]
    return recording, recording.neuron_ids, vectors, table, provenance, result.path, result.kind, replaced


def _tables_of_model(path: str | Path, model_sha256: str, embeddings: str | None) -> dict[str, pd.DataFrame]:
    """The file's embedding tables (named ``embeddings``, when given) made by the model, by ``module/name``."""
    from nwb_neurpir.store import list_embeddings, read_embeddings
    from nwb_neurpir.store.read import tables_named

    keys = list_embeddings(path)
    frames = {key: read_embeddings(path, key) for key in (keys if embeddings is None else
                                                          tables_named(keys, embeddings))}
    return {key: frame for key, frame in frames.items() if frame.attrs["model"]["checkpoint_sha256"] == model_sha256}


def _model_table(path: str | Path, model_sha256: str,
                 embeddings: str | None = None) -> tuple[str, pd.DataFrame] | None:
    """The ``module/name`` and frame of the file's embeddings made by the model: the table named ``embeddings``,
    else the only one or the default-named one; several others are refused; None when there are none."""
    from nwb_neurpir.workflows.embeddings import one_embedding_table

    frames = _tables_of_model(path, model_sha256, embeddings)
    key = one_embedding_table(frames, "of the probe's model", "--embeddings", path)
    return None if key is None else (key, frames[key])


def _stored_embeddings(path: Path, model_sha256: str,
                       embeddings: str | None = None) -> tuple[np.ndarray, np.ndarray, str, Any] | None:
    """Neuron ids, vectors, neuron table and model provenance of the file's embeddings made by the probe's model
    (``_model_table``), or None."""
    from nwb_neurpir.provenance import ModelProvenance

    found = _model_table(path, model_sha256, embeddings)
    if found is None:
        return None
    frame = found[1]
    model = frame.attrs["model"]
    provenance = ModelProvenance(**{k: model[k] for k in (
        "hyperparameters", "checkpoint_sha256", "training_data", "description", "package_version", "created")})
    return (frame["neuron_id"].to_numpy(), np.stack(frame["embedding"].to_numpy()), frame.attrs["stored_table"],
            provenance)

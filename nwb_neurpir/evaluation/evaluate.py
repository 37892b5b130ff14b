"""``evaluate``: every method on the same folds in one run, with per-fold class counts and chance levels.

Inputs, one of:
* recordings + ``config``: NeurPIR (with ``ablations=True`` also its ablation variants) is trained per fold on the
  training animals' recordings only (``inductive``), or once on every recording (``transductive``, the published
  protocol);
* recordings + a trained ``model``: embeds everything once; a fold is inductive when none of its test sessions is
  in the model's training data;
* recordings + ``embeddings`` (one matrix per recording, e.g. read back from annotated files);
* an embeddings table alone (columns ``subject_id``, ``session_id``, ``neuron_id``, the label, ``embedding``).
Hand-feature baselines run whenever recordings are given, and so do the vectors of other methods given with them
(``vectors``).
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.baselines import BASELINES, hand_feature_representation
from nwb_neurpir.evaluation.dataset import (
    LabelledNeurons,
    check_classes,
    from_embeddings,
    from_recordings,
    session_keys,
    session_names,
    table_population,
    table_sessions,
)
from nwb_neurpir.evaluation.evaluation_warning import EvaluationWarning
from nwb_neurpir.evaluation.external import GivenVectors
from nwb_neurpir.evaluation.features import feature_matrix
from nwb_neurpir.evaluation.grouping import MISSING_LABEL, GroupingSpec, LabelGrouping, load_grouping
from nwb_neurpir.evaluation.fold_notes import fold_notes
from nwb_neurpir.evaluation.label_notes import is_unassigned, label_notes
from nwb_neurpir.evaluation.diagnostics import representation_diagnostics, vector_plus_hand
from nwb_neurpir.evaluation.methods import (
    REPRESENTATIONS,
    Method,
    default_methods,
    parse_methods,
    representations_with,
)
from nwb_neurpir.evaluation.metrics import few_neurons_note, score_fold
from nwb_neurpir.evaluation.neighbours import NeighbourRepresentation
from nwb_neurpir.evaluation.normalization import NORMALIZATIONS, Normalization, choose_normalization, one_class_note
from nwb_neurpir.evaluation.probes import PROBES, fit_predict, fit_predict_fused, standardize_per_session
from nwb_neurpir.evaluation.representations import (
    NEURPIR_VARIANTS,
    FixedRepresentation,
    TrainedRepresentation,
    embed_all,
    gather_rows,
    variant_config,
)
from nwb_neurpir.evaluation.results import (
    RECORDED_SESSION,
    EmbeddingView,
    EvaluationResult,
    FoldInfo,
    FoldPredictions,
    MethodResult,
    describe_fold,
    left_out_reasons,
)
from nwb_neurpir.evaluation.sightings import unnamed_sightings
from nwb_neurpir.evaluation.splits import Fold, Split, animal_notes, make_folds, only_held_out
from nwb_neurpir.evaluation.stability import StabilityResult, measure_stability
from nwb_neurpir.evaluation.stability_inputs import stability_names, table_inputs, tracked_recordings
from nwb_neurpir.provenance import software_versions
from nwb_neurpir.recording import UNIT_NAME, Recording, refuse_recordings_read_twice
from nwb_neurpir.unicode_forms import named_columns

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR, NeurPIRConfig

__all__ = ["EvaluationWarning", "evaluate", "some_of"]

Protocol = Literal["inductive", "transductive"]
NO_EMBEDDING = "<no embedding>"
"""The ``dropped`` key of labelled neurons without a NeurPIR vector."""
NON_FINITE = "<non-finite vector>"
"""The ``dropped`` key of labelled neurons whose stored vector holds NaN or infinite values."""
_NAMES_SHOWN = 5
"""Names a note lists before "and N more": raw values a grouping drops, files left out (``some_of``)."""
Representation = FixedRepresentation | TrainedRepresentation | NeighbourRepresentation


@dataclass
class _Run:
    """What the folds loop fills in: per-method results, the figure's view, the raw matrices for diagnostics, the
    fold models' checksums and the time spent per representation."""

    results: dict[str, MethodResult]
    view: EmbeddingView | None = None
    matrices: dict[str, list[np.ndarray]] = field(default_factory=dict)
    fold_models: dict[str, dict[str, str]] = field(default_factory=dict)
    fold_training_data: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    unseen: dict[str, dict[int, np.ndarray]] | None = None
    """With a tracked column: per fold-trained representation, each recording's vectors from the first fold whose
    model never saw it (recording index -> matrix of all its neurons)."""


def evaluate(
    recordings: Sequence[Recording] | None = None,
    *,
    label: str | None = None,
    match_column: str | None = None,
    config: NeurPIRConfig | None = None,
    model: NeurPIR | None = None,
    embeddings: pd.DataFrame | Sequence[np.ndarray] | None = None,
    embeddings_training_data: Sequence[str] | None = None,
    grouping: GroupingSpec = None,
    split: Split = "animal",
    methods: Sequence[str] | None = None,
    probe: str = "logistic",
    protocol: Protocol | None = None,
    normalize: Literal["auto", "none", "session", "centre"] = "auto",
    n_splits: int = 5,
    seed: int = 0,
    held_out: Sequence[str] | None = None,
    progress: bool = True,
    model_provenance: dict | None = None,
    ablations: bool = False,
    vectors: Sequence[GivenVectors] = (),
) -> EvaluationResult:
    """Probe ``label`` (after ``grouping``: a preset name, a YAML/JSON file, a mapping group -> values such as
    ``{"hippocampus": ["CA*", "DG*"]}``, or a ``LabelGrouping``) from each method's per-neuron vectors on folds of
    ``split``.

    ``methods`` are ``REPRESENTATION[:PROBE]`` names (default: ``neurpir`` when the inputs allow it -- with a
    ``config`` and ``ablations=True`` also its ablation variants, each trained per fold -- then ``hand``, ``hand:gb``,
    ``hand-pca`` and ``neurpir+hand``). ``normalize``: ``session`` z-scores every representation within each
    session before the probe, with the statistics of all the session's neurons, labelled or not (label-free; removes
    session offsets such as rate scale or indicator brightness), and refuses when too many sessions are too small for
    it; ``centre`` does the same but only subtracts each session's mean; ``auto`` (default) z-scores but normalises
    the sessions too small for it with the statistics of all neurons, with a note (see ``normalization``).
    ``embeddings_training_data`` (session identifiers the embedding model was trained on; for an embeddings table,
    by default its ``attrs["training_data"]``, with its files named in ``attrs["recording_keys"]`` as
    ``read_embeddings`` gives them) lets given embeddings be labelled
    inductive or transductive per fold;
    ``model_provenance`` (checksum, hyperparameters... of the model behind given embeddings) goes into the report.
    ``held_out`` (animals, or sessions under ``split="session"``) keeps only the folds that hold them out: the
    animals a given model never saw. Folds whose test classes are all absent from their training neurons are
    unscorable: reported, not averaged in.

    ``match_column`` (a neuron column tracking units across one animal's recordings, same value = same neuron)
    adds cross-session retrieval of every NeurPIR variant and the hand features (``result.stability``, see
    ``stability``); with it ``label`` may be None: then only the stability is measured, from a ``model`` or given
    ``embeddings`` and the hand features.

    ``vectors``: other methods' per-neuron vectors for the recordings, each scored as ``NAME`` (and ``NAME:PROBE``,
    ``NAME+hand``) on the same folds and neurons; labelled neurons without a vector of every given representation
    (NeurPIR's included) are left out of every method. In given matrices (``embeddings``, ``vectors``) a row of NaN
    is a neuron without a vector, another row with NaN or infinite values a vector that is not finite (the report
    counts them apart).
    """
    started = time.perf_counter()
    _check_options(config, model, embeddings, normalize, probe, ablations)
    recordings = [_columns_named(recording, (label, match_column)) for recording in recordings or []]
    if isinstance(embeddings, pd.DataFrame):
        embeddings = named_columns(embeddings, (label, match_column))
    if vectors and (label is None or not recordings):
        raise NeurPIRError("vectors of other methods are probed for --label on the recordings they were made from; "
                           "give both")
    timings: dict[str, float] = {}
    if label is None:
        _check_label_free(match_column, config, grouping, held_out)
        return _stability_only(recordings, match_column, model, embeddings, methods, probe, progress, timings,
                               started, model_provenance)
    grouping = load_grouping(grouping)
    neurons, representations = _given_inputs(recordings, label, grouping, model, embeddings, embeddings_training_data,
                                             progress, timings, vectors, every_recording=match_column is not None)
    keys = session_keys(recordings)
    population_keys = _population_keys(recordings, keys, representations.get("neurpir"))
    normalization = choose_normalization(normalize, neurons.session_keys, population_keys)
    one_class = one_class_note(normalization, neurons.session_keys, neurons.labels, label, population_keys)
    notes = [note for note in (normalization.note, one_class) if note] + _coverage_notes(vectors, recordings, keys,
                                                                                         normalization)
    protocol = _protocol(protocol, split, config is not None)
    folds = make_folds(neurons.subject_ids, neurons.session_keys, neurons.labels, split, n_splits, seed,
                       sessions=neurons.sessions)
    notes += animal_notes(neurons.subject_ids) if split == "animal" else []
    if held_out:
        if split == "kfold":
            raise NeurPIRError("held-out animals need split 'animal' or 'session' (k-fold mixes every animal into "
                               "every fold)")
        folds = only_held_out(folds, held_out)
    fold_infos = [describe_fold(fold, neurons.labels, neurons.classes) for fold in folds]
    notes += _unscorable_notes(fold_infos, label) + _label_notes(recordings, embeddings, neurons, grouping, label)
    sightings = {} if model is None else unnamed_sightings(model, recordings, keys, folds)
    notes += _sighting_notes(sightings)
    train_sets = [_training_recordings(fold, split, recordings, protocol) for fold in folds]
    if config is not None:
        fold_infos = [_model_sees_animal(info, train_set, recordings)
                      for info, train_set in zip(fold_infos, train_sets)]
    notes += _shared_animal_notes(fold_infos)
    if config is not None:
        mode = "inductive" if protocol == "inductive" else "transductive"
        for variant in NEURPIR_VARIANTS:
            representations[variant] = TrainedRepresentation(
                name=variant, recordings=recordings, neurons=neurons,
                config=variant_config(config, variant, recordings[0].modality), mode=mode, progress=progress,
                every_recording=match_column is not None)
    if recordings and "neurpir" in representations:
        representations["neurpir-neighbours"] = NeighbourRepresentation(
            "neurpir-neighbours", representations["neurpir"], recordings, neurons)
    available = list(representations) + (list(BASELINES) if recordings else [])
    variants = [r for r in NEURPIR_VARIANTS if r in representations and (ablations or r == "neurpir")]
    known = representations_with({given.name: given.description for given in vectors})
    chosen = parse_methods(methods or default_methods(variants, bool(recordings), [v.name for v in vectors]),
                           available, probe, known)
    feature_names = None
    if any("hand" in method.sources for method in chosen):
        clock = time.perf_counter()
        representations["hand"], feature_names = hand_feature_representation(
            recordings, neurons, progress, among=_embedded_neurons(representations.get("neurpir")))
        timings["hand features"] = time.perf_counter() - clock
    for note in notes:
        warnings.warn(note, EvaluationWarning, stacklevel=2)
    if config is not None and progress:
        _announce_training(chosen, train_sets, config.resolved(recordings[0].modality))

    extra = _diagnostic_methods(chosen, probe)
    run = _Run(results={method.name: MethodResult(method=method, description=_describe(method, known),
                                                  classes=neurons.classes) for method in [*chosen, *extra]},
               timings=timings, unseen=None if match_column is None else {})
    _run_folds(folds, fold_infos, train_sets, neurons, representations, [*chosen, *extra], run,
               _session_sources(recordings, embeddings), sightings, keys, normalization, seed, progress)
    fold_infos = [_with_training_data(info, run) for info in fold_infos]
    diagnostics = _diagnostics(run, neurons, seed, [m.name for m in extra])
    stability = None if match_column is None else _label_run_stability(
        match_column, recordings, keys, embeddings, representations, stability_names(chosen), run)
    results = [run.results[method.name] for method in chosen]
    timings["total"] = time.perf_counter() - started
    settings = {"probe": probe, "normalize": normalization.applied, "normalization": normalization.to_dict(),
                "protocol": protocol if config is not None else None,
                "n_splits": n_splits if split == "kfold" else None, "held_out": list(held_out or []), "seed": seed,
                "n_recordings": len(recordings), "match_column": match_column,
                "bin_sizes_s": sorted({float(r.bin_size) for r in recordings}) or None,
                "config": None if config is None else config.hyperparameters(),
                "runtime": None if config is None else config.runtime(),
                "model": _model_settings(model, model_provenance), "fold_models": run.fold_models or None,
                "inductive_folds": _inductive_folds(results, fold_infos), "package_version": __version__,
                "software": software_versions(),
                "hand_features": feature_names, "sources": _sources(recordings, keys),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return EvaluationResult(
        label=label, grouping=None if grouping is None else grouping.to_dict(), split=split, classes=neurons.classes,
        n_neurons=neurons.n_total, n_labelled=len(neurons), dropped=neurons.dropped, folds=fold_infos,
        methods=results, settings=settings, timings=round_timings(timings), diagnostics=diagnostics,
        view=None if run.view is None else replace(run.view, grouping=grouping, n_total=neurons.n_total),
        notes=notes + fold_notes(fold_infos, results, label, split) + (stability.notes if stability else []),
        neurons=_neuron_table(neurons, recordings, keys),
        stability=stability)


def _columns_named(recording: Recording, names: Sequence[str | None]) -> Recording:
    """``recording`` with its neuron columns spelled like ``names`` in another Unicode form renamed as ``names``
    spell them (``named_columns``), so that ``label="área"`` typed either way finds the file's column."""
    metadata = named_columns(recording.neuron_metadata, names)
    return recording if metadata is recording.neuron_metadata else replace(recording, neuron_metadata=metadata)


def _check_label_free(match_column: str | None, config: NeurPIRConfig | None, grouping: object,
                      held_out: Sequence[str] | None) -> None:
    """Refuse what an evaluation without a label cannot do: nothing to measure, per-fold training, label options."""
    if match_column is None:
        raise NeurPIRError("nothing to evaluate: give a label to probe (--label) or a column of units tracked "
                           "across recordings (--match-column), or both")
    if config is not None:
        raise NeurPIRError("--train trains one model per fold of the --label probe; without --label give --model or "
                           "annotated files")
    if grouping is not None or held_out:
        raise NeurPIRError(f"{'--grouping' if grouping is not None else '--held-out'} needs --label (the stability "
                           "of --match-column is reported for every animal)")


def _stability_only(recordings: list[Recording], match_column: str, model: NeurPIR | None,
                    embeddings: pd.DataFrame | Sequence[np.ndarray] | None, methods: Sequence[str] | None,
                    probe: str, progress: bool, timings: dict[str, float], started: float,
                    model_provenance: dict | None) -> EvaluationResult:
    """The evaluation without a label: the cross-session stability of NeurPIR vectors (``model`` or ``embeddings``)
    and of the hand features, on every tracked neuron."""
    if isinstance(embeddings, pd.DataFrame):
        tracked, matrices = table_inputs(embeddings, match_column)
        vectors: dict[str, list[np.ndarray]] = {"neurpir": matrices}
    else:
        if not recordings:
            raise NeurPIRError("no recordings to evaluate")
        if len({recording.modality for recording in recordings}) > 1:
            raise NeurPIRError("the recordings mix modalities; evaluate one at a time")
        keys = session_keys(recordings)
        tracked = tracked_recordings(recordings, keys, match_column)
        variants = [] if model is None and embeddings is None else ["neurpir"]
        available = variants + ["neurpir-neighbours" for _ in variants] + list(BASELINES)
        chosen = parse_methods(methods or default_methods(variants, True), available, probe)
        vectors = _label_free_vectors(recordings, stability_names(chosen), model, embeddings, progress, timings)
    stability = measure_stability(match_column, tracked, vectors)
    for note in stability.notes:
        warnings.warn(note, EvaluationWarning, stacklevel=3)
    timings["total"] = time.perf_counter() - started
    n_neurons = sum(len(t.tracked) for t in tracked)
    settings = {"match_column": match_column, "n_recordings": len(tracked), "package_version": __version__,
                "software": software_versions(), "model": _model_settings(model, model_provenance),
                "bin_sizes_s": sorted({float(r.bin_size) for r in recordings}) or None,
                "sources": _sources(recordings, session_keys(recordings)),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return EvaluationResult(label=None, grouping=None, split="animal", classes=(), n_neurons=n_neurons,
                            n_labelled=0, dropped={}, folds=[], methods=[], settings=settings,
                            timings=round_timings(timings), notes=list(stability.notes), stability=stability)


def _label_free_vectors(recordings: list[Recording], names: list[str], model: NeurPIR | None,
                        embeddings: Sequence[np.ndarray] | None, progress: bool,
                        timings: dict[str, float]) -> dict[str, list[np.ndarray]]:
    """Per representation in ``names`` (``neurpir``, ``hand``), the vectors of every neuron of every recording."""
    vectors = {}
    among = None if embeddings is None else _finite_rows(_checked_matrices(embeddings, recordings))
    for name in names:
        clock = time.perf_counter()
        if name == "hand":
            vectors[name] = feature_matrix(recordings, progress=progress, among=among)[0]
        elif model is not None:
            vectors[name] = embed_all(model, recordings, None, progress)
        else:
            vectors[name] = _checked_matrices(embeddings, recordings)
        timings[f"{name} (stability)"] = time.perf_counter() - clock
    return vectors


def _label_run_stability(match_column: str, recordings: Sequence[Recording], keys: Sequence[str],
                         embeddings: object, representations: dict[str, Representation], names: list[str],
                         run: _Run) -> StabilityResult:
    """The stability of the representations ``names`` after the folds ran: fixed vectors as they are, fold-trained
    ones from the model of a fold that never saw the recording (none under a transductive protocol)."""
    if isinstance(embeddings, pd.DataFrame):
        tracked, matrices = table_inputs(embeddings, match_column)
        stability = measure_stability(match_column, tracked, {"neurpir": matrices} if "neurpir" in names else {})
    else:
        vectors: dict[str, list[np.ndarray | None]] = {}
        for name in names:
            representation = representations[name]
            if isinstance(representation, TrainedRepresentation):
                unseen = (run.unseen or {}).get(name, {})
                vectors[name] = [unseen.get(index) for index in range(len(recordings))]
            else:
                vectors[name] = representation.full_for_fold(())
        stability = measure_stability(match_column, tracked_recordings(recordings, keys, match_column), vectors)
        stability.notes += [f"{name}: every fold's model was trained on every recording (transductive), so no "
                            "vectors of a model that never saw a recording exist to measure its stability"
                            for name, matrices in vectors.items() if all(matrix is None for matrix in matrices)]
    for note in stability.notes:
        warnings.warn(note, EvaluationWarning, stacklevel=3)
    return stability


def _keep_unseen(unseen: dict[int, np.ndarray], full: list[np.ndarray], train_set: tuple[int, ...]) -> None:
    """Keep the vectors of the recordings a fold's model did not learn from (the first such fold's)."""
    for index, matrix in enumerate(full):
        if index not in train_set:
            unseen.setdefault(index, matrix)


def _sources(recordings: Sequence[Recording], keys: Sequence[str]) -> list[dict[str, str]]:
    """Per recording: its session key, where it was read from (absolute path, or DANDI label), NWB identifier and
    the path of its neuron table."""
    return [{"session": key, "location": recording.source.recorded_location,
             "identifier": recording.source.identifier, "neuron_table": recording.neuron_table.strip("/")}
            for key, recording in zip(keys, recordings)]


def _neuron_table(neurons: LabelledNeurons, recordings: Sequence[Recording], keys: Sequence[str]) -> pd.DataFrame:
    """``subject``, ``session`` (key), ``source`` (the recording's location, else the embeddings table's file),
    ``neuron_table``, ``neuron_id``, ``unit_name`` when the recordings have one, and ``recorded_session``
    (``results.RECORDED_SESSION``) per labelled neuron."""
    location = {key: recording.source.recorded_location for key, recording in zip(keys, recordings)}
    given = np.full(len(neurons), "", dtype=object) if neurons.locations is None else neurons.locations
    tables = np.full(len(neurons), "", dtype=object) if neurons.neuron_tables is None else neurons.neuron_tables
    names = {} if neurons.unit_names is None else {UNIT_NAME: neurons.unit_names}
    return pd.DataFrame({"subject": neurons.subject_ids, "session": neurons.session_keys,
                         "source": [location.get(key, file) for key, file in zip(neurons.session_keys, given)],
                         "neuron_table": tables, "neuron_id": neurons.neuron_ids, **names,
                         RECORDED_SESSION: neurons.sessions})


def round_timings(timings: dict[str, float]) -> dict[str, float]:
    """Seconds rounded to 0.1 s (``total`` last)."""
    total = timings.get("total")
    out = {name: round(float(value), 1) for name, value in timings.items() if name != "total"}
    if total is not None:
        out["total"] = round(float(total), 1)
    return out


def _check_options(config: NeurPIRConfig | None, model: NeurPIR | None, embeddings: object, normalize: str,
                   probe: str, ablations: bool) -> None:
    if sum(x is not None for x in (config, model, embeddings)) > 1:
        raise NeurPIRError("give at most one of: a training config, a trained model, embeddings")
    if ablations and config is None:
        raise NeurPIRError("ablations are trained per fold: they need a training config")
    if normalize not in NORMALIZATIONS:
        raise NeurPIRError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, not {normalize!r}")
    if probe not in PROBES:
        raise NeurPIRError(f"unknown probe {probe!r}; choose one of {', '.join(PROBES)}")


def _given_inputs(recordings: list[Recording], label: str, grouping: LabelGrouping | None, model: NeurPIR | None,
                  embeddings: pd.DataFrame | Sequence[np.ndarray] | None, training_data: Sequence[str] | None,
                  progress: bool, timings: dict[str, float], vectors: Sequence[GivenVectors] = (),
                  every_recording: bool = False) -> tuple[LabelledNeurons, dict[str, Representation]]:
    """The labelled neurons and the vectors that exist before any fold, NeurPIR's and the given ``vectors`` (neurons
    without one of them are dropped); ``every_recording``: a model embeds the recordings without a labelled neuron
    too."""
    table_vectors = None
    if isinstance(embeddings, pd.DataFrame):
        if recordings:
            raise NeurPIRError("an embeddings table is evaluated on its own; to add hand-feature baselines pass "
                               "one embedding matrix per recording instead")
        neurons, table_vectors = from_embeddings(embeddings, label, grouping)
    else:
        modalities = sorted({recording.modality for recording in recordings})
        if len(modalities) > 1:
            raise NeurPIRError(f"the recordings mix modalities ({', '.join(modalities)}); evaluate one at a time")
        refuse_recordings_read_twice(recordings)
        neurons = from_recordings(recordings, label, grouping)
    given: dict[str, FixedRepresentation] = {}
    if table_vectors is not None or embeddings is not None or model is not None:
        given["neurpir"] = _given_representation(recordings, neurons, model, embeddings, table_vectors, training_data,
                                                 progress, timings, every_recording)
    for other in vectors:
        if len(other.per_recording) != len(recordings):
            raise NeurPIRError(f"vectors {other.name}: one matrix per recording is needed")
        given[other.name] = FixedRepresentation(name=other.name, matrix=gather_rows(neurons, other.per_recording),
                                                mode="unknown" if other.training_data is None else "provenance",
                                                training_data=other.training_data or (),
                                                checkpoint_sha256=other.checkpoint_sha256,
                                                per_recording=other.per_recording)
    for name, representation in given.items():
        missing = ~np.isfinite(representation.matrix).all(axis=1)
        if missing.any():
            neurons = neurons.without(missing, _missing_reason(name, representation.matrix[missing],
                                                               table_vectors is not None))
            check_classes(neurons.labels, label, grouping, "embeddings" if name == "neurpir" else name)
            for each in given.values():
                each.matrix = each.matrix[~missing]
    return neurons, dict(given)


def _missing_reason(name: str, rows: np.ndarray, stored: bool) -> str:
    """Why neurons whose ``name`` rows are not finite are dropped: a stored vector with NaN or inf values (every
    row of an embeddings table, or a row not all NaN), or no vector (an all-NaN row of a given matrix)."""
    if stored or not np.isnan(rows).all():
        return NON_FINITE
    return NO_EMBEDDING if name == "neurpir" else f"<no {name} vector>"


def _run_folds(folds: list[Fold], fold_infos: list[FoldInfo], train_sets: list[tuple[int, ...]],
               neurons: LabelledNeurons, representations: dict[str, Representation], chosen: list[Method], run: _Run,
               sources: dict[str, set[str]], sightings: dict[str, tuple[str, str]], keys: list[str],
               normalization: Normalization, seed: int, progress: bool) -> None:
    """Every method on every scorable fold (fold-trained representations once per fold), filling ``run``;
    ``sources``: ``_session_sources``; ``sightings``: ``unnamed_sightings``."""
    from nwb_neurpir.progress import tqdm

    needed = list(dict.fromkeys(source for method in chosen for source in method.sources))
    bar = tqdm(total=len(folds) * len(needed), unit="step", disable=not progress, desc="evaluate")
    for number, (fold, info, train_set) in enumerate(zip(folds, fold_infos, train_sets), start=1):
        matrices: dict[str, np.ndarray] = {}
        for name in needed:
            representation = representations[name]
            bar.set_description_str(f"fold {number}/{len(folds)} ({fold.name}): {name}")
            if progress and representation.needs_training(train_set):
                tqdm.write(f"fold {number}/{len(folds)} ({fold.name}): training {name} on {len(train_set)} "
                           "recordings", file=sys.stderr)
            clock = time.perf_counter()
            raw = representation.for_fold(train_set)
            run.timings[name] = run.timings.get(name, 0.0) + time.perf_counter() - clock
            if run.unseen is not None and isinstance(representation, TrainedRepresentation):
                _keep_unseen(run.unseen.setdefault(name, {}), representation.full_for_fold(train_set), train_set)
            if not any(raw is seen for seen in run.matrices.setdefault(name, [])):
                run.matrices[name].append(raw)
            if representation.training_data and fold.name not in run.fold_training_data:
                run.fold_training_data[fold.name] = representation.training_data
            if representation.checkpoint_sha256:
                run.fold_models.setdefault(fold.name, {})[name] = representation.checkpoint_sha256
            matrices[name] = normalization.apply(raw, neurons.session_keys,
                                                 _population(representation, train_set, neurons, keys))
            if run.view is None:
                run.view = _view(name, matrices[name], neurons, fold, representation, normalization)
            bar.update()
        tested = set(neurons.sessions[fold.test].tolist())
        for method in chosen:
            result = run.results[method.name]
            result.modes.append(_fold_mode(representations[method.sources[0]], tested, sources,
                                           sightings.get(fold.name, ("", ""))[0]))
            if not info.scorable:
                result.scores.append(None)
                continue
            blocks = [matrices[source] for source in method.sources]
            if len(blocks) > 1:
                predicted = fit_predict_fused(method.probe, [b[fold.train] for b in blocks],
                                              neurons.labels[fold.train], [b[fold.test] for b in blocks], seed=seed)
            else:
                predicted = fit_predict(method.probe, blocks[0][fold.train], neurons.labels[fold.train],
                                        blocks[0][fold.test], pca=method.pca, seed=seed)
            scored = info.scored(neurons.labels[fold.test])
            y_true, y_pred = neurons.labels[fold.test][scored], predicted[scored]
            n_choices = len(info.training_classes)
            result.scores.append(score_fold(y_true, y_pred, neurons.classes, n_choices))
            result.predictions.append(FoldPredictions(fold.name, fold.test[scored], y_true, y_pred, n_choices))
    bar.close()


def _population(representation: Representation, train_set: tuple[int, ...], neurons: LabelledNeurons,
                keys: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Every neuron's vector, labelled or not, with its session key, when the representation knows them (the
    neurons whose statistics normalise each session); recordings without a labelled neuron are left out."""
    if isinstance(representation, FixedRepresentation) and representation.population is not None:
        return representation.population
    try:
        full = representation.full_for_fold(train_set)
    except ValueError:
        return None
    used = [(matrix[np.isfinite(matrix).all(axis=1)], key)
            for matrix, key, rows in zip(full, keys, neurons.recording_rows) if rows.size]
    return np.concatenate([m for m, _ in used]), np.repeat([key for _, key in used], [len(m) for m, _ in used])


def _population_keys(recordings: list[Recording], keys: list[str],
                     given: Representation | None) -> np.ndarray | None:
    """The session key of every neuron of the evaluated recordings (or of the embeddings table), labelled or not."""
    if recordings:
        return np.repeat(keys, [recording.n_neurons for recording in recordings])
    population = given.population if isinstance(given, FixedRepresentation) else None
    return None if population is None else population[1]


def _announce_training(chosen: list[Method], train_sets: list[tuple[int, ...]], config: NeurPIRConfig) -> None:
    """Say up front how many models the evaluation will train (a run can take long)."""
    sources = {source for method in chosen for source in method.sources}
    trained = {"neurpir" if source == "neurpir-neighbours" else source for source in sources}
    variants = sorted(trained & set(NEURPIR_VARIANTS))
    if variants:
        n_models = len(variants) * len(set(train_sets))
        print(f"training {n_models} models ({len(variants)} NeurPIR methods x {len(set(train_sets))} training sets) "
              f"of up to {config.max_steps} steps each", file=sys.stderr)


def _diagnostic_methods(chosen: list[Method], probe: str) -> list[Method]:
    """``neurpir+hand`` on the default probe when NeurPIR vectors and hand features are both evaluated but the
    combination was not asked for (the diagnostics compare it with the hand features alone)."""
    sources = {source for method in chosen for source in method.sources}
    if {"neurpir", "hand"} <= sources and not any(m.representation == "neurpir+hand" and m.probe == probe
                                                  for m in chosen):
        return [Method(name="neurpir+hand (diagnostic)", representation="neurpir+hand", probe=probe)]
    return []


def _diagnostics(run: _Run, neurons: LabelledNeurons, seed: int, hidden: list[str]) -> dict[str, Any]:
    """Effective rank and identity probes of every NeurPIR variant and the hand features (on the vectors before
    normalisation, the hand features' columns z-scored over all neurons as their units differ; trained variants:
    the mean over the folds' models), and NeurPIR + hand features against hand features alone."""
    out: dict[str, Any] = {"representations": {}}
    for name, matrices in run.matrices.items():
        if name not in NEURPIR_VARIANTS and name != "hand":
            continue
        if name == "hand":
            matrices = [standardize_per_session(matrix, np.zeros(len(matrix))) for matrix in matrices]
        out["representations"][name] = representation_diagnostics(matrices, neurons.session_keys,
                                                                   neurons.subject_ids, seed)
    hand = run.results.get("hand")
    combined = next((r for r in run.results.values() if r.method.representation == "neurpir+hand"
                     and hand is not None and r.method.probe == hand.method.probe), None)
    if hand is not None and combined is not None and combined.predictions:
        out["vector_plus_hand"] = vector_plus_hand(combined, hand)
        out["vector_plus_hand"]["shown_as_method"] = combined.method.name not in hidden
    return out


def _protocol(protocol: Protocol | None, split: str, training: bool) -> Protocol:
    if protocol not in (None, "inductive", "transductive"):
        raise NeurPIRError(f"protocol must be 'inductive' or 'transductive', not {protocol!r}")
    if protocol is None:
        return "transductive" if split == "kfold" else "inductive"
    if protocol == "inductive" and split == "kfold" and training:
        raise NeurPIRError("inductive training needs split 'animal' or 'session' (k-fold test neurons share "
                           "sessions with training neurons); use protocol 'transductive'")
    return protocol


def _training_recordings(fold: Fold, split: str, recordings: Sequence[Recording],
                         protocol: Protocol) -> tuple[int, ...]:
    """Recordings a fold-trained model may learn from: not the held-out animal's ones, or none of the held-out
    session's (the fold's name), its other spike sortings included."""
    if protocol == "transductive" or split == "kfold":
        return tuple(range(len(recordings)))
    if split == "animal":
        return tuple(i for i, r in enumerate(recordings) if r.subject_id not in fold.held_out_subjects)
    return tuple(i for i, session in enumerate(session_names(recordings)) if session != fold.name)


def _given_representation(recordings: list[Recording], neurons: LabelledNeurons, model: NeurPIR | None,
                          embeddings: pd.DataFrame | Sequence[np.ndarray] | None, table_vectors: np.ndarray | None,
                          training_data: Sequence[str] | None, progress: bool,
                          timings: dict[str, float], every_recording: bool = False) -> FixedRepresentation:
    """NeurPIR vectors that exist before the folds: an embeddings table, a trained model's, or given matrices."""
    if table_vectors is not None:
        training_data = embeddings.attrs.get("training_data") if training_data is None else training_data
        known = training_data is not None and bool(embeddings.attrs.get("recording_keys"))
        return FixedRepresentation(name="neurpir", matrix=table_vectors, mode="provenance" if known else "unknown",
                                   training_data=tuple(map(str, training_data or ())),
                                   population=table_population(embeddings))
    if model is not None:
        clock = time.perf_counter()
        full = embed_all(model, recordings, None if every_recording else neurons, progress)
        timings["neurpir (embedding)"] = time.perf_counter() - clock
        return FixedRepresentation(name="neurpir", matrix=gather_rows(neurons, full), mode="provenance",
                                   training_data=tuple(model.seen_data()), per_recording=full)
    full = _checked_matrices(embeddings, recordings)
    return FixedRepresentation(name="neurpir", matrix=gather_rows(neurons, full),
                               mode="unknown" if training_data is None else "provenance",
                               training_data=tuple(map(str, training_data or ())), per_recording=full)


def _embedded_neurons(given: Representation | None) -> list[np.ndarray] | None:
    """Per recording, the neurons with a NeurPIR vector given before the folds (the hand features are computed and
    normalised among them, as the vectors are); None when every neuron has one or the vectors are trained."""
    if not isinstance(given, FixedRepresentation) or given.per_recording is None:
        return None
    return _finite_rows(given.per_recording)


def _finite_rows(matrices: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """Per matrix, which rows are finite; None when all are."""
    finite = [np.isfinite(matrix).all(axis=1) for matrix in matrices]
    return None if all(rows.all() for rows in finite) else finite


def _checked_matrices(embeddings: Sequence[np.ndarray] | None, recordings: Sequence[Recording]) -> list[np.ndarray]:
    """Given embeddings as float matrices, after checking they are one (n_neurons, dim) matrix per recording."""
    matrices = list(embeddings or [])
    if len(matrices) != len(recordings) or any(
            np.asarray(m).ndim != 2 or len(m) != r.n_neurons for m, r in zip(matrices, recordings)):
        raise NeurPIRError("embeddings must be one (n_neurons, dim) matrix per recording, rows in neuron order")
    return [np.asarray(m, float) for m in matrices]


def _fold_mode(representation: Representation, tested: set[str], sources: dict[str, set[str]],
               sighted: str = "") -> str:
    """How the fold's representation relates to its test sessions ``tested`` (see ``MethodResult.modes``);
    ``provenance`` means: decide from the sessions the model was trained on (``sources`` names the recordings of
    each session as its training data does): transductive when it saw any recording of a test session, else the
    mode ``sighted`` names (``unnamed_sightings``: it saw them under other names, or saw their subject id) if any."""
    if representation.mode != "provenance":
        return representation.mode
    test = set().union(*(sources.get(session, set()) for session in tested))
    return "transductive" if test & set(representation.training_data) else sighted or "inductive"


def _sighting_notes(sightings: dict[str, tuple[str, str]]) -> list[str]:
    """A note per fold the model saw under other names, or whose animal's subject id alone it saw
    (``unnamed_sightings``), saying why and how to read it."""
    return [f"fold {name} is transductive for the model's vectors although its training data names none of the "
            f"fold's files: {why}" if mode == "transductive" else
            f"fold {name} is {mode} for the model's vectors: {why}, but none of the fold's recordings is a training "
            "session (by NWB identifier or activity); subject ids such as M1 recur across labs: read the fold as "
            "inductive if this is another animal, as transductive if the model was trained on other recordings of "
            "this animal" for name, (mode, why) in sightings.items()]


def _session_sources(recordings: Sequence[Recording],
                     embeddings: pd.DataFrame | Sequence[np.ndarray] | None) -> dict[str, set[str]]:
    """Session (``subject/session``) -> its recordings as a model's training data names them (``session_key``, and
    that key's ``hashed_key``, as a redacted export names it): every recording, or every file of an embeddings table
    read from annotated files (its ``attrs["recording_keys"]``)."""
    from nwb_neurpir.model.sessions import hashed_key, session_key

    if recordings:
        pairs = zip(session_names(recordings), map(session_key, recordings))
    elif isinstance(embeddings, pd.DataFrame) and "file" in embeddings.columns:
        named = embeddings["file"].astype(str).map(embeddings.attrs.get("recording_keys", {}))
        pairs = ((session, name) for session, name in zip(table_sessions(embeddings), named) if isinstance(name, str))
    else:
        pairs = iter(())
    sources: dict[str, set[str]] = {}
    for session, name in pairs:
        sources.setdefault(session, set()).update({name, hashed_key(name)})  # a redacted model's name for it too
    return sources


def _view(name: str, matrix: np.ndarray, neurons: LabelledNeurons, fold: Fold, representation: Representation,
          normalization: Normalization) -> EmbeddingView:
    """What the probe reads from the first representation on the first fold, for the UMAP figure; neurons marked
    silent are left out of it when it is drawn (``EmbeddingView.silent``: as ``plot_embeddings`` does; they are
    still scored)."""
    title = REPRESENTATIONS.get(name, name)
    if isinstance(representation, TrainedRepresentation) and representation.mode == "inductive":
        without = fold.name if fold.split == "session" else ", ".join(fold.held_out_subjects)
        title = f"{name}: model trained without {without} (fold {fold.name})"
    title += normalization.description
    return EmbeddingView(vectors=matrix, labels=neurons.labels, subjects=neurons.subject_ids, title=title,
                         label_name=neurons.label_name, normalization=normalization.to_dict(),
                         n_total=neurons.n_total,
                         left_out=left_out_reasons({}, neurons.dropped, neurons.label_name), silent=neurons.silent)


def _model_sees_animal(info: FoldInfo, train_set: tuple[int, ...], recordings: Sequence[Recording]) -> FoldInfo:
    """``info``, not animal-disjoint when the fold's model learns from a recording of a test animal."""
    import dataclasses

    seen = any(recordings[index].subject_id in info.held_out_subjects for index in train_set)
    return dataclasses.replace(info, animal_disjoint=False) if seen else info


def _shared_animal_notes(fold_infos: list[FoldInfo]) -> list[str]:
    """A note naming the folds of a session or k-fold split whose training data holds other sessions (k-fold: other
    neurons) of their test animal: they score an animal already seen."""
    shared = [info.name for info in fold_infos if not info.animal_disjoint and info.split != "animal"]
    if not shared:
        return []
    what = ("other sessions of their test animal" if fold_infos[0].split == "session"
            else "other neurons of their test sessions")
    return [f"{len(shared)} of {len(fold_infos)} folds are not animal-held-out ({some_of(shared)}): their training "
            f"data (the probe's neurons, or the recordings the fold's model learns from) holds {what}, so they "
            "score neurons of an animal already seen; accuracy on an unseen animal is `--split animal`"]


def _with_training_data(info: FoldInfo, run: _Run) -> FoldInfo:
    """``info`` with the sessions its NeurPIR model was trained on (known once the fold has run)."""
    import dataclasses

    return dataclasses.replace(info, training_data=run.fold_training_data.get(info.name, ()))


def _unscorable_notes(fold_infos: list[FoldInfo], label: str) -> list[str]:
    """One note per fold whose test neurons (some or all) belong to classes its training neurons lack, or whose
    training neurons hold one class, and per scorable fold whose test neurons lack some training classes (its
    balanced accuracy averages fewer classes); a NeurPIRError when no fold can be scored."""
    notes = []
    for info in fold_infos:
        absent = [name for name in info.training_classes if not info.test_counts.get(name)]
        if absent and info.scorable:
            notes.append(f"fold {info.name}: no test neuron of {label} {', '.join(absent)}; its balanced accuracy "
                         "averages the recall of the other classes (its chance stays 1 / training classes), so "
                         "per-fold means and the pooled score can rank methods differently")
        if len(info.training_classes) < 2:
            notes.append(f"fold {info.name} is unscorable: its training neurons are all {label} "
                         f"{', '.join(info.training_classes) or 'unlabelled'} (the other classes occur only in "
                         f"{info.name}), so no probe can choose; it is left out of the scores")
        elif info.unscorable_classes and info.scorable:
            notes.append(f"fold {info.name}: {label} {', '.join(info.unscorable_classes)} is absent from the "
                         f"training neurons; those test neurons are not scored ({info.n_scored} scored)")
        elif info.unscorable_classes:
            notes.append(f"fold {info.name} is unscorable: its test {label} ({', '.join(info.unscorable_classes)}) "
                         "is absent from the training neurons, so no probe can predict it; it is left out of the "
                         "scores")
    if fold_infos and not any(info.scorable for info in fold_infos):
        reasons = "; ".join(f"{info.name}: {label} {info.unscorable_because}" for info in fold_infos)
        raise NeurPIRError(f"no fold can be scored ({reasons}): each held-out group has classes of its own; try "
                           "--split kfold or a coarser --grouping")
    return notes


def _silent_notes(recordings: Sequence[Recording], neurons: LabelledNeurons) -> list[str]:
    """A note when labelled neurons have no activity at all (units without spikes, kept as all-zero rows): every
    method sees the same empty row for them, so they are scored near chance whatever the representation."""
    if not recordings or len(neurons.recording_rows) != len(recordings):
        return []
    silent = sum(int(r.silent()[rows].sum()) for r, rows in zip(recordings, neurons.recording_rows))
    return [f"{silent} of the {len(neurons)} labelled neurons have no activity in the observed time (units without "
            "spikes, kept as all-zero rows); no representation can tell them apart"] if silent else []


def _label_notes(recordings: Sequence[Recording], embeddings: object, neurons: LabelledNeurons,
                 grouping: LabelGrouping | None, label: str) -> list[str]:
    """The report's notes on the labels: values a grouping names or drops, groups it leaves empty, unassigned labels,
    spellings that differ only by case, neurons without activity, files without the label, classes of few neurons."""
    few = few_neurons_note(neurons.labels, label)
    return [*_group_named_notes(grouping, neurons.dropped, label), *_ungrouped_notes(grouping, neurons.dropped, label),
            *label_notes(neurons.label_values, neurons.dropped.get(MISSING_LABEL, 0), grouping, label),
            *_silent_notes(recordings, neurons),
            *_unlabelled_file_notes(recordings, embeddings, label), *([few] if few else [])]


def _unlabelled_file_notes(recordings: Sequence[Recording], embeddings: object, label: str) -> list[str]:
    """A note naming the files none of whose neurons has a ``label`` (the column is missing or empty there): their
    neurons are left out as unlabelled, and so are their animals' folds when no other file labels them."""
    if recordings:
        lacking = [r.source.label() for r in recordings if label not in r.neuron_metadata.columns
                   or r.neuron_metadata[label].isna().all()]
    elif isinstance(embeddings, pd.DataFrame) and {"file", label} <= set(embeddings.columns):
        empty = embeddings[label].isna().groupby(embeddings["file"], sort=False).all()
        lacking = [str(file) for file, none in empty.items() if none]
    else:
        lacking = []
    if not lacking:
        return []
    return [f"{len(lacking)} files have no {label} (no such column, or no value in it); their neurons are left out "
            f"as unlabelled: {some_of(lacking)}"]


def some_of(names: Sequence[str]) -> str:
    """The first few ``names``, comma-separated, then how many more there are."""
    more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
    return ", ".join(names[:_NAMES_SHOWN]) + more


def _group_named_notes(grouping: LabelGrouping | None, dropped: dict[str, int], label: str) -> list[str]:
    """A note for each dropped raw value that is also a group's name (an Allen parent area such as ``TH`` beside
    the group of its subareas): a reader would take its neurons for members of that group."""
    if grouping is None:
        return []
    return [f"{dropped[name]} neurons whose {label} is {name!r} itself are dropped: group {name} of grouping "
            f"{grouping.name} holds only {', '.join(grouping.groups[name])}" for name in grouping.groups
            if dropped.get(name)]


def _ungrouped_notes(grouping: LabelGrouping | None, dropped: dict[str, int], label: str) -> list[str]:
    """A note naming the raw values the grouping drops (in no group), largest first, a few, then how many more;
    unassigned labels (``root``, ``void``) have their own note."""
    if grouping is None:
        return []
    outside = sorted(((name, count) for name, count in dropped.items() if name not in (MISSING_LABEL, NO_EMBEDDING,
                                                                                  NON_FINITE)
                      and not is_unassigned(name)),
                     key=lambda item: (-item[1], item[0]))
    if not outside:
        return []
    shown = ", ".join(f"{name} {count}" for name, count in outside[:_NAMES_SHOWN])
    rest = outside[_NAMES_SHOWN:]
    more = f", and {len(rest)} more values ({sum(count for _, count in rest)} neurons)" if rest else ""
    return [f"grouping {grouping.name} drops {sum(count for _, count in outside)} neurons whose {label} is in no "
            f"group: {shown}{more}"]


def _model_settings(model: NeurPIR | None, given: dict | None) -> dict | None:
    """What the report says about the model behind the NeurPIR vectors (checksum, hyperparameters, when it was
    made, ...)."""
    return model.provenance().to_dict() if model is not None else given


def _inductive_folds(results: list[MethodResult], fold_infos: list[FoldInfo]) -> dict[str, list[str]]:
    """Per NeurPIR method, the folds on which its representation never saw the test sessions."""
    return {result.method.name: [info.name for info, mode in zip(fold_infos, result.modes) if mode == "inductive"]
            for result in results if result.method.sources[0].startswith("neurpir")}


def _describe(method: Method, known: dict[str, str]) -> str:
    return f"{known[method.representation]} + {PROBES[method.probe]}"


def _coverage_notes(vectors: Sequence[GivenVectors], recordings: Sequence[Recording], keys: Sequence[str],
                    normalization: Normalization) -> list[str]:
    """A note per given representation that lacks vectors of some neurons of a session: when vectors are normalised
    per session, its statistics there come from fewer neurons than the other methods' (hand features: all)."""
    if normalization.applied == "none":
        return []
    notes = []
    for given in vectors:
        short = [f"{key} ({int(np.isfinite(matrix).all(axis=1).sum())} of {recording.n_neurons})"
                 for matrix, key, recording in zip(given.per_recording, keys, recordings)
                 if not np.isfinite(matrix).all()]
        if short:
            notes.append(f"{given.name} has no vector for some neurons of {len(short)} session(s): {some_of(short)}; "
                         f"its per-session normalisation statistics come from those neurons only, the hand features' "
                         f"from every neuron, so the methods are not normalised alike there (labelled neurons "
                         f"without a {given.name} vector are left out of every method)")
    return notes

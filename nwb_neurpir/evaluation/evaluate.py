"""``evaluate``: every method on the same folds in one run, with per-fold class counts and chance levels.

Inputs, one of:
* recordings + ``config``: each NeurPIR variant is trained per fold on the training animals' recordings only
  (``inductive``), or once on every recording (``transductive``, the published protocol);
* recordings + a trained ``model``: embeds everything once; a fold is inductive when none of its test sessions is
  in the model's training data;
* recordings + ``embeddings`` (one matrix per recording, e.g. read back from annotated files);
* an embeddings table alone (columns ``subject_id``, ``session_id``, ``neuron_id``, the label, ``embedding``).
Hand-feature baselines run whenever recordings are given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.baselines import BASELINES, hand_feature_representation
from nwb_neurpir.evaluation.dataset import (
    LabelledNeurons,
    check_classes,
    from_embeddings,
    from_recordings,
    session_keys,
)
from nwb_neurpir.evaluation.grouping import LabelGrouping, load_grouping
from nwb_neurpir.evaluation.methods import Method, default_methods, parse_methods, REPRESENTATIONS
from nwb_neurpir.evaluation.metrics import score_fold
from nwb_neurpir.evaluation.probes import PROBES, fit_predict, standardize_per_session
from nwb_neurpir.evaluation.representations import (
    NEURPIR_VARIANTS,
    FixedRepresentation,
    TrainedRepresentation,
    embed_all,
    gather_rows,
    variant_config,
)
from nwb_neurpir.evaluation.results import EmbeddingView, EvaluationResult, FoldInfo, MethodResult
from nwb_neurpir.evaluation.splits import Fold, Split, make_folds
from nwb_neurpir.recording import Recording

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR, NeurPIRConfig

__all__ = ["evaluate"]

Protocol = Literal["inductive", "transductive"]
Representation = FixedRepresentation | TrainedRepresentation


def evaluate(
    recordings: Sequence[Recording] | None = None,
    *,
    label: str,
    config: NeurPIRConfig | None = None,
    model: NeurPIR | None = None,
    embeddings: pd.DataFrame | Sequence[np.ndarray] | None = None,
    embeddings_training_data: Sequence[str] | None = None,
    grouping: str | Path | LabelGrouping | None = None,
    split: Split = "animal",
    methods: Sequence[str] | None = None,
    probe: str = "logistic",
    protocol: Protocol | None = None,
    normalize: Literal["none", "session"] = "session",
    n_splits: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationResult:
    """Probe ``label`` (after ``grouping``) from each method's per-neuron vectors on folds of ``split``.

    ``methods`` are ``REPRESENTATION[:PROBE]`` names (default: every NeurPIR variant the inputs allow, then ``hand``,
    ``hand:gb`` and ``hand-pca``). ``normalize="session"`` (default) z-scores every representation within each
    session before the probe (label-free; removes session offsets such as rate scale or indicator brightness).
    ``embeddings_training_data`` (session identifiers the embedding model was trained on) lets given embeddings be
    labelled inductive or transductive per fold.
    """
    started = time.perf_counter()
    _check_options(config, model, embeddings, normalize, probe)
    grouping = grouping if isinstance(grouping, LabelGrouping) or grouping is None else load_grouping(grouping)
    recordings = list(recordings or [])
    timings: dict[str, float] = {}
    neurons, representations = _given_inputs(recordings, label, grouping, model, embeddings, embeddings_training_data,
                                             progress, timings)
    protocol = _protocol(protocol, split, config is not None)
    folds = make_folds(neurons.subject_ids, neurons.session_keys, neurons.labels, split, n_splits, seed)
    keys = session_keys(recordings)
    train_sets = [_training_recordings(fold, split, recordings, keys, protocol) for fold in folds]
    if config is not None:
        mode = "inductive" if protocol == "inductive" else "transductive"
        for variant in NEURPIR_VARIANTS:
            representations[variant] = TrainedRepresentation(
                name=variant, recordings=recordings, neurons=neurons,
                config=variant_config(config, variant, recordings[0].modality), mode=mode, progress=progress)
    available = list(representations) + (list(BASELINES) if recordings else [])
    chosen = parse_methods(methods or default_methods([r for r in NEURPIR_VARIANTS if r in representations],
                                                      bool(recordings)), available, probe)
    feature_names = None
    if any(method.source == "hand" for method in chosen):
        clock = time.perf_counter()
        representations["hand"], feature_names = hand_feature_representation(recordings, neurons, progress)
        timings["hand features"] = time.perf_counter() - clock

    results = {method.name: MethodResult(method=method, description=_describe(method)) for method in chosen}
    fold_infos, view = _run_folds(folds, train_sets, neurons, representations, chosen, results, recordings, keys,
                                  normalize, seed, timings, progress)
    timings["total"] = time.perf_counter() - started
    settings = {"probe": probe, "normalize": normalize, "protocol": protocol if config is not None else None,
                "n_splits": n_splits if split == "kfold" else None, "seed": seed, "n_recordings": len(recordings),
                "config": None if config is None else config.to_dict(), "hand_features": feature_names}
    return EvaluationResult(
        label=label, grouping=None if grouping is None else grouping.to_dict(), split=split, classes=neurons.classes,
        n_neurons=neurons.n_total, n_labelled=len(neurons), dropped=neurons.dropped, folds=fold_infos,
        methods=list(results.values()), settings=settings, timings=timings, view=view)


def _check_options(config: NeurPIRConfig | None, model: NeurPIR | None, embeddings: object, normalize: str,
                   probe: str) -> None:
    if sum(x is not None for x in (config, model, embeddings)) > 1:
        raise NeurPIRError("give at most one of: a training config, a trained model, embeddings")
    if normalize not in ("none", "session"):
        raise NeurPIRError(f"normalize must be 'none' or 'session', not {normalize!r}")
    if probe not in PROBES:
        raise NeurPIRError(f"unknown probe {probe!r}; choose one of {', '.join(PROBES)}")


def _given_inputs(recordings: list[Recording], label: str, grouping: LabelGrouping | None, model: NeurPIR | None,
                  embeddings: pd.DataFrame | Sequence[np.ndarray] | None, training_data: Sequence[str] | None,
                  progress: bool, timings: dict[str, float]) -> tuple[LabelledNeurons, dict[str, Representation]]:
    """The labelled neurons and the NeurPIR vectors that exist before any fold (neurons without one are dropped)."""
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
        neurons = from_recordings(recordings, label, grouping)
    if table_vectors is None and embeddings is None and model is None:
        return neurons, {}
    given = _given_representation(recordings, neurons, model, embeddings, table_vectors, training_data, progress,
                                  timings)
    missing = ~np.isfinite(given.matrix).all(axis=1)
    if missing.any():
        neurons = neurons.without(missing, "<no embedding>")
        check_classes(neurons.labels, label, grouping, "embeddings")
        given.matrix = given.matrix[~missing]
    return neurons, {"neurpir": given}


def _run_folds(folds: list[Fold], train_sets: list[tuple[int, ...]], neurons: LabelledNeurons,
               representations: dict[str, Representation], chosen: list[Method], results: dict[str, MethodResult],
               recordings: list[Recording], keys: list[str], normalize: str, seed: int, timings: dict[str, float],
               progress: bool) -> tuple[list[FoldInfo], EmbeddingView | None]:
    """Every method on every fold (fold-trained representations once per fold), filling ``results`` in place."""
    from tqdm.auto import tqdm

    needed = list(dict.fromkeys(method.source for method in chosen))
    view: EmbeddingView | None = None
    fold_infos: list[FoldInfo] = []
    for fold, train_set in tqdm(list(zip(folds, train_sets)), desc="folds", unit="fold", disable=not progress):
        training_data: tuple[str, ...] = ()
        for name in needed:
            clock = time.perf_counter()
            matrix = representations[name].for_fold(train_set)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - clock
            training_data = training_data or representations[name].training_data
            x = standardize_per_session(matrix, neurons.session_keys) if normalize == "session" else matrix
            if view is None:
                view = _view(name, x, neurons, fold, representations[name], normalize)
            for method in (m for m in chosen if m.source == name):
                predicted = fit_predict(method.probe, x[fold.train], neurons.labels[fold.train], x[fold.test],
                                        pca=method.pca, seed=seed)
                results[method.name].scores.append(score_fold(neurons.labels[fold.test], predicted, neurons.classes))
                results[method.name].modes.append(_fold_mode(representations[name], fold, recordings, keys))
        fold_infos.append(_fold_info(fold, neurons, training_data))
    return fold_infos, view


def _protocol(protocol: Protocol | None, split: str, training: bool) -> Protocol:
    if protocol not in (None, "inductive", "transductive"):
        raise NeurPIRError(f"protocol must be 'inductive' or 'transductive', not {protocol!r}")
    if protocol is None:
        return "transductive" if split == "kfold" else "inductive"
    if protocol == "inductive" and split == "kfold" and training:
        raise NeurPIRError("inductive training needs split 'animal' or 'session' (k-fold test neurons share "
                           "sessions with training neurons); use protocol 'transductive'")
    return protocol


def _training_recordings(fold: Fold, split: str, recordings: Sequence[Recording], keys: Sequence[str],
                         protocol: Protocol) -> tuple[int, ...]:
    """Recordings a fold-trained model may learn from: not the held-out animal's (or session's) ones."""
    if protocol == "transductive" or split == "kfold":
        return tuple(range(len(recordings)))
    if split == "animal":
        return tuple(i for i, r in enumerate(recordings) if r.subject_id not in fold.held_out_subjects)
    return tuple(i for i, key in enumerate(keys) if key not in fold.held_out_sessions)


def _given_representation(recordings: list[Recording], neurons: LabelledNeurons, model: NeurPIR | None,
                          embeddings: pd.DataFrame | Sequence[np.ndarray] | None, table_vectors: np.ndarray | None,
                          training_data: Sequence[str] | None, progress: bool,
                          timings: dict[str, float]) -> FixedRepresentation:
    """NeurPIR vectors that exist before the folds: an embeddings table, a trained model's, or given matrices."""
    if table_vectors is not None:
        return FixedRepresentation(name="neurpir", matrix=table_vectors, mode="unknown")
    if model is not None:
        clock = time.perf_counter()
        matrix = gather_rows(neurons, embed_all(model, recordings, neurons, progress))
        timings["neurpir (embedding)"] = time.perf_counter() - clock
        return FixedRepresentation(name="neurpir", matrix=matrix, mode="provenance",
                                   training_data=tuple(model.training_data_))
    matrices = list(embeddings or [])
    if len(matrices) != len(recordings) or any(
            np.asarray(m).ndim != 2 or len(m) != r.n_neurons for m, r in zip(matrices, recordings)):
        raise NeurPIRError("embeddings must be one (n_neurons, dim) matrix per recording, rows in neuron order")
    return FixedRepresentation(name="neurpir", matrix=gather_rows(neurons, [np.asarray(m, float) for m in matrices]),
                               mode="unknown" if training_data is None else "provenance",
                               training_data=tuple(map(str, training_data or ())))


def _fold_mode(representation: Representation, fold: Fold, recordings: Sequence[Recording],
               keys: Sequence[str]) -> str:
    """How the fold's representation relates to its test sessions (see ``MethodResult.modes``); ``provenance``
    means: decide from the sessions the model was trained on."""
    if representation.mode != "provenance":
        return representation.mode
    from nwb_neurpir.model.sessions import session_key

    test = {session_key(r) for r, key in zip(recordings, keys) if key in fold.held_out_sessions}
    return "transductive" if test & set(representation.training_data) else "inductive"


def _view(name: str, matrix: np.ndarray, neurons: LabelledNeurons, fold: Fold, representation: Representation,
          normalize: str) -> EmbeddingView:
    """What the probe reads from the first representation on the first fold, for the UMAP figure."""
    title = REPRESENTATIONS.get(name, name)
    if isinstance(representation, TrainedRepresentation) and representation.mode == "inductive":
        title = f"{name}: model trained without {', '.join(fold.held_out_subjects)} (fold {fold.name})"
    if normalize == "session":
        title += ", z-scored per session"
    return EmbeddingView(vectors=matrix, labels=neurons.labels, subjects=neurons.subject_ids, title=title)


def _fold_info(fold: Fold, neurons: LabelledNeurons, training_data: tuple[str, ...]) -> FoldInfo:
    test_counts = neurons.class_counts(fold.test)
    present = sum(1 for count in test_counts.values() if count > 0)
    return FoldInfo(name=fold.name, held_out_subjects=fold.held_out_subjects,
                    held_out_sessions=fold.held_out_sessions, train_counts=neurons.class_counts(fold.train),
                    test_counts=test_counts, chance=1.0 / present, training_data=training_data)


def _describe(method: Method) -> str:
    return f"{REPRESENTATIONS[method.representation]} + {PROBES[method.probe]}"

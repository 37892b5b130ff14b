"""What an evaluation found: folds with class counts and chance, every method's per-fold and pooled scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.methods import Method
from nwb_neurpir.evaluation.probes import probe_settings
from nwb_neurpir.evaluation.metrics import (
    PERMUTATIONS,
    FoldScore,
    Summary,
    per_class_scores,
    permutation_chance,
    score_fold,
    summarize,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    import pandas as pd
    from matplotlib.figure import Figure

    from nwb_neurpir.evaluation.grouping import LabelGrouping
    from nwb_neurpir.evaluation.splits import Fold
    from nwb_neurpir.evaluation.stability import StabilityResult

__all__ = ["RECORDED_SESSION", "EmbeddingView", "EvaluationResult", "FoldInfo", "FoldPredictions", "MethodResult",
           "describe_fold", "silent_rows"]

RECORDED_SESSION = "recorded_session"
"""The neuron table's column naming the session a neuron was recorded in (``subject/session``, one for every
recording of it, where ``session`` names the recording): the unit the comparison of methods replicates over."""


@dataclass(frozen=True)
class FoldInfo:
    """One fold: who is held out, how many neurons of each class on each side, and the chance level."""

    name: str
    held_out_subjects: tuple[str, ...]
    held_out_sessions: tuple[str, ...]
    train_counts: dict[str, int]
    test_counts: dict[str, int]
    chance: float
    """1 / number of classes in the training neurons (what a probe guessing among them scores)."""
    split: str
    """How the folds were made: ``animal``, ``session`` or ``kfold`` (``splits.make_folds``)."""
    animal_disjoint: bool
    """True when the fold's training data (the probe's neurons, and the recordings its model learnt from) holds
    nothing of its test animals."""
    training_data: tuple[str, ...]
    """Sessions (NWB identifiers) the fold's NeurPIR model was trained on, from the model's own provenance; for
    per-fold training all sessions of the training animals, labelled or not. Empty when unknown or not trained."""
    unscorable_classes: tuple[str, ...] = ()
    """Test classes absent from the training neurons: no probe can predict them, so their neurons are not scored."""

    @property
    def held_out(self) -> str:
        """What the fold tests on, for the reader: an animal, a session (and whether its animal trains), or a share of
        every animal's neurons."""
        animals = ", ".join(self.held_out_subjects)
        if self.split == "animal":
            return f"animal {animals}"
        if self.split == "session":
            shared = "" if self.animal_disjoint else f" (other sessions of animal {animals} train)"
            return f"session {self.name}{shared}"
        return f"neurons of {animals} (the animals also train)"

    @property
    def n_scored(self) -> int:
        """Test neurons whose class the probe could predict."""
        return sum(count for name, count in self.test_counts.items() if name not in self.unscorable_classes)

    @property
    def training_classes(self) -> tuple[str, ...]:
        """Classes with training neurons: those the fold's probe can predict."""
        return tuple(name for name, count in self.train_counts.items() if count > 0)

    @property
    def untested_classes(self) -> tuple[str, ...]:
        """Training classes without a test neuron: a probe that never predicts them scores above ``chance``."""
        return tuple(name for name in self.training_classes if not self.test_counts.get(name))

    @property
    def scorable(self) -> bool:
        """Whether a probe can be scored here: two or more training classes and a test neuron of one of them."""
        return self.n_scored > 0 and len(self.training_classes) >= 2

    @property
    def unscorable_because(self) -> str:
        """Why the fold is unscorable ('' when it is not): one training class, or test classes not in training."""
        if self.scorable:
            return ""
        if len(self.training_classes) < 2:
            return f"training neurons all {', '.join(self.training_classes) or 'unlabelled'}"
        return f"{', '.join(self.unscorable_classes)} not in training"

    def scored(self, test_labels: np.ndarray) -> np.ndarray:
        """Which of the fold's test neurons are scored: those of a class its training neurons have."""
        return ~np.isin(np.asarray(test_labels, dtype=str), self.unscorable_classes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "held_out": self.held_out, "animal_disjoint": self.animal_disjoint,
                "held_out_subjects": list(self.held_out_subjects),
                "held_out_sessions": list(self.held_out_sessions), "train_counts": self.train_counts,
                "test_counts": self.test_counts, "chance": self.chance, "scorable": self.scorable,
                "n_scored": self.n_scored, "unscorable_classes": list(self.unscorable_classes),
                "training_data": list(self.training_data)}


def describe_fold(fold: Fold, labels: np.ndarray, classes: Sequence[str]) -> FoldInfo:
    """The fold's class counts on each side, its chance level and the test classes absent from its training neurons
    (``labels``: every neuron's class, indexed by the fold's rows)."""
    labels = np.asarray(labels, dtype=str)
    train_counts = {name: int((labels[fold.train] == name).sum()) for name in classes}
    test_counts = {name: int((labels[fold.test] == name).sum()) for name in classes}
    trained = [name for name, count in train_counts.items() if count > 0]
    absent = tuple(name for name, count in test_counts.items() if count > 0 and train_counts[name] == 0)
    return FoldInfo(name=fold.name, held_out_subjects=fold.held_out_subjects,
                    held_out_sessions=fold.held_out_sessions, train_counts=train_counts, test_counts=test_counts,
                    chance=1.0 / max(len(trained), 1), split=fold.split, animal_disjoint=fold.animal_disjoint,
                    training_data=(), unscorable_classes=absent)


@dataclass(frozen=True)
class FoldPredictions:
    """A probe's predictions for the scored test neurons of one fold."""

    fold: str
    rows: np.ndarray
    """Which neurons: rows of the evaluation's labelled neurons (``EvaluationResult.neurons``)."""
    y_true: np.ndarray
    y_pred: np.ndarray
    n_choices: int
    """Classes the fold's probe could predict."""


@dataclass
class MethodResult:
    """One method's scores on every fold (None where the fold is unscorable), its pooled out-of-fold score, and the
    protocol its representation was made under on each fold."""

    method: Method
    description: str
    scores: list[FoldScore | None] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    """Per fold: ``inductive`` (representation never saw the test neurons' sessions), ``transductive`` (it did),
    ``possibly transductive`` (its training sessions share a held-out animal's subject id, not its recordings),
    ``unknown`` (given embeddings without provenance) or ``none`` (no self-supervised training)."""
    predictions: list[FoldPredictions] = field(default_factory=list)
    classes: tuple[str, ...] = ()

    @property
    def scored(self) -> list[FoldScore]:
        return [score for score in self.scores if score is not None]

    @property
    def balanced_accuracy(self) -> Summary:
        """Per-fold balanced accuracy, mean ± sample std over the scorable folds (every fold weighs the same)."""
        return summarize([score.balanced_accuracy for score in self.scored])

    @property
    def macro_f1(self) -> Summary:
        return summarize([score.macro_f1 for score in self.scored])

    def stacked(self) -> dict[str, np.ndarray]:
        """The folds' predictions end to end: ``rows``, ``y_true``, ``y_pred``, and per neuron its ``n_choices``."""
        parts = self.predictions
        return {"rows": np.concatenate([p.rows for p in parts]), "y_true": np.concatenate([p.y_true for p in parts]),
                "y_pred": np.concatenate([p.y_pred for p in parts]),
                "n_choices": np.concatenate([np.full(p.y_true.size, p.n_choices) for p in parts])}

    @cached_property
    def pooled(self) -> FoldScore:
        """All out-of-fold predictions scored together (every neuron weighs the same): the headline score."""
        stacked = self.stacked()
        return score_fold(stacked["y_true"], stacked["y_pred"], self.classes, stacked["n_choices"])

    @cached_property
    def permutation(self) -> tuple[float, float]:
        """Pooled balanced accuracy of the predictions shuffled against the true labels (mean over shuffles), and
        the permutation p-value."""
        stacked = self.stacked()
        return permutation_chance(stacked["y_true"], stacked["y_pred"], self.classes)

    @property
    def n_scored(self) -> int:
        return int(sum(p.y_true.size for p in self.predictions))

    @property
    def predicted_classes(self) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(set(p.y_pred.tolist()) for p in self.predictions))))

    @property
    def mode(self) -> str:
        return "+".join(dict.fromkeys(self.modes)) or "none"

    def total_confusion(self) -> np.ndarray:
        return self.pooled.confusion

    def to_dict(self) -> dict[str, Any]:
        pooled = self.pooled
        permuted, p_value = self.permutation
        return {"name": self.method.name, "representation": self.method.representation, "probe": self.method.probe,
                "description": self.description, "mode": self.mode, "modes": self.modes,
                "pooled": {"balanced_accuracy": pooled.balanced_accuracy, "macro_f1": pooled.macro_f1,
                           "chance": pooled.chance, "permutation_chance": permuted, "permutation_p": p_value,
                           "permutation_shuffles": PERMUTATIONS,
                           "n_scored": self.n_scored, "predicted_classes": list(self.predicted_classes)},
                "balanced_accuracy": self.balanced_accuracy.to_dict(), "macro_f1": self.macro_f1.to_dict(),
                "confusion_total": pooled.confusion.tolist(),
                "per_class_total": per_class_scores(pooled.confusion, self.classes),
                "folds": [None if score is None else score.to_dict() for score in self.scores]}


@dataclass(frozen=True)
class EmbeddingView:
    """Vectors of all labelled neurons from one representation, for the UMAP figures."""

    vectors: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    title: str
    label_name: str = "label"
    normalization: dict[str, Any] | None = None
    """``Normalization.to_dict()`` of what was applied to ``vectors``, when known."""
    grouping: LabelGrouping | None = None
    """The grouping that made ``labels`` (its class order fixes their colours), if any."""
    n_total: int | None = None
    """Neurons before any was left out of the figure, when known."""
    left_out: tuple[tuple[str, int], ...] = ()
    """Why neurons were left out and how many each time (``silent``, ``non-finite vector``, ``no LABEL``,
    ``outside grouping``...), in that order."""
    silent: np.ndarray | None = None
    """Each neuron's ``silent`` marker, when the neurons it marks are still in the view: the figure leaves them out
    (``without_silent``), and only a figure drawn warns about them."""

    def without_silent(self) -> EmbeddingView:
        """This view minus the neurons ``silent`` marks (``silent_rows``, with its warning), counted in
        ``left_out``."""
        import dataclasses

        if self.silent is None:
            return self
        drop = silent_rows(self.silent)
        keep = ~drop
        return dataclasses.replace(self, vectors=np.asarray(self.vectors)[keep], labels=np.asarray(self.labels)[keep],
                                   subjects=np.asarray(self.subjects)[keep], silent=None,
                                   left_out=(("silent", int(drop.sum())), *self.left_out) if drop.any() else
                                   self.left_out)

    def drawn_vectors(self) -> np.ndarray:
        """The vectors the figure draws from: without the neurons ``silent`` marks (no warning)."""
        return np.asarray(self.vectors) if self.silent is None else np.asarray(self.vectors)[~_marked(self.silent)]


def left_out_reasons(counts: dict[str, int], dropped: dict[str, int], label: str) -> tuple[tuple[str, int], ...]:
    """``EmbeddingView.left_out``: the ``counts`` given (reason -> neurons), then the labelled neurons' ``dropped``
    (raw value -> neurons) by reason: ``no LABEL``, a bracketed reason as it reads (``<no embedding>``: ``no
    embedding``), any other value ``outside grouping``; reasons without a neuron are left out."""
    from nwb_neurpir.evaluation.grouping import MISSING_LABEL

    reasons = dict(counts)
    for value, count in dropped.items():
        reason = f"no {label}" if value == MISSING_LABEL else value[1:-1] if value.startswith("<") and \
            value.endswith(">") else "outside grouping"
        reasons[reason] = reasons.get(reason, 0) + count
    return tuple((reason, count) for reason, count in reasons.items() if count)


def silent_rows(silent: Any) -> np.ndarray:
    """Which neurons the ``silent`` marks (True; False or NaN, a file annotated before the marker: not) leave out of
    an embedding figure -- the one rule of ``plot_embeddings`` and ``evaluate``'s figure -- with a warning counting
    them: their vectors say nothing about them (the fake tight cluster of units without spikes)."""
    from nwb_neurpir.evaluation.evaluation_warning import warn_caller

    marked = _marked(silent)
    if marked.any():
        warn_caller(f"{int(marked.sum())} of {marked.size} neurons have no activity in the time read (silent: units "
                    "without spikes); their vectors say nothing about them, so they are left out of the figure")
    return marked


def _marked(silent: Any) -> np.ndarray:
    """(n,) bool: True where ``silent`` holds True (False or NaN: a file annotated before the marker)."""
    return np.array([isinstance(value, (bool, np.bool_)) and bool(value) for value in silent], dtype=bool)


@dataclass
class EvaluationResult:
    """Everything a report needs. Without a label (``label`` None) only ``stability`` was measured: no folds, no
    methods."""

    label: str | None
    grouping: dict[str, Any] | None
    split: str
    classes: tuple[str, ...]
    n_neurons: int
    """Neurons before dropping unlabelled / ungrouped ones."""
    n_labelled: int
    dropped: dict[str, int]
    folds: list[FoldInfo]
    methods: list[MethodResult]
    settings: dict[str, Any]
    timings: dict[str, float]
    """Seconds, rounded: ``total`` (the one elapsed figure) and its parts (reading, training, features...)."""
    view: EmbeddingView | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    """What the vectors hold besides the label: effective rank, session/animal identity (see ``diagnostics``)."""
    notes: list[str] = field(default_factory=list)
    """Things the reader must know to trust the numbers (normalisation fallback, unscorable folds...)."""
    neurons: pd.DataFrame | None = None
    """One row per labelled neuron (``subject``, ``session``, ``source``, ``neuron_table``, ``neuron_id``,
    ``unit_name`` when the recordings have one, and ``recorded_session``), in the order ``FoldPredictions.rows``
    index."""
    stability: StabilityResult | None = None
    """Cross-session retrieval of tracked neurons (``evaluate(match_column=...)``), else None."""

    def __post_init__(self) -> None:
        """Record in ``settings["probes"]`` the exact settings of every probe pipeline the methods fit."""
        if self.methods:
            self.settings["probes"] = _probes(self.methods, int(self.settings.get("seed") or 0))

    def __repr__(self) -> str:
        """A few lines (the predictions behind the scores would fill a notebook cell): label, folds, and each
        method's pooled balanced accuracy against chance; ``table()`` has the numbers."""
        if self.label is None:
            tops = "; ".join(f"{name} {self.stability.summary(name).get('top1', float('nan')):.3f}"
                             for name in self.stability.retrievals)
            return (f"<EvaluationResult: stability of {self.stability.match_column!r} over {self.n_neurons} neurons; "
                    f"top-1 {tops}; .stability.table() for every number>")
        scores = "; ".join(f"{m.method.name} {m.pooled.balanced_accuracy:.3f}" for m in self.methods)
        return (f"<EvaluationResult {self.label!r}: {len(self.folds)} folds ({self.split}), {self.n_labelled} labelled "
                f"neurons, {len(self.classes)} classes; pooled balanced accuracy {scores} (chance "
                f"{self.pooled_chance:.3f}); .table() for every number>")

    def method(self, name: str) -> MethodResult:
        return next(result for result in self.methods if result.method.name == name)

    def best_baseline(self) -> MethodResult | None:
        """The hand-feature baseline with the highest mean balanced accuracy over folds (``choose_baseline``)."""
        from nwb_neurpir.evaluation.comparison import choose_baseline

        return choose_baseline([result for result in self.methods if result.method.is_baseline])[0]

    def primary(self) -> MethodResult | None:
        """The full NeurPIR method (first ``neurpir`` representation), if it ran."""
        return next((result for result in self.methods if result.method.representation == "neurpir"), None)

    @property
    def pooled_chance(self) -> float:
        """Chance of the pooled score: uniform guessing among each fold's training classes."""
        return self.methods[0].pooled.chance if self.methods else float("nan")

    def comparison(self) -> dict[str, Any] | None:
        """NeurPIR against the best baseline, animal by animal and session by session, with a verdict that a
        constant predictor, neurons of a few animals or fold noise cannot win (``comparison.compare``)."""
        from nwb_neurpir.evaluation.comparison import choose_baseline, compare

        primary = self.primary()
        baseline, note = choose_baseline([result for result in self.methods if result.method.is_baseline])
        if primary is None or baseline is None:
            return None
        return compare(primary, baseline, self.neurons["subject"], self.neurons[RECORDED_SESSION], note)

    def table(self) -> pd.DataFrame:
        """One row per method: mode, pooled balanced accuracy and macro-F1, per-fold mean and sample std (NaN with
        one fold), neurons scored, then each fold's balanced accuracy (NaN where unscorable) -- the terminal table as
        numbers."""
        import pandas as pd

        rows = [{"method": m.method.name, "mode": m.mode, "pooled_balanced_accuracy": m.pooled.balanced_accuracy,
                 "pooled_macro_f1": m.pooled.macro_f1, "per_fold_mean": m.balanced_accuracy.mean,
                 "per_fold_std": m.balanced_accuracy.std if m.balanced_accuracy.std is not None else np.nan,
                 "n_scored": m.n_scored,
                 **{fold.name: np.nan if score is None else score.balanced_accuracy
                    for fold, score in zip(self.folds, m.scores)}} for m in self.methods]
        return pd.DataFrame(rows).set_index("method")

    def plot(self, kind: str = "confusion", projection: str = "umap", *,
             palette: Mapping[str, str] | str | Path | None = None, max_classes: int | None = None) -> Figure:
        """The report's figure ``kind`` as a matplotlib Figure (a notebook shows it; ``.savefig`` writes it):
        ``confusion``, each method's confusion matrix, ``embeddings``, a UMAP (``projection="pca"``: an instant
        preview) of what the first method's probe read on the first fold, by label and by animal, or ``stability``,
        how often tracked neurons' partners are among their nearest vectors (with ``match_column``). For
        ``embeddings`` only, ``palette`` (name -> colour, or the path of a JSON file of one) fixes the colours of the
        classes and animals it names and ``max_classes`` how many get their own colour (``plot_embeddings``).

        >>> result = npir.evaluate("sim/", label="cell_type", model="model/")   # doctest: +SKIP
        >>> result.plot("embeddings", projection="pca", palette={"PYR": "#0072B2"})  # doctest: +SKIP
        """
        from nwb_neurpir.evaluation.palette import load_palette
        from nwb_neurpir.evaluation.plots import confusion_figure, embedding_figure, stability_figure

        if kind in ("confusion", "stability") and (palette is not None or max_classes is not None):
            raise NeurPIRError(f"palette= and max_classes= apply to the 'embeddings' figure, not to {kind!r}")
        if kind == "confusion":
            return confusion_figure(self)
        if kind == "stability":
            if self.stability is None:
                raise NeurPIRError("the evaluation measured no stability (give match_column)")
            return stability_figure(self.stability)
        if kind != "embeddings":
            raise NeurPIRError(f"unknown figure {kind!r}; choose confusion, embeddings or stability")
        if self.view is None:
            raise NeurPIRError("no fold was scored, so the evaluation has no vectors to draw")
        return embedding_figure(self.view, seed=int(self.settings.get("seed", 0)), projection=projection,
                                palette=load_palette(palette),
                                max_classes=max_classes)

    def predictions_table(self) -> pd.DataFrame:
        """Every scored neuron's prediction by every method: ``subject``, ``session``, ``source`` (its file),
        ``neuron_table`` (the path of the table in it whose row ``neuron_id`` is), ``neuron_id``,
        ``unit_name`` (when the recordings have one: the Phy cluster id of Kilosort/Phy exports), ``fold``,
        ``method``, ``true``, ``predicted``."""
        import pandas as pd

        neurons = self.neurons.drop(columns=RECORDED_SESSION)
        parts = [neurons.iloc[p.rows].assign(fold=p.fold, method=m.method.name, true=p.y_true, predicted=p.y_pred)
                 for m in self.methods for p in m.predictions]
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "grouping": self.grouping, "split": self.split, "classes": list(self.classes),
                "n_neurons": self.n_neurons, "n_labelled": self.n_labelled, "dropped": self.dropped,
                "n_dropped": int(sum(self.dropped.values())), "settings": self.settings, "timings": self.timings,
                "pooled_chance": self.pooled_chance,
                "unscorable_folds": [fold.name for fold in self.folds if not fold.scorable],
                "folds": [fold.to_dict() for fold in self.folds],
                "methods": [method.to_dict() for method in self.methods], "comparison": self.comparison(),
                "diagnostics": self.diagnostics, "notes": self.notes,
                "stability": None if self.stability is None else self.stability.to_dict()}


def _probes(methods: Sequence[MethodResult], seed: int) -> dict[str, dict[str, Any]]:
    """Per probe pipeline (``logistic``, ``gb``, ``logistic+pca10``...): its settings (``probes.probe_settings``) and
    the methods that fit it."""
    out: dict[str, dict[str, Any]] = {}
    for result in methods:
        method = result.method
        key = method.probe if method.pca is None else f"{method.probe}+pca{method.pca}"
        entry = out.setdefault(key, {**probe_settings(method.probe, seed, method.pca), "methods": []})
        entry["methods"].append(method.name)
    return out

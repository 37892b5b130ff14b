"""What an evaluation found: folds with class counts and chance, every method's per-fold scores, and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nwb_neurpir.evaluation.methods import Method
from nwb_neurpir.evaluation.metrics import FoldScore, Summary, per_class_scores, summarize

__all__ = ["EmbeddingView", "EvaluationResult", "FoldInfo", "MethodResult"]


@dataclass(frozen=True)
class FoldInfo:
    """One fold: who is held out, how many neurons of each class on each side, and the chance level."""

    name: str
    held_out_subjects: tuple[str, ...]
    held_out_sessions: tuple[str, ...]
    train_counts: dict[str, int]
    test_counts: dict[str, int]
    chance: float
    training_data: tuple[str, ...]
    """Sessions (NWB identifiers) the fold's NeurPIR model was trained on, from the model's own provenance; for
    per-fold training all sessions of the training animals, labelled or not. Empty when unknown or not trained."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "held_out_subjects": list(self.held_out_subjects),
                "held_out_sessions": list(self.held_out_sessions), "train_counts": self.train_counts,
                "test_counts": self.test_counts, "chance": self.chance, "training_data": list(self.training_data)}


@dataclass
class MethodResult:
    """One method's scores on every fold, and the protocol its representation was made under on each fold."""

    method: Method
    description: str
    scores: list[FoldScore] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    """Per fold: ``inductive`` (representation never saw the test neurons' sessions), ``transductive`` (it did),
    ``unknown`` (given embeddings without provenance) or ``none`` (no self-supervised training)."""

    @property
    def balanced_accuracy(self) -> Summary:
        return summarize([score.balanced_accuracy for score in self.scores])

    @property
    def macro_f1(self) -> Summary:
        return summarize([score.macro_f1 for score in self.scores])

    @property
    def mode(self) -> str:
        return "+".join(dict.fromkeys(self.modes)) or "none"

    def total_confusion(self) -> np.ndarray:
        return np.sum([score.confusion for score in self.scores], axis=0)

    def to_dict(self) -> dict[str, Any]:
        classes = self.scores[0].classes if self.scores else ()
        return {"name": self.method.name, "representation": self.method.representation, "probe": self.method.probe,
                "description": self.description, "mode": self.mode, "modes": self.modes,
                "balanced_accuracy": self.balanced_accuracy.to_dict(), "macro_f1": self.macro_f1.to_dict(),
                "confusion_total": self.total_confusion().tolist(),
                "per_class_total": per_class_scores(self.total_confusion(), classes),
                "folds": [score.to_dict() for score in self.scores]}


@dataclass(frozen=True)
class EmbeddingView:
    """Vectors of all labelled neurons from one representation, for the UMAP figures."""

    vectors: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    title: str


@dataclass
class EvaluationResult:
    """Everything a report needs."""

    label: str
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
    """Seconds: ``total`` and per representation (training + embedding, or feature extraction)."""
    view: EmbeddingView | None = None

    def method(self, name: str) -> MethodResult:
        return next(result for result in self.methods if result.method.name == name)

    def best_baseline(self) -> MethodResult | None:
        """The hand-feature baseline with the highest mean balanced accuracy."""
        pool = [result for result in self.methods if result.method.is_baseline]
        return max(pool, key=lambda result: result.balanced_accuracy.mean, default=None)

    def primary(self) -> MethodResult | None:
        """The full NeurPIR method (first ``neurpir`` representation), if it ran."""
        return next((result for result in self.methods if result.method.representation == "neurpir"), None)

    def comparison(self) -> dict[str, Any] | None:
        """NeurPIR against the best baseline: names and the gain in mean balanced accuracy."""
        primary, baseline = self.primary(), self.best_baseline()
        if primary is None or baseline is None:
            return None
        return {"neurpir": primary.method.name, "best_baseline": baseline.method.name,
                "balanced_accuracy_gain": primary.balanced_accuracy.mean - baseline.balanced_accuracy.mean}

    def to_dict(self) -> dict[str, Any]:
        comparison = self.comparison()
        return {"label": self.label, "grouping": self.grouping, "split": self.split, "classes": list(self.classes),
                "n_neurons": self.n_neurons, "n_labelled": self.n_labelled, "dropped": self.dropped,
                "n_dropped": int(sum(self.dropped.values())), "settings": self.settings, "timings": self.timings,
                "folds": [fold.to_dict() for fold in self.folds],
                "methods": [method.to_dict() for method in self.methods], "comparison": comparison}

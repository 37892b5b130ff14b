"""Scores of a probe's predictions on one fold (or on all folds pooled), and their mean ± sample std over folds.

Balanced accuracy averages the recall of the classes present in the test labels, so a class missing from an animal
(no MB units in one Steinmetz mouse) does not count. Macro-F1 is the standard one (scikit-learn's
``f1_score(average="macro")``): the F1 of every class among the true *or predicted* labels, so predictions of a class
absent from the test labels count (with F1 0: all of them are wrong). Chance is that of a probe guessing uniformly
among the classes it was trained on (``chance_level``); ``permutation_chance`` estimates it for a method's own
predictions by shuffling them against the true labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["FEW_NEURONS", "PAIRED_SHUFFLES", "PAIRED_TEST", "PERMUTATIONS", "FoldScore", "Summary", "chance_level",
           "confusion_matrix", "few_neurons_note", "monte_carlo_p_text", "paired_permutation_p", "permutation_chance",
           "random_sign_flips", "score_fold", "summarize"]

PERMUTATIONS = 200
"""Shuffles of a method's predictions against the true labels behind its permutation chance and p-value."""
PAIRED_SHUFFLES = 10_000
"""Random swaps of two methods' predictions behind the paired test that compares them."""
PAIRED_TEST = "paired permutation test over neurons"
"""The name reports give ``paired_permutation_p``."""
FEW_NEURONS = 5
"""A class with fewer labelled neurons than this is warned about: its recall rests on a handful of neurons."""


@dataclass(frozen=True)
class FoldScore:
    """A probe's scores on one fold's test neurons."""

    balanced_accuracy: float
    macro_f1: float
    chance: float
    """Chance level of balanced accuracy: a probe guessing uniformly among its training classes (``chance_level``)."""
    classes: tuple[str, ...]
    """Every class of the evaluation (row/column order of ``confusion``)."""
    confusion: np.ndarray
    """(n_classes, n_classes) int: rows true class, columns predicted class."""

    def per_class(self) -> dict[str, dict[str, float]]:
        """Precision, recall, F1 and support of each class (0 where undefined)."""
        return per_class_scores(self.confusion, self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {"balanced_accuracy": self.balanced_accuracy, "macro_f1": self.macro_f1, "chance": self.chance,
                "confusion": self.confusion.tolist(), "per_class": self.per_class()}


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof=1) of a score over folds; ``std`` is None for a single fold, where
    no spread can be measured."""

    mean: float
    std: float | None
    values: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± " + ("n/a" if self.std is None else f"{self.std:.3f}")

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "values": list(self.values)}


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts of (true, predicted) pairs; labels outside ``classes`` raise ValueError."""
    index = {name: position for position, name in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    try:
        np.add.at(matrix, ([index[v] for v in y_true], [index[v] for v in y_pred]), 1)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of the classes {list(classes)}") from None
    return matrix


def few_neurons_note(labels: Sequence[str], label: str) -> str | None:
    """A warning naming the classes with fewer than ``FEW_NEURONS`` labelled neurons, or None."""
    names, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    few = {str(name): int(count) for name, count in zip(names, counts) if count < FEW_NEURONS}
    if not few:
        return None
    listed = ", ".join(f"{name} ({count})" for name, count in few.items())
    return (f"{label} {listed}: fewer than {FEW_NEURONS} labelled neurons; the recall of such a class, and the "
            "balanced accuracy that averages it, rests on a handful of neurons")


def per_class_scores(confusion: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where a ratio is undefined)."""
    true_positive = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0).astype(float)
    support = confusion.sum(axis=1).astype(float)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])} for i, name in enumerate(classes)}


def chance_level(y_true: Sequence[str], n_choices: Sequence[int] | int) -> float:
    """Expected balanced accuracy of a probe guessing uniformly: per test neuron ``1 / n_choices`` (the number of
    classes its probe was trained on; all test classes among them), averaged within each class, then over classes."""
    y_true = np.asarray(y_true, dtype=str)
    guess = 1.0 / np.broadcast_to(np.asarray(n_choices, dtype=float), y_true.shape)
    return float(np.mean([guess[y_true == name].mean() for name in np.unique(y_true)]))


def score_fold(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str],
               n_choices: Sequence[int] | int | None = None) -> FoldScore:
    """Balanced accuracy (over the classes present in ``y_true``), macro-F1 (over the classes in ``y_true`` or
    ``y_pred``), chance level and confusion matrix.

    ``n_choices``: classes the probe could predict, per test neuron or one number (default: the classes present in
    ``y_true``)."""
    classes = tuple(classes)
    confusion = confusion_matrix(y_true, y_pred, classes)
    present = confusion.sum(axis=1) > 0
    if not present.any():
        raise ValueError("no test labels to score")
    scores = per_class_scores(confusion, classes)
    recalls = [scores[name]["recall"] for name, here in zip(classes, present) if here]
    named = present | (confusion.sum(axis=0) > 0)
    f1s = [scores[name]["f1"] for name, here in zip(classes, named) if here]
    chance = chance_level(y_true, int(present.sum()) if n_choices is None else n_choices)
    return FoldScore(balanced_accuracy=float(np.mean(recalls)), macro_f1=float(np.mean(f1s)), chance=chance,
                     classes=classes, confusion=confusion)


def permutation_chance(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str],
                       n_permutations: int = PERMUTATIONS, seed: int = 0) -> tuple[float, float]:
    """Mean balanced accuracy of the predictions shuffled against the true labels (what this method's mix of
    predicted classes scores by luck), and the share of shuffles scoring at least the real predictions (p-value)."""
    y_true, y_pred = np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str)
    observed = score_fold(y_true, y_pred, classes).balanced_accuracy
    rng = np.random.default_rng(seed)
    values = np.array([score_fold(y_true, rng.permutation(y_pred), classes).balanced_accuracy
                       for _ in range(n_permutations)])
    return float(values.mean()), float((1 + np.sum(values >= observed - 1e-12)) / (1 + n_permutations))


def paired_permutation_p(y_true: Sequence[str], first: Sequence[str], second: Sequence[str],
                         n_shuffles: int = PAIRED_SHUFFLES, seed: int = 0) -> float:
    """Two-sided p-value that two methods' predictions of the same neurons score the same balanced accuracy.

    Under the null each neuron's two predictions are exchangeable, so every shuffle swaps them at random; balanced
    accuracy is a weighted count of correct neurons (weight 1 / (classes x neurons of the class)), so a swap flips
    the sign of the neuron's weighted difference in correctness. p = (1 + k) / (N + 1), k of the N shuffles giving
    a difference at least as far from 0 as the observed one. Works on a single fold."""
    y_true = np.asarray(y_true, dtype=str)
    names, inverse, counts = np.unique(y_true, return_inverse=True, return_counts=True)
    weight = 1.0 / (names.size * counts[inverse])
    correct = (np.asarray(first, dtype=str) == y_true).astype(float) - (np.asarray(second, dtype=str) == y_true)
    return (1 + random_sign_flips((weight * correct)[correct != 0], n_shuffles, seed)) / (n_shuffles + 1)


def random_sign_flips(values: np.ndarray, n_shuffles: int, seed: int) -> int:
    """How many of ``n_shuffles`` random sign patterns give ``values`` a sum at least as far from 0 as theirs."""
    observed = abs(values.sum()) - 1e-12
    rng = np.random.default_rng(seed)
    at_least, chunk = 0, max(1, 2_000_000 // max(values.size, 1))
    for start in range(0, n_shuffles, chunk):
        signs = rng.integers(0, 2, size=(min(chunk, n_shuffles - start), values.size)) * 2.0 - 1.0
        at_least += int(np.sum(np.abs(signs @ values) >= observed))
    return at_least


def monte_carlo_p_text(p_value: float, n_shuffles: int) -> str:
    """A Monte Carlo p-value of ``n_shuffles`` shuffles as text: ``p ≤ 0.005`` at its floor 1 / (N + 1) (no shuffle
    scored as well: the true p may be far smaller), else ``p = 0.056 ± 0.002`` with its Monte Carlo standard error
    sqrt(p (1 - p) / N)."""
    if p_value <= 1.0 / (n_shuffles + 1) + 1e-12:
        return f"p ≤ {1.0 / (n_shuffles + 1):.2g}"
    return f"p = {p_value:.3g} ± {np.sqrt(p_value * (1.0 - p_value) / n_shuffles):.1g}"


def summarize(values: Sequence[float]) -> Summary:
    """Mean ± sample std (ddof=1) of one score over folds; the std is None with fewer than two folds."""
    array = np.asarray(values, dtype=float)
    std = float(array.std(ddof=1)) if array.size >= 2 else None
    return Summary(mean=float(array.mean()), std=std, values=tuple(float(v) for v in array))

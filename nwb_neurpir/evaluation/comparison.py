"""NeurPIR against the best baseline: the pooled gain, a paired test of it, and a verdict that names a winner only
when the paired test finds a difference, neither method predicts a single class, and the would-be winner is above
its permutation chance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.evaluation.metrics import PAIRED_SHUFFLES, PAIRED_TEST, paired_permutation_p, summarize

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.results import MethodResult

__all__ = ["SIGNIFICANCE", "compare", "paired_test"]

SIGNIFICANCE = 0.05
"""A p-value above this is no evidence: of a difference (paired test) or of being above chance (permutation)."""


def paired_test(primary: MethodResult, baseline: MethodResult) -> dict[str, Any]:
    """The paired permutation test of two methods' pooled balanced accuracy over the neurons both scored (the same
    neurons in the same order): ``name``, ``p_value``, ``n_neurons``, ``n_shuffles``."""
    first, second = primary.stacked(), baseline.stacked()
    y_true = first["y_true"]
    if not np.array_equal(first["rows"], second["rows"]):
        raise ValueError(f"{primary.method.name} and {baseline.method.name} did not score the same neurons")
    p_value = paired_permutation_p(y_true, first["y_pred"], second["y_pred"])
    return {"name": PAIRED_TEST, "p_value": p_value, "n_neurons": int(y_true.size), "n_shuffles": PAIRED_SHUFFLES}


def _mixed_protocols(primary: MethodResult) -> str | None:
    """A clause naming the folds when the compared folds mix transductive and inductive ones, else None."""
    scored_modes = [mode for mode, score in zip(primary.modes, primary.scores) if score is not None]
    folds = {mode: [p.fold for p, m in zip(primary.predictions, scored_modes) if m == mode]
             for mode in ("transductive", "inductive")}
    if not all(folds.values()):
        return None
    return (f"the compared folds mix transductive ({', '.join(folds['transductive'])}) and inductive "
            f"({', '.join(folds['inductive'])}) ones")


def compare(primary: MethodResult, baseline: MethodResult) -> dict[str, Any]:
    """``neurpir``, ``best_baseline``, pooled ``balanced_accuracy_gain``, the paired ``test``, the per-fold gains,
    ``winner`` (a method name or None), ``reasons`` there is none, ``mixed_protocols`` and ``verdict`` (one
    sentence: the gain, the test's p-value, the winner or "no clear difference" and why)."""
    gain = primary.pooled.balanced_accuracy - baseline.pooled.balanced_accuracy
    per_fold = [a.balanced_accuracy - b.balanced_accuracy for a, b in zip(primary.scores, baseline.scores)
                if a is not None and b is not None]
    test = paired_test(primary, baseline)
    reasons = [f"{m.method.name} predicts a single class ({m.predicted_classes[0]}) for every neuron"
               for m in (primary, baseline) if len(m.predicted_classes) < 2]
    if test["p_value"] > SIGNIFICANCE:
        reasons.append(f"the paired test finds no difference (p > {SIGNIFICANCE})")
    leader = primary if gain > 0 else baseline
    if not reasons and leader.permutation[1] > SIGNIFICANCE:
        reasons.append(f"{leader.method.name} is not above its permutation chance (p = {leader.permutation[1]:.2f})")
    winner = None if reasons else leader.method.name
    mixed = _mixed_protocols(primary)
    text = (f"{primary.method.name} vs best baseline {baseline.method.name}: {gain:+.3f} pooled balanced accuracy "
            f"({test['name']}, {test['n_neurons']} neurons, {test['n_shuffles']} shuffles: p = {test['p_value']:.3g}); "
            + (f"{winner} is better" if winner else "no clear difference: " + "; ".join(reasons))
            + (f"; note: {mixed}" if mixed else ""))
    return {"neurpir": primary.method.name, "best_baseline": baseline.method.name, "balanced_accuracy_gain": gain,
            "test": test, "per_fold_gain": summarize(per_fold).to_dict() if per_fold else None,
            "winner": winner, "reasons": reasons, "mixed_protocols": mixed, "verdict": text}

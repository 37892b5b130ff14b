"""NeurPIR against the best baseline: the pooled gain, and a verdict that refuses to name a winner when a method
predicts a single class, when the gain is within the fold-to-fold spread, or when the would-be winner is not above
its permutation chance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.results import MethodResult

__all__ = ["SIGNIFICANCE", "compare"]

SIGNIFICANCE = 0.05
"""A method whose permutation p-value is above this is not distinguishable from chance."""


def compare(primary: MethodResult, baseline: MethodResult) -> dict[str, Any]:
    """``neurpir``, ``best_baseline``, pooled ``balanced_accuracy_gain``, the per-fold gains' mean and spread,
    ``winner`` (a method name or None) and ``verdict`` (one sentence, with the reasons when there is no winner)."""
    gain = primary.pooled.balanced_accuracy - baseline.pooled.balanced_accuracy
    per_fold = [a.balanced_accuracy - b.balanced_accuracy for a, b in zip(primary.scores, baseline.scores)
                if a is not None and b is not None]
    spread = float(np.std(per_fold)) if len(per_fold) >= 2 else None
    reasons = [f"{m.method.name} predicts a single class ({m.predicted_classes[0]}) for every neuron"
               for m in (primary, baseline) if len(m.predicted_classes) < 2]
    if spread is None:
        reasons.append("fewer than two folds were scored, so there is no fold-to-fold spread to judge against")
    elif abs(gain) <= spread:
        reasons.append(f"the difference {gain:+.3f} is within the fold-to-fold spread of the per-fold differences "
                       f"(± {spread:.3f})")
    leader = primary if gain > 0 else baseline
    if not reasons and leader.permutation[1] > SIGNIFICANCE:
        reasons.append(f"{leader.method.name} is not above its permutation chance (p = {leader.permutation[1]:.2f})")
    winner = None if reasons or gain == 0 else leader.method.name
    text = (f"{primary.method.name} vs best baseline {baseline.method.name}: {gain:+.3f} pooled balanced accuracy; "
            + (f"{winner} is better" if winner else "no winner: " + "; ".join(reasons or ["equal scores"])))
    return {"neurpir": primary.method.name, "best_baseline": baseline.method.name, "balanced_accuracy_gain": gain,
            "per_fold_gain": {"mean": float(np.mean(per_fold)) if per_fold else None, "std": spread,
                              "values": per_fold},
            "winner": winner, "reasons": reasons, "verdict": text}

"""NeurPIR against the best baseline, over the units that replicate: the animals and sessions.

The verdict names a winner only when the paired sign-flip test over sessions finds a difference (p ≤ 0.05), no animal
goes the other way, neither method predicts a single class, and the winner is above its permutation chance. With too
few sessions for that test to reach 0.05 it gives no verdict. The test over neurons is kept as a secondary figure:
neurons of one animal are not independent, so it finds differences that do not replicate across animals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from nwb_neurpir.evaluation.metrics import (
    PAIRED_SHUFFLES,
    PAIRED_TEST,
    monte_carlo_p_text,
    paired_permutation_p,
    summarize,
)
from nwb_neurpir.evaluation.replication import UnitGain, sign_flip_test, unit_gains

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.results import MethodResult

__all__ = ["SESSION_TEST", "SIGNIFICANCE", "choose_baseline", "compare"]

SIGNIFICANCE = 0.05
"""A p-value above this is no evidence: of a difference (paired test) or of being above chance (permutation)."""
SESSION_TEST = "paired sign-flip test over sessions"
"""The name reports give the test the verdict rests on."""
NOT_INDEPENDENT = "secondary: neurons of one animal are not independent"


def choose_baseline(baselines: Sequence[MethodResult]) -> tuple[MethodResult | None, str | None]:
    """The baseline with the highest mean balanced accuracy over folds (every held-out unit weighs the same, as in
    the verdict), and a note when pooled balanced accuracy ranks another baseline first (else None)."""
    best = max(baselines, key=lambda result: result.balanced_accuracy.mean, default=None)
    pooled = max(baselines, key=lambda result: result.pooled.balanced_accuracy, default=None)
    if best is pooled:
        return best, None
    return best, (f"chosen by mean over folds, {best.balanced_accuracy.mean:.3f} against "
                  f"{pooled.balanced_accuracy.mean:.3f}; pooled balanced accuracy ranks {pooled.method.name} first, "
                  f"{pooled.pooled.balanced_accuracy:.3f} against {best.pooled.balanced_accuracy:.3f}")


def _neuron_test(y_true: np.ndarray, first: np.ndarray, second: np.ndarray) -> dict[str, Any]:
    """The paired permutation test over neurons (secondary): ``name``, ``p_value``, ``n_neurons``, ``n_shuffles``,
    ``monte_carlo_error``, ``note``."""
    p_value = paired_permutation_p(y_true, first, second)
    return {"name": PAIRED_TEST, "p_value": p_value, "n_neurons": int(y_true.size), "n_shuffles": PAIRED_SHUFFLES,
            "monte_carlo_error": float(np.sqrt(p_value * (1 - p_value) / PAIRED_SHUFFLES)),
            "note": NOT_INDEPENDENT}


def _mixed_protocols(primary: MethodResult) -> str | None:
    """A clause naming the folds when the compared folds mix transductive and inductive ones, else None."""
    scored_modes = [mode for mode, score in zip(primary.modes, primary.scores) if score is not None]
    folds = {mode: [p.fold for p, m in zip(primary.predictions, scored_modes) if m == mode]
             for mode in ("transductive", "inductive")}
    if not all(folds.values()):
        return None
    return (f"the compared folds mix transductive ({', '.join(folds['transductive'])}) and inductive "
            f"({', '.join(folds['inductive'])}) ones")


def _agreement(gains: list[UnitGain], sign: float) -> dict[str, int]:
    """How many units favour the leader (``sign`` 1: the first method, -1: the second), the other, or neither."""
    better = sum(sign * g.gain > 0 for g in gains)
    worse = sum(sign * g.gain < 0 for g in gains)
    return {"better": better, "worse": worse, "tied": len(gains) - better - worse, "n": len(gains)}


def compare(primary: MethodResult, baseline: MethodResult, subjects: Sequence[str], sessions: Sequence[str],
            baseline_note: str | None = None) -> dict[str, Any]:
    """NeurPIR (``primary``) against ``baseline`` on the neurons both scored; ``subjects`` and ``sessions`` name
    each neuron's animal and session (indexed by the predictions' ``rows``); ``baseline_note`` says how the
    baseline was chosen when it matters (``choose_baseline``).

    Returns ``neurpir``, ``best_baseline``, ``baseline_note``, pooled ``balanced_accuracy_gain``, ``per_fold_gain``,
    ``per_animal`` and ``per_session`` gains, ``leader`` (the method ahead on the mean session gain) and
    ``agreement`` (animals and sessions favouring it), ``test`` (the sign-flip test over sessions), ``neuron_test``
    (secondary), ``winner`` (a method name or None), ``reasons`` there is none, ``too_few_sessions``,
    ``mixed_protocols`` and ``verdict`` (one sentence)."""
    first, second = primary.stacked(), baseline.stacked()
    if not np.array_equal(first["rows"], second["rows"]):
        raise ValueError(f"{primary.method.name} and {baseline.method.name} did not score the same neurons")
    rows, y_true = first["rows"], first["y_true"]
    subject_of, session_of = np.asarray(subjects, dtype=str)[rows], np.asarray(sessions, dtype=str)[rows]
    per_animal = unit_gains(y_true, first["y_pred"], second["y_pred"], subject_of)
    per_session = unit_gains(y_true, first["y_pred"], second["y_pred"], session_of)
    test = sign_flip_test([g.gain for g in per_session])
    neuron_test = _neuron_test(y_true, first["y_pred"], second["y_pred"])
    sign = 1.0 if np.mean([g.gain for g in per_session]) >= 0 else -1.0
    leader = primary if sign > 0 else baseline
    animals, session_counts = _agreement(per_animal, sign), _agreement(per_session, sign)

    reasons = [f"{m.method.name} predicts a single class ({m.predicted_classes[0]}) for every neuron"
               for m in (primary, baseline) if len(m.predicted_classes) < 2]
    too_few = test.smallest_p > SIGNIFICANCE
    if too_few:
        counted = f"{test.n_units} session{'s' * (test.n_units != 1)} with a difference"
        reasons.append(f"{counted} {'is' if test.n_units == 1 else 'are'} too few for the session-level test to "
                       f"reach p ≤ {SIGNIFICANCE} (smallest possible p {test.smallest_p:.2g})")
    elif test.p_value > SIGNIFICANCE:
        reasons.append(f"the session-level test finds no difference (p > {SIGNIFICANCE})")
    against = [g for g in per_animal if sign * g.gain < 0]
    if against:
        reasons.append(f"animal{'s' * (len(against) > 1)} " + ", ".join(f"{g.name} ({g.gain:+.3f})" for g in against)
                       + f" go{'es' * (len(against) == 1)} the other way")
    if not reasons and leader.permutation[1] > SIGNIFICANCE:
        reasons.append(f"{leader.method.name} is not above its permutation chance (p = {leader.permutation[1]:.2f})")
    winner = None if reasons else leader.method.name

    gain = primary.pooled.balanced_accuracy - baseline.pooled.balanced_accuracy
    per_fold = [a.balanced_accuracy - b.balanced_accuracy for a, b in zip(primary.scores, baseline.scores)
                if a is not None and b is not None]
    mixed = _mixed_protocols(primary)
    outcome = (f"{winner} is better" if winner else ("no verdict: " if too_few else "no clear difference: ")
               + "; ".join(reasons))
    text = (f"{primary.method.name} vs best baseline {baseline.method.name}"
            + (f" ({baseline_note})" if baseline_note else "")
            + f": {gain:+.3f} pooled balanced accuracy, {np.mean(per_fold):+.3f} mean over folds; "
            f"{leader.method.name} better on {animals['better']} of {animals['n']} animals, "
            f"{session_counts['better']} of {session_counts['n']} sessions ({SESSION_TEST}: {test.text()}); "
            f"{outcome}; neuron-level {monte_carlo_p_text(neuron_test['p_value'], PAIRED_SHUFFLES)} "
            f"({NOT_INDEPENDENT})" + (f"; note: {mixed}" if mixed else ""))
    subject_by_session = dict(zip(session_of.tolist(), subject_of.tolist()))
    return {"neurpir": primary.method.name, "best_baseline": baseline.method.name, "baseline_note": baseline_note,
            "balanced_accuracy_gain": gain, "per_fold_gain": summarize(per_fold).to_dict() if per_fold else None,
            "per_animal": [g.to_dict() for g in per_animal],
            "per_session": [{**g.to_dict(), "subject": subject_by_session[g.name]} for g in per_session],
            "leader": leader.method.name, "agreement": {"animals": animals, "sessions": session_counts},
            "test": {"name": SESSION_TEST, **test.to_dict(), "n_neurons": int(y_true.size)},
            "neuron_test": neuron_test, "winner": winner, "reasons": reasons, "too_few_sessions": too_few,
            "mixed_protocols": mixed, "verdict": text}

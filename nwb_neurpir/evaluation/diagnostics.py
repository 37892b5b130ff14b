"""What per-neuron vectors hold besides the label: collapse (effective rank) and recording identity (how well a
probe tells the session or the animal from the vectors), and whether NeurPIR vectors add to the hand features."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.results import MethodResult

__all__ = ["effective_rank", "identity_probe", "representation_diagnostics", "vector_plus_hand"]

_IDENTITY_FOLDS = 5


def effective_rank(vectors: np.ndarray) -> float:
    """exp(entropy) of the normalised PCA eigenvalues: 1 for vectors on a line, the dimension for isotropic ones."""
    x = np.nan_to_num(np.asarray(vectors, dtype=np.float64))
    if x.shape[0] < 2:
        return float("nan")
    eigenvalues = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
    if eigenvalues.sum() <= 0:
        return 0.0
    p = eigenvalues / eigenvalues.sum()
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def identity_probe(vectors: np.ndarray, groups: np.ndarray, seed: int = 0) -> dict[str, Any] | None:
    """Cross-validated balanced accuracy of a logistic probe predicting ``groups`` (session or animal) from the
    vectors, with chance = 1 / number of groups; groups with fewer than 2 neurons are left out. None when fewer
    than two groups remain."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    groups = np.asarray(groups, dtype=str)
    names, counts = np.unique(groups, return_counts=True)
    keep = np.isin(groups, names[counts >= 2])
    if np.unique(groups[keep]).size < 2:
        return None
    x, y = np.nan_to_num(np.asarray(vectors, dtype=np.float64)[keep]), groups[keep]
    folds = StratifiedKFold(n_splits=int(min(_IDENTITY_FOLDS, counts[counts >= 2].min())), shuffle=True,
                            random_state=seed)
    probe = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    with threadpool_limits(limits=1):
        predicted = cross_val_predict(probe, x, y, cv=folds)
    n_groups = int(np.unique(y).size)
    return {"balanced_accuracy": float(balanced_accuracy_score(y, predicted)), "chance": 1.0 / n_groups,
            "n_groups": n_groups, "n_neurons": int(y.size)}


def representation_diagnostics(matrices: Sequence[np.ndarray], sessions: np.ndarray, subjects: np.ndarray,
                               seed: int = 0) -> dict[str, Any]:
    """Effective rank and the session- and animal-identity probes of one representation's vectors (not normalised),
    each the mean over ``matrices`` (one per model: a representation trained per fold has one per fold model); with
    several, every model's values too (``*_per_model``)."""
    ranks = [effective_rank(matrix) for matrix in matrices]
    out: dict[str, Any] = {"dimension": int(matrices[0].shape[1]), "n_models": len(matrices),
                           "effective_rank": float(np.mean(ranks))}
    for name, groups in (("session_identity", sessions), ("animal_identity", subjects)):
        probes = [identity_probe(matrix, groups, seed) for matrix in matrices]
        out[name] = None if probes[0] is None else {
            **probes[0], "balanced_accuracy": float(np.mean([probe["balanced_accuracy"] for probe in probes]))}
        if len(matrices) > 1 and probes[0] is not None:
            out[f"{name}_per_model"] = [probe["balanced_accuracy"] for probe in probes]
    if len(matrices) > 1:
        out["effective_rank_per_model"] = ranks
    return out


def vector_plus_hand(combined: MethodResult, hand: MethodResult) -> dict[str, Any]:
    """Pooled balanced accuracy of NeurPIR vectors + hand features against the hand features alone (same folds and
    probe), and the gain."""
    with_vectors, alone = combined.pooled.balanced_accuracy, hand.pooled.balanced_accuracy
    return {"methods": [combined.method.name, hand.method.name], "vector_plus_hand": with_vectors,
            "hand_alone": alone, "gain": with_vectors - alone}

"""Supervised probes that read a label off per-neuron vectors: fitted on a fold's training neurons only.

Every probe standardises its inputs with statistics of the training neurons; ``pca`` adds a PCA step fitted on the
training neurons too (the "PCA of hand features" baseline).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["PROBES", "Probe", "fit_predict", "standardize_per_session"]

Probe = Literal["logistic", "knn", "mlp", "gb"]
PROBES: dict[str, str] = {
    "logistic": "logistic regression, balanced class weights",
    "knn": "k-nearest neighbours (k=15, distance-weighted)",
    "mlp": "MLP with one hidden layer of 64 units, balanced sample weights",
    "gb": "histogram gradient boosting, balanced class weights",
}


def _make_estimator(probe: str, seed: int):  # noqa: ANN202 - sklearn estimator imported lazily
    if probe == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(class_weight="balanced", max_iter=2000, C=1.0)
    if probe == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=15, weights="distance")
    if probe == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=300, early_stopping=True,
                             random_state=seed)
    if probe == "gb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(class_weight="balanced", learning_rate=0.05, max_iter=200,
                                              random_state=seed)
    raise NeurPIRError(f"unknown probe {probe!r}; choose one of {', '.join(PROBES)}")


def fit_predict(
    probe: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    *,
    pca: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Fit ``probe`` on the training neurons and predict the test neurons' labels."""
    import warnings

    from threadpoolctl import threadpool_limits
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.class_weight import compute_sample_weight

    estimator = _make_estimator(probe, seed)
    steps = [StandardScaler()]
    if pca is not None:
        steps.append(PCA(n_components=min(pca, train_x.shape[1], train_x.shape[0]), random_state=seed))
    pipeline = make_pipeline(*steps, estimator)
    fit_params = {}
    if probe == "mlp":
        fit_params[f"{pipeline.steps[-1][0]}__sample_weight"] = compute_sample_weight("balanced", train_y)
    # One BLAS/OpenMP thread: probes are small, and OpenMP spinning on a busy machine costs minutes.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(_finite(train_x), train_y, **fit_params)
        return np.asarray(pipeline.predict(_finite(test_x)), dtype=str)


def standardize_per_session(x: np.ndarray, session_keys: np.ndarray) -> np.ndarray:
    """Z-score every column within each session (label-free; removes session-wide offsets such as rate scale)."""
    out = np.empty_like(x, dtype=np.float64)
    for key in np.unique(session_keys):
        rows = session_keys == key
        block = _finite(x[rows].astype(np.float64))
        std = block.std(axis=0)
        out[rows] = (block - block.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return out


def _finite(x: np.ndarray) -> np.ndarray:
    """NaN/inf (undefined features such as the ISI CV of a silent neuron) replaced by 0."""
    return np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)

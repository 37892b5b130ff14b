"""Supervised probes that read a label off per-neuron vectors: fitted on a fold's training neurons only.

Every probe standardises its inputs with statistics of the training neurons; ``pca`` adds a PCA step fitted on the
training neurons too (the "PCA of hand features" baseline). Several representations of the same neurons (NeurPIR
vectors and hand features) are read by late fusion: one probe each, their log-probabilities summed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Literal

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["PROBES", "Probe", "fit_predict", "fit_predict_fused", "log_probabilities", "probe_settings",
           "standardize_per_session"]

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
    with _quiet_single_thread():
        pipeline = _fitted(probe, train_x, train_y, pca, seed)
        return np.asarray(pipeline.predict(_finite(test_x)), dtype=str)


def fit_predict_fused(
    probe: str,
    train_blocks: list[np.ndarray],
    train_y: np.ndarray,
    test_blocks: list[np.ndarray],
    *,
    seed: int = 0,
) -> np.ndarray:
    """Late fusion of several representations of the same neurons: fit ``probe`` on each block of columns alone and
    predict the class whose summed log-probability over the blocks is highest (a product of experts).

    Unlike one probe on the blocks side by side, no block's many weak columns can drown another's: on Steinmetz
    (leave-one-mouse-out, 3 seeds) hand features fused with NeurPIR vectors scored above the hand features alone on
    all 9 folds, while the concatenation fell below them on 3 (docs/findings.md).
    """
    total = None
    with _quiet_single_thread():
        for train_x, test_x in zip(train_blocks, test_blocks, strict=True):
            pipeline = _fitted(probe, train_x, train_y, None, seed)
            log_probability = log_probabilities(pipeline.predict_proba(_finite(test_x)))
            total = log_probability if total is None else total + log_probability
            classes = pipeline.classes_
    return np.asarray(classes[np.argmax(total, axis=1)], dtype=str)


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """The log of a probe's class probabilities, floored at 1e-12 so that no single probe's certainty vetoes a class
    in a fusion."""
    return np.log(np.clip(probabilities, 1e-12, 1.0))


def _fitted(probe: str, train_x: np.ndarray, train_y: np.ndarray, pca: int | None, seed: int):  # noqa: ANN202
    """A standardising (optionally PCA) pipeline ending in ``probe``, fitted on the training neurons."""
    from sklearn.utils.class_weight import compute_sample_weight

    pipeline = _pipeline(probe, seed, None if pca is None else min(pca, train_x.shape[1], train_x.shape[0]))
    fit_params = {}
    if probe in _SAMPLE_WEIGHTED:
        fit_params[f"{pipeline.steps[-1][0]}__sample_weight"] = compute_sample_weight("balanced", train_y)
    return pipeline.fit(_finite(train_x), train_y, **fit_params)


_SAMPLE_WEIGHTED = ("mlp",)
"""Probes without a ``class_weight`` parameter: fitted with balanced sample weights instead."""


def _pipeline(probe: str, seed: int, pca: int | None):  # noqa: ANN202 - sklearn pipeline imported lazily
    """The unfitted pipeline ``fit_predict`` fits: StandardScaler, PCA with ``pca`` components when given, ``probe``."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [StandardScaler()]
    if pca is not None:
        steps.append(PCA(n_components=pca, random_state=seed))
    return make_pipeline(*steps, _make_estimator(probe, seed))


def probe_settings(probe: str, seed: int = 0, pca: int | None = None) -> dict[str, Any]:
    """The exact settings of the pipeline ``fit_predict`` fits for ``probe`` (read off a freshly built one, so they
    follow the code): per step its class, ``get_params()`` and the names of those not at scikit-learn's defaults,
    the sample weighting, and the scikit-learn version.
    With ``pca`` the PCA step asks for that many components (``fit_predict`` caps them at the training neurons' rows
    and columns)."""
    import sklearn

    steps = []
    for name, step in _pipeline(probe, seed, pca).steps:
        params, defaults = _json_params(step.get_params()), _json_params(type(step)().get_params())
        steps.append({"name": name, "class": type(step).__name__, "params": params,
                      "non_default": [key for key, value in params.items() if defaults.get(key) != value]})
    return {"steps": steps, "sample_weight": "balanced" if probe in _SAMPLE_WEIGHTED else None,
            "scikit-learn": sklearn.__version__}


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Estimator parameters as JSON values (tuples as lists, anything else that JSON lacks as its repr)."""
    def plain(value: Any) -> Any:  # noqa: ANN401 - any parameter value
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (tuple, list)):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        return repr(value)

    return {name: plain(value) for name, value in sorted(params.items())}


@contextmanager
def _quiet_single_thread() -> Iterator[None]:
    """One BLAS/OpenMP thread (probes are small, and OpenMP spinning on a busy machine costs minutes), no convergence
    warnings."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def standardize_per_session(x: np.ndarray, session_keys: np.ndarray, scale: bool = True,
                            population: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Z-score every column within each session (label-free; removes session-wide offsets such as rate scale);
    with ``scale=False`` only subtract each session's column means. ``population`` (vectors, session keys): the
    neurons whose statistics are used, per session (default: the rows of ``x`` themselves)."""
    out = np.empty_like(x, dtype=np.float64)
    reference, reference_keys = (x, session_keys) if population is None else population
    for key in np.unique(session_keys):
        rows = session_keys == key
        block = _finite(x[rows].astype(np.float64))
        source = _finite(reference[reference_keys == key].astype(np.float64))
        source = source if len(source) else block
        std = source.std(axis=0) if scale else np.ones(block.shape[1])
        out[rows] = (block - source.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return out


def _finite(x: np.ndarray) -> np.ndarray:
    """NaN/inf (undefined features such as the ISI CV of a silent neuron) replaced by 0."""
    return np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)

"""Helpers shared by the model benchmarks: the config from ``--set key=value``, train + embed with timings, a probe
on the held-out sessions built from ``nwb_neurpir.evaluation``'s probe, score and effective rank."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TrainedEmbeddings", "bench_config", "effective_rank", "identity_probe", "probe_fused_unseen",
           "probe_unseen", "split_labelled", "train_and_embed", "z_scored_per_session"]


def bench_config(overrides: list[str], **fields: Any):  # noqa: ANN202, ANN401 - NeurPIRConfig, imported lazily
    """The NeurPIRConfig of ``--set key=value`` strings (typed by the config's fields), then ``fields``; a bad
    override ends the benchmark with a one-line error."""
    from nwb_neurpir.errors import NeurPIRError
    from nwb_neurpir.model.config import NeurPIRConfig, parse_overrides

    try:
        return NeurPIRConfig.from_file(None, **{**parse_overrides(overrides), **fields})
    except NeurPIRError as exc:
        raise SystemExit(f"error: {exc}") from None


@dataclass
class TrainedEmbeddings:
    matrices: list[np.ndarray]
    train_seconds: float
    embed_seconds: float
    steps: int


def train_and_embed(train_set: list, recordings: list, config, progress: bool) -> TrainedEmbeddings:  # noqa: ANN001
    """Train on ``train_set``, embed every recording, and time both."""
    from nwb_neurpir.model import train

    start = time.perf_counter()
    model = train(train_set, config, progress=progress)
    trained = time.perf_counter() - start
    start = time.perf_counter()
    matrices = [model.embed(r, progress=False) for r in recordings]
    return TrainedEmbeddings(matrices, trained, time.perf_counter() - start, model.training_summary_["steps"])


def split_labelled(matrices: list[np.ndarray], labels: list[np.ndarray],
                   test: list[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The labelled rows (label != "") of every session stacked into train x, train y, test x, test y."""
    parts: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    for matrix, label, is_test in zip(matrices, labels, test):
        keep = label != ""
        parts[bool(is_test)][0].append(matrix[keep])
        parts[bool(is_test)][1].append(label[keep])
    (x_train, y_train), (x_test, y_test) = ((np.concatenate(x), np.concatenate(y)) for x, y in parts.values())
    return x_train, y_train, x_test, y_test


def probe_unseen(matrices: list[np.ndarray], labels: list[np.ndarray], test: list[bool],
                 probe: str = "logistic", centre_only: bool = False) -> tuple[float, dict]:
    """Z-score each session's rows (or, with ``centre_only``, only subtract each session's mean), fit ``probe`` on
    the non-test sessions' labelled rows (label != ""), and return the balanced accuracy on the test sessions with
    their class counts (evaluation's probe and score)."""
    from nwb_neurpir.evaluation.probes import fit_predict

    normalized = z_scored_per_session(matrices, scale=not centre_only)
    x_train, y_train, x_test, y_test = split_labelled(normalized, labels, test)
    return _scored(y_test, fit_predict(probe, x_train, y_train, x_test))


def probe_fused_unseen(sources: list[list[np.ndarray]], labels: list[np.ndarray], test: list[bool],
                       probe: str = "logistic") -> tuple[float, dict]:
    """As :func:`probe_unseen` for several representations of the same neurons (``sources``, each one matrix per
    session), read by evaluation's late fusion: one probe per representation, log-probabilities summed."""
    from nwb_neurpir.evaluation.probes import fit_predict_fused

    splits = [split_labelled(z_scored_per_session(matrices), labels, test) for matrices in sources]
    y_train, y_test = splits[0][1], splits[0][3]
    predicted = fit_predict_fused(probe, [s[0] for s in splits], y_train, [s[2] for s in splits])
    return _scored(y_test, predicted)


def z_scored_per_session(matrices: list[np.ndarray], scale: bool = True) -> list[np.ndarray]:
    """Each matrix (one session's rows) z-scored column by column, as the probes read it; with ``scale=False`` only
    centred (non-finite values read as 0)."""
    from nwb_neurpir.evaluation.probes import standardize_per_session

    return [standardize_per_session(matrix, np.zeros(matrix.shape[0]), scale) for matrix in matrices]


def _scored(y_test: np.ndarray, predicted: np.ndarray) -> tuple[float, dict]:
    from nwb_neurpir.evaluation.metrics import score_fold

    classes, counts = np.unique(y_test, return_counts=True)
    score = score_fold(y_test, predicted, sorted(set(y_test) | set(predicted)))
    return score.balanced_accuracy, dict(zip(classes.tolist(), counts.tolist()))


def effective_rank(matrices: list[np.ndarray]) -> float:
    """Evaluation's effective rank of the rows of all ``matrices``, each session centred first (rows with a
    non-finite value left out)."""
    from nwb_neurpir.evaluation.diagnostics import effective_rank as rank_of

    return rank_of(np.concatenate([m[np.isfinite(m).all(axis=1)] - np.nanmean(m, axis=0) for m in matrices]))


def identity_probe(matrices: list[np.ndarray], identities: list[str]) -> float:
    """5-fold cross-validated balanced accuracy of a logistic regression predicting each row's identity (e.g. its
    session) from the raw vectors; chance is 1 / #identities. (Unshuffled folds, unlike the shuffled ones of
    ``evaluation.diagnostics.identity_probe``: kept so that BENCHMARKS.md's session-identity row stays reproducible.)"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate(matrices)
    y = np.concatenate([[name] * len(m) for name, m in zip(identities, matrices)])
    keep = np.isfinite(x).all(axis=1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, class_weight="balanced"))
    predicted = cross_val_predict(model, x[keep], y[keep], cv=5)
    return float(balanced_accuracy_score(y[keep], predicted))

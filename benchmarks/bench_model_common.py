"""Helpers shared by the model benchmarks: config overrides, train + embed with timings, a per-session probe."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["TrainedEmbeddings", "parse_overrides", "probe_unseen", "train_and_embed"]


def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` strings (values parsed as JSON when possible) into a dict."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


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


def probe_unseen(matrices: list[np.ndarray], labels: list[np.ndarray], test: list[bool],
                 probe: str = "logistic") -> tuple[float, dict]:
    """Z-score each session's rows, fit ``probe`` on the non-test sessions' labelled rows (label != ""), and return
    the balanced accuracy on the test sessions with their class counts."""
    from sklearn.metrics import balanced_accuracy_score

    from nwb_neurpir.evaluation.probes import fit_predict, standardize_per_session

    x_tr, y_tr, x_te, y_te = [], [], [], []
    for matrix, label, is_test in zip(matrices, labels, test):
        keep = label != ""
        z = standardize_per_session(matrix, np.zeros(matrix.shape[0]))[keep]
        (x_te if is_test else x_tr).append(z)
        (y_te if is_test else y_tr).append(label[keep])
    y_test = np.concatenate(y_te)
    predicted = fit_predict(probe, np.concatenate(x_tr), np.concatenate(y_tr), np.concatenate(x_te))
    classes, counts = np.unique(y_test, return_counts=True)
    return float(balanced_accuracy_score(y_test, predicted)), dict(zip(classes.tolist(), counts.tolist()))

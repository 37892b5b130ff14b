"""NeurPIR on the 11 shared Steinmetz sessions: leave-one-mouse-out, inductive, 4 regions, logistic probe.

For each mouse: train NeurPIR on the other two mice's sessions (all units, no labels), embed every session, z-score
embeddings per session, fit a balanced logistic regression on the training mice's labelled units, score balanced
accuracy on the held-out mouse. Prints per-fold accuracy with class counts and chance, training time and peak RSS.
The hand-feature baselines on the same folds (helper F's features) are printed with ``--baselines``.

    python benchmarks/bench_model_steinmetz.py --seeds 0 1 2 [--set max_steps=1500 --set hidden_dim=32] [--baselines]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "steinmetz2019-nwb"


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


def load_sessions(progress: bool):  # noqa: ANN201
    from nwb_neurpir.evaluation.grouping import group_labels, load_grouping
    from nwb_neurpir.io.nwb_reader import read_nwb

    grouping = load_grouping("steinmetz-4region")
    recordings, labels = [], []
    for path in sorted(DATA.rglob("*.nwb")):
        recording = read_nwb(path)
        recordings.append(recording)
        grouped = group_labels(recording.neuron_metadata["brain_area"].tolist(), grouping)
        full = np.full(recording.n_neurons, "", dtype=object)
        full[grouped.keep] = grouped.labels
        labels.append(full.astype(str))
        if progress:
            print(f"read {path.name}: {recording.n_neurons} units, {recording.n_bins} bins", file=sys.stderr)
    return recordings, labels


def probe_fold(matrices: list[np.ndarray], labels: list[np.ndarray], subjects: list[str], test_subject: str,
               probe: str = "logistic") -> tuple[float, dict]:
    from sklearn.metrics import balanced_accuracy_score

    from nwb_neurpir.evaluation.probes import fit_predict, standardize_per_session

    x_tr, y_tr, x_te, y_te = [], [], [], []
    for index, (matrix, label, subject) in enumerate(zip(matrices, labels, subjects)):
        keep = label != ""
        z = standardize_per_session(matrix, np.zeros(matrix.shape[0]))[keep]
        (x_te if subject == test_subject else x_tr).append(z)
        (y_te if subject == test_subject else y_tr).append(label[keep])
    y_test = np.concatenate(y_te)
    predicted = fit_predict(probe, np.concatenate(x_tr), np.concatenate(y_tr), np.concatenate(x_te))
    classes, counts = np.unique(y_test, return_counts=True)
    return float(balanced_accuracy_score(y_test, predicted)), dict(zip(classes.tolist(), counts.tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    parser.add_argument("--folds", nargs="*", default=None, help="test mice (default: all three)")
    parser.add_argument("--baselines", action="store_true", help="also hand features + logistic / gradient boosting")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()

    from nwb_neurpir.model import NeurPIRConfig, train

    recordings, labels = load_sessions(args.progress)
    subjects = [r.subject_id for r in recordings]
    mice = args.folds or sorted(set(subjects))
    if args.baselines:
        from nwb_neurpir.evaluation.features import feature_matrix

        features, _ = feature_matrix(recordings)
        for probe in ("logistic", "gb"):
            scores = [probe_fold(features, labels, subjects, mouse, probe)[0] for mouse in mice]
            print(f"hand features + {probe}: " + " ".join(f"{s:.3f}" for s in scores) + f" mean {np.mean(scores):.3f}")
    overrides = parse_overrides(args.overrides)
    print("overrides:", overrides)
    means = []
    for seed in args.seeds:
        config = dataclasses.replace(NeurPIRConfig(**overrides), seed=seed)
        scores = []
        for mouse in mice:
            train_set = [r for r in recordings if r.subject_id != mouse]
            start = time.perf_counter()
            model = train(train_set, config, progress=args.progress)
            trained = time.perf_counter() - start
            start = time.perf_counter()
            matrices = [model.embed(r, progress=False) for r in recordings]
            embedded = time.perf_counter() - start
            score, counts = probe_fold(matrices, labels, subjects, mouse)
            scores.append(score)
            print(f"seed {seed} test {mouse}: balanced accuracy {score:.3f} (chance {1 / len(counts):.3f}, {counts}); "
                  f"train {trained:.0f} s for {model.training_summary_['steps']} steps, embed "
                  f"{sum(r.n_neurons for r in recordings)} neurons {embedded:.0f} s", flush=True)
        means.append(np.mean(scores))
        print(f"seed {seed}: mean {means[-1]:.3f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"NeurPIR mean over seeds {np.mean(means):.3f} ± {np.std(means):.3f}; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()

"""How far do the hand features go when the classifier is chosen after seeing the test scores? A ceiling.

Same folds as ``bench_model_steinmetz.py`` (4 regions, leave-one-mouse-out) or ``bench_model_simulated.py`` (5 cell
types, leave-one-animal-out; spikes or calcium): a range of supervised classifiers (logistic regression at three
strengths, gradient boosting variants, random forest, extra trees, RBF SVM) on the hand features, raw and
per-session z-scored. Taking the best of them *after* seeing the test scores is optimistic on purpose: it bounds what
those features give. (The supervised-encoder ceiling this script also measured for the previous encoder is recorded
in docs/findings.md.)

    python -m benchmarks.bench_hand_ceiling
    python -m benchmarks.bench_hand_ceiling --dataset simulated-ophys --folds sim04
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.bench_model_common import split_labelled
from benchmarks.bench_model_simulated import simulated_files
from benchmarks.bench_model_steinmetz import load_sessions


def load_dataset(name: str, data: Path) -> tuple[list, list[np.ndarray]]:
    """Recordings and per-neuron labels ("" = unlabelled) of ``steinmetz``, ``simulated-spikes`` or ``-ophys``."""
    if name == "steinmetz":
        return load_sessions(progress=False)
    from nwb_neurpir.io.nwb_reader import read_nwb

    recordings = [read_nwb(path) for path in simulated_files(data, name.removeprefix("simulated-"))]
    return recordings, [r.neuron_metadata["cell_type"].astype(str).to_numpy() for r in recordings]


def hand_classifiers() -> dict:
    """Supervised classifiers for the hand-feature sweep, by name (fresh estimator per call)."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    def boosting(**options: float) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(class_weight="balanced", random_state=0, **options)

    return {
        **{f"logistic C={c:g}": (lambda c=c: LogisticRegression(class_weight="balanced", C=c, max_iter=3000))
           for c in (0.01, 0.1, 1.0)},
        "gb lr 0.05, 200 it": lambda: boosting(learning_rate=0.05, max_iter=200),
        "gb lr 0.03, 300 it, depth 3": lambda: boosting(learning_rate=0.03, max_iter=300, max_depth=3),
        "gb lr 0.1, 100 it, l2 1": lambda: boosting(learning_rate=0.1, max_iter=100, l2_regularization=1.0),
        "random forest 500": lambda: RandomForestClassifier(500, class_weight="balanced", min_samples_leaf=5,
                                                            random_state=0),
        "extra trees 500": lambda: ExtraTreesClassifier(500, class_weight="balanced", min_samples_leaf=5,
                                                        random_state=0),
        "svm rbf": lambda: SVC(class_weight="balanced"),
    }


def hand_sweep(recordings: list, labels: list[np.ndarray], folds: list[str]) -> None:
    """Print every hand-feature classifier's balanced accuracy per fold, raw and per-session z-scored."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nwb_neurpir.evaluation.features import feature_matrix
    from nwb_neurpir.evaluation.probes import standardize_per_session

    features, columns = feature_matrix(recordings)
    subjects = [r.subject_id for r in recordings]
    print(f"hand features: {len(columns)} columns; folds {folds}")
    best = (0.0, "")
    for scaling in ("raw", "session-z"):
        inputs = features if scaling == "raw" else [standardize_per_session(f, np.zeros(len(f))) for f in features]
        for name, make in hand_classifiers().items():
            scores = []
            for animal in folds:
                x_train, y_train, x_test, y_test = split_labelled(inputs, labels, [s == animal for s in subjects])
                model = make_pipeline(StandardScaler(), make()).fit(x_train, y_train)
                scores.append(balanced_accuracy_score(y_test, model.predict(x_test)))
            best = max(best, (float(np.mean(scores)), f"{scaling} {name}"))
            print(f"hand {scaling:9s} {name:28s} " + " ".join(f"{v:.3f}" for v in scores)
                  + f"  mean {np.mean(scores):.3f}", flush=True)
    print(f"best hand-feature classifier (chosen on the test folds): {best[1]} {best[0]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", nargs="*", default=None, help="test animals (default: every animal)")
    parser.add_argument("--dataset", choices=("steinmetz", "simulated-spikes", "simulated-ophys"), default="steinmetz")
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-demo"), help="simulated data folder")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")
    recordings, labels = load_dataset(args.dataset, args.data)
    hand_sweep(recordings, labels, args.folds or sorted({r.subject_id for r in recordings}))


if __name__ == "__main__":
    main()

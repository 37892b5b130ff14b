"""How far can the NeurPIR encoder get when it is *given the labels*? A ceiling for the accuracy targets of #7.

Same folds as ``bench_model_steinmetz.py`` (4 regions, leave-one-mouse-out) or ``bench_model_simulated.py`` (5 cell
types, leave-one-animal-out; spikes or calcium): the NeuronEncoder architecture of the config plus a linear head,
trained with class-balanced cross-entropy on the training animals' labelled units (views of random length, as in
self-supervised training); the held-out animal is then embedded the way ``NeurPIR.embed`` does it and read out (a) by
the head itself and (b) by the per-session z-scored logistic probe every other method gets. This is evidence, not a
proof, of a ceiling: with few labelled animals a supervised encoder can overfit where a self-supervised one does not.

``--hand`` also fits a range of supervised classifiers (logistic regression at three strengths, gradient boosting
variants, random forest, extra trees, RBF SVM) on the hand features, raw and per-session z-scored, on the same folds.
Taking the best of them *after* seeing the test scores is optimistic on purpose: it bounds what those features give.

    python benchmarks/bench_supervised_ceiling.py --seeds 0 1 [--steps 600] [--set hidden_dim=32] [--hand]
    python benchmarks/bench_supervised_ceiling.py --dataset simulated-ophys --folds sim04
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model_common import parse_overrides, probe_unseen, split_labelled  # noqa: E402
from bench_model_simulated import simulated_files  # noqa: E402
from bench_model_steinmetz import load_sessions  # noqa: E402


def load_dataset(name: str, data: Path) -> tuple[list, list[np.ndarray]]:
    """Recordings and per-neuron labels ("" = unlabelled) of ``steinmetz``, ``simulated-spikes`` or ``-ophys``."""
    if name == "steinmetz":
        return load_sessions(progress=False)
    from nwb_neurpir.io.nwb_reader import read_nwb

    recordings = [read_nwb(path) for path in simulated_files(data, name.removeprefix("simulated-"))]
    return recordings, [r.neuron_metadata["cell_type"].astype(str).to_numpy() for r in recordings]


def train_supervised(sessions: list, labels: list[np.ndarray], classes: list[str], config, steps: int,  # noqa: ANN001, ANN201
                     context_dim: int):
    """Encoder + linear head fitted with balanced cross-entropy on labelled neurons of ``sessions``."""
    import torch
    from torch import nn

    from nwb_neurpir.model.encoder import NeuronEncoder, encode
    from nwb_neurpir.model.segments import ViewBatch, ViewSampler, gather_views

    torch.manual_seed(config.seed)
    encoder = NeuronEncoder(config, context_dim)
    head = nn.Linear(config.representation_dim, len(classes))
    parameters = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    pools = [np.flatnonzero(label != "") for label in labels]
    sampler = ViewSampler(sessions, pools, (float(config.segment_length_min), float(config.segment_length_max)))
    # every (session, neuron) with its class index, drawn class-balanced
    entries = [(s, n, classes.index(labels[s][n])) for s, pool in enumerate(pools) for n in pool]
    by_class = [[e for e in entries if e[2] == c] for c in range(len(classes))]
    rng = np.random.default_rng(config.seed)
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * 0.5 * (1 + np.cos(np.pi * step / steps))
        picks = [by_class[c][rng.integers(len(by_class[c]))]
                 for c in rng.integers(0, len(classes), config.batch_size) if by_class[c]]
        parts, targets = [], []
        for s in sorted({p[0] for p in picks}):
            mine = [p for p in picks if p[0] == s]
            neurons = np.array([p[1] for p in mine])
            chunks = [sampler.draw_chunks(rng, sessions[s], t) for t in sampler.draw_seconds(rng, neurons.size)]
            parts.append(gather_views(sessions[s], neurons, chunks))
            targets += [p[2] for p in mine]
        logits = head(encode(encoder, ViewBatch.concatenate(parts), torch.device("cpu")))
        loss = nn.functional.cross_entropy(logits, torch.tensor(targets))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, config.grad_clip)
        optimizer.step()
    return encoder.eval(), head.eval()


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
    parser.add_argument("--seeds", type=int, nargs="*", default=[0], help="none: only the --hand sweep")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    parser.add_argument("--folds", nargs="*", default=None, help="test animals (default: every animal)")
    parser.add_argument("--dataset", choices=("steinmetz", "simulated-spikes", "simulated-ophys"), default="steinmetz")
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-demo"), help="simulated data folder")
    parser.add_argument("--hand", action="store_true", help="also the hand-feature classifier sweep")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")

    import torch
    from sklearn.metrics import balanced_accuracy_score

    from nwb_neurpir.model import NeurPIRConfig
    from nwb_neurpir.model.context import fit_context
    from nwb_neurpir.model.embed import embed_session
    from nwb_neurpir.model.sessions import prepare_session

    recordings, labels = load_dataset(args.dataset, args.data)
    subjects = [r.subject_id for r in recordings]
    folds = args.folds or sorted(set(subjects))
    if args.hand:
        hand_sweep(recordings, labels, folds)
    classes = sorted({str(v) for label in labels for v in label if v})
    overrides = {"context": "none", **parse_overrides(args.overrides)}
    if args.seeds:
        print(f"overrides: {overrides}; {args.steps} supervised steps; classes {classes}")
    for seed in args.seeds:
        config = dataclasses.replace(NeurPIRConfig(**overrides), seed=seed).resolved(recordings[0].modality)
        torch.set_num_threads(config.num_threads or 2)
        head_scores, probe_scores = [], []
        for mouse in folds:
            test = [s == mouse for s in subjects]
            start = time.perf_counter()
            train_idx = [i for i, t in enumerate(test) if not t]
            context = fit_context([recordings[i] for i in train_idx], config)
            sessions = [prepare_session(r, config, None if context is None else context.transform(r))
                        for r in recordings]
            encoder, head = train_supervised([sessions[i] for i in train_idx], [labels[i] for i in train_idx],
                                             classes, config, args.steps, 0 if context is None else context.output_dim)
            matrices = [embed_session(encoder, s, float(config.segment_length_max), config.embed_batch_size,
                                      config.embed_max_seconds, torch.device("cpu"), progress=False)
                        for s in sessions]
            _, _, x_test, y_test = split_labelled(matrices, labels, test)
            with torch.no_grad():
                predicted = np.asarray(classes)[head(torch.from_numpy(x_test)).argmax(1).numpy()]
            head_scores.append(float(balanced_accuracy_score(y_test, predicted)))
            probe_scores.append(probe_unseen(matrices, labels, test)[0])
            print(f"seed {seed} test {mouse}: head {head_scores[-1]:.3f}, logistic probe {probe_scores[-1]:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        print(f"seed {seed}: mean head {np.mean(head_scores):.3f}, mean logistic probe {np.mean(probe_scores):.3f}",
              flush=True)


if __name__ == "__main__":
    main()

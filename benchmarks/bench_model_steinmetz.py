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
import resource
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model_common import parse_overrides, probe_unseen, train_and_embed  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "steinmetz2019-nwb"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    parser.add_argument("--folds", nargs="*", default=None, help="test mice (default: all three)")
    parser.add_argument("--baselines", action="store_true", help="also hand features + logistic / gradient boosting")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()

    from nwb_neurpir.model import NeurPIRConfig

    recordings, labels = load_sessions(args.progress)
    subjects = [r.subject_id for r in recordings]
    mice = args.folds or sorted(set(subjects))
    if args.baselines:
        from nwb_neurpir.evaluation.features import feature_matrix

        features, _ = feature_matrix(recordings)
        for probe in ("logistic", "gb"):
            scores = [probe_unseen(features, labels, [s == mouse for s in subjects], probe)[0] for mouse in mice]
            print(f"hand features + {probe}: " + " ".join(f"{s:.3f}" for s in scores) + f" mean {np.mean(scores):.3f}")
    overrides = parse_overrides(args.overrides)
    print("overrides:", overrides)
    means = []
    for seed in args.seeds:
        config = dataclasses.replace(NeurPIRConfig(**overrides), seed=seed)
        scores = []
        for mouse in mice:
            test = [s == mouse for s in subjects]
            run = train_and_embed([r for r, t in zip(recordings, test) if not t], recordings, config, args.progress)
            score, counts = probe_unseen(run.matrices, labels, test)
            scores.append(score)
            print(f"seed {seed} test {mouse}: balanced accuracy {score:.3f} (chance {1 / len(counts):.3f}, {counts}); "
                  f"train {run.train_seconds:.0f} s for {run.steps} steps, embed "
                  f"{sum(r.n_neurons for r in recordings)} neurons {run.embed_seconds:.0f} s", flush=True)
        means.append(np.mean(scores))
        print(f"seed {seed}: mean {means[-1]:.3f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"NeurPIR mean over seeds {np.mean(means):.3f} ± {np.std(means):.3f}; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()

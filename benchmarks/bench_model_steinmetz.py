"""NeurPIR on the 11 shared Steinmetz sessions: leave-one-mouse-out, inductive, 4 regions, logistic probe.

For each mouse and seed: train NeurPIR on the other two mice's sessions (all units, no labels) and embed every
session with the trained and with the untrained encoder (same seed, ``max_steps=0``). Z-score every representation
per session, fit a balanced logistic regression on the training mice's labelled units, score balanced accuracy on the
held-out mouse. Printed per fold with class counts and chance, on the same folds: hand features (logistic), NeurPIR
and hand features with an MLP probe and with gradient boosting, both beside the mean of their 5 activity neighbours'
rows (the label-free neighbour-aware probe, ``neurpir-neighbours`` in ``neurpir evaluate``), hand features + the
NeurPIR vector (late fusion as in ``neurpir evaluate``: one logistic probe on each, log-probabilities summed; also
concatenated, and fused with the untrained encoder's vector as the control), the vectors' effective rank (exp of the
entropy of the normalised PCA eigenvalues of the per-session-centred vectors), and a session-identity probe on the raw
vectors (5-fold CV balanced accuracy; chance 1 / #sessions). The probes marked ``:centred`` read the rows with
each session's mean subtracted instead of z-scored (per-session scaling depends on the session's mix of regions).
Then mean ± std over seeds, training time and peak RSS.
First the hand features' own effective rank, for scale; with several seeds, last the ensemble of the seeds' models
(one logistic probe per model, log-probabilities summed).

    python -m benchmarks.bench_model_steinmetz --seeds 0 1 [--set context=none] [--folds Hench]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys

import numpy as np

from benchmarks.bench_model_common import (
    bench_config,
    effective_rank,
    identity_probe,
    probe_fused_unseen,
    probe_unseen,
    train_and_embed,
    z_scored_per_session,
)
from benchmarks.shared_data import STEINMETZ_DATA, nwb_files


def load_sessions(progress: bool):  # noqa: ANN201
    from nwb_neurpir.evaluation.grouping import group_labels, load_grouping
    from nwb_neurpir.io.nwb_reader import read_nwb

    grouping = load_grouping("steinmetz-4region")
    recordings, labels = [], []
    for path in nwb_files(STEINMETZ_DATA):
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    parser.add_argument("--folds", nargs="*", default=None, help="test mice (default: all three)")
    parser.add_argument("--no-untrained", action="store_true", help="skip the untrained-encoder comparison")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()

    import warnings

    from nwb_neurpir.evaluation.features import feature_matrix
    from nwb_neurpir.evaluation.neighbours import activity_neighbours
    from nwb_neurpir.model.config import parse_overrides

    warnings.simplefilter("ignore")
    recordings, labels = load_sessions(args.progress)
    subjects = [r.subject_id for r in recordings]
    mice = args.folds or sorted(set(subjects))
    hand, _ = feature_matrix(recordings)
    neighbours = [activity_neighbours(r) for r in recordings]
    overrides = parse_overrides(args.overrides)
    print("command: python -m benchmarks.bench_model_steinmetz " + " ".join(sys.argv[1:]))
    print("overrides:", overrides)
    print(f"hand features' effective rank: {effective_rank(hand):.1f} per-session centred (as the vectors'), "
          f"{effective_rank(z_scored_per_session(hand)):.1f} per-session z-scored")
    rows: dict[str, list[list[float]]] = {}
    vectors: dict[str, list[list[np.ndarray]]] = {mouse: [] for mouse in mice}
    for seed in args.seeds:
        config = bench_config(args.overrides, seed=seed)
        for mouse in mice:
            test = [s == mouse for s in subjects]
            train_set = [r for r, t in zip(recordings, test) if not t]
            run = train_and_embed(train_set, recordings, config, args.progress)
            vectors[mouse].append(run.matrices)
            scores = {"neurpir": probe_unseen(run.matrices, labels, test)[0]}
            if not args.no_untrained:
                untrained = train_and_embed(train_set, recordings, dataclasses.replace(config, max_steps=0), False)
                scores["untrained"] = probe_unseen(untrained.matrices, labels, test)[0]
                scores["hand+untrained"] = probe_fused_unseen([hand, untrained.matrices], labels, test)[0]
            scores["hand"], counts = probe_unseen(hand, labels, test)
            scores["hand:gb"] = probe_unseen(hand, labels, test, "gb")[0]
            scores["neurpir:mlp"] = probe_unseen(run.matrices, labels, test, "mlp")[0]
            scores["neurpir:gb"] = probe_unseen(run.matrices, labels, test, "gb")[0]
            scores["hand:mlp"] = probe_unseen(hand, labels, test, "mlp")[0]
            scores["neurpir-neighbours"] = probe_unseen(beside_neighbours(run.matrices, neighbours), labels, test)[0]
            scores["hand-neighbours"] = probe_unseen(beside_neighbours(hand, neighbours), labels, test)[0]
            for probe in ("logistic", "mlp"):
                scores[f"neurpir:{probe}:centred"] = probe_unseen(run.matrices, labels, test, probe, True)[0]
            for probe in ("logistic", "mlp", "gb"):
                scores[f"hand:{probe}:centred"] = probe_unseen(hand, labels, test, probe, True)[0]
            scores["hand+neurpir"] = probe_fused_unseen([hand, run.matrices], labels, test)[0]
            joined = [np.concatenate([h, m], axis=1) for h, m in zip(hand, run.matrices)]
            scores["hand+neurpir:concat"] = probe_unseen(joined, labels, test)[0]
            scores["erank"] = effective_rank(run.matrices)
            scores["session-id"] = identity_probe(run.matrices, [r.session_id for r in recordings])
            for name, value in scores.items():
                rows.setdefault(name, []).append([seed, value])
            print(f"seed {seed} test {mouse} (chance {1 / len(counts):.3f}, {counts}): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                  + f" (session-id chance {1 / len(recordings):.3f}); train {run.train_seconds:.0f} s for "
                  f"{run.steps} steps, embed {sum(r.n_neurons for r in recordings)} neurons {run.embed_seconds:.0f} s",
                  flush=True)
    if len(args.seeds) > 1:
        ensemble = [probe_fused_unseen(vectors[mouse], labels, [s == mouse for s in subjects])[0] for mouse in mice]
        print(f"ensemble of the {len(args.seeds)} seeds' models (one probe per model, fused): "
              + ", ".join(f"{mouse} {value:.3f}" for mouse, value in zip(mice, ensemble))
              + f"; mean over folds {np.mean(ensemble):.3f}")
    for name, entries in rows.items():
        per_seed = [np.mean([v for s, v in entries if s == seed]) for seed in args.seeds]
        print(f"{name}: mean over folds, mean ± std over seeds {np.mean(per_seed):.3f} ± {np.std(per_seed):.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


def beside_neighbours(matrices: list[np.ndarray], neighbours: list[np.ndarray]) -> list[np.ndarray]:
    """Each row beside the mean row of its activity neighbours (the ``neurpir-neighbours`` representation)."""
    from nwb_neurpir.evaluation.neighbours import neighbour_mean

    return [np.hstack([m, neighbour_mean(m, n)]) for m, n in zip(matrices, neighbours)]


if __name__ == "__main__":
    main()

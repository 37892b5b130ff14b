"""NeurPIR on simulated Izhikevich animals: 5 cell types, probe on an animal never seen in training.

Simulates the DEMO preset (4 animals x 250 neurons, 5 types; spikes and calcium) into ``--data`` unless it is already
there, trains NeurPIR on every animal but ``--test-animal``, embeds all animals, fits a balanced logistic regression
on the training animals' embeddings (z-scored per session) and prints the balanced accuracy on the unseen animal
(chance 0.20), for the full model and the ablations named in ``--variants``.

    python benchmarks/bench_model_simulated.py --modality spikes --variants full no-context fixed-length
    python benchmarks/bench_model_simulated.py --modality ophys
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model_steinmetz import parse_overrides  # noqa: E402

SUFFIX = {"spikes": "_ecephys.nwb", "ophys": "_ophys.nwb"}


def simulated_files(data: Path, modality: str) -> list[Path]:
    """The DEMO data set's files of one modality, simulated first when absent."""
    files = sorted(data.rglob(f"*{SUFFIX[modality]}"))
    if not files:
        from nwb_neurpir.simulate import DEMO, write_dataset

        print(f"simulating the DEMO preset into {data} ...", file=sys.stderr)
        write_dataset(data, DEMO, modality="both", progress=True, overwrite=True)
        files = sorted(data.rglob(f"*{SUFFIX[modality]}"))
    return files


def variant(config, name: str):  # noqa: ANN001, ANN201
    """The config of one ablation."""
    if name == "full":
        return config
    if name == "no-context":
        return dataclasses.replace(config, context="none")
    if name == "untrained":
        return dataclasses.replace(config, max_steps=0)
    if name == "fixed-length":
        low, high = config.segment_length_min, config.segment_length_max
        length = math.sqrt(low * high)
        return dataclasses.replace(config, segment_length_min=length, segment_length_max=length)
    raise SystemExit(f"unknown variant {name}")


def probe(matrices: list[np.ndarray], labels: list[np.ndarray], test: list[bool]) -> float:
    from sklearn.metrics import balanced_accuracy_score

    from nwb_neurpir.evaluation.probes import fit_predict, standardize_per_session

    z = [standardize_per_session(m, np.zeros(m.shape[0])) for m in matrices]
    x_tr = np.concatenate([m for m, t in zip(z, test) if not t])
    y_tr = np.concatenate([y for y, t in zip(labels, test) if not t])
    x_te = np.concatenate([m for m, t in zip(z, test) if t])
    y_te = np.concatenate([y for y, t in zip(labels, test) if t])
    return float(balanced_accuracy_score(y_te, fit_predict("logistic", x_tr, y_tr, x_te)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-demo"))
    parser.add_argument("--modality", choices=("spikes", "ophys"), default="spikes")
    parser.add_argument("--test-animal", type=int, default=-1, help="index of the held-out animal (default: last)")
    parser.add_argument("--variants", nargs="+", default=["full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    parser.add_argument("--bin-size", type=float, default=None)
    parser.add_argument("--baseline", action="store_true", help="also hand features + logistic regression")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()

    import warnings

    from nwb_neurpir.io.nwb_reader import read_nwb
    from nwb_neurpir.model import NeurPIRConfig, train

    warnings.simplefilter("ignore")
    recordings = [read_nwb(path, bin_size=args.bin_size) for path in simulated_files(args.data, args.modality)]
    labels = [r.neuron_metadata["cell_type"].astype(str).to_numpy() for r in recordings]
    animals = sorted({r.subject_id for r in recordings})
    held_out = animals[args.test_animal]
    test = [r.subject_id == held_out for r in recordings]
    print(f"{args.modality}: {len(recordings)} sessions, animals {animals}, held out {held_out}, "
          f"bin {recordings[0].bin_size * 1000:.1f} ms, {recordings[0].n_bins} bins")
    if args.baseline:
        from nwb_neurpir.evaluation.features import feature_matrix

        features, _ = feature_matrix(recordings)
        print(f"hand features + logistic: {probe(features, labels, test):.3f}")
    base = NeurPIRConfig(**parse_overrides(args.overrides)).resolved(args.modality)
    train_set = [r for r, t in zip(recordings, test) if not t]
    for name in args.variants:
        scores = []
        for seed in args.seeds:
            config = dataclasses.replace(variant(base, name), seed=seed)
            start = time.perf_counter()
            model = train(train_set, config, progress=args.progress)
            trained = time.perf_counter() - start
            start = time.perf_counter()
            matrices = [model.embed(r, progress=False) for r in recordings]
            embedded = time.perf_counter() - start
            scores.append(probe(matrices, labels, test))
            print(f"{name} seed {seed}: balanced accuracy {scores[-1]:.3f} (chance 0.200); train {trained:.0f} s "
                  f"({model.training_summary_['steps']} steps), embed {embedded:.1f} s", flush=True)
        print(f"{name}: mean {np.mean(scores):.3f} ± {np.std(scores):.3f} over {len(scores)} seeds", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

"""NeurPIR on simulated Izhikevich animals: 5 cell types, probe on an animal never seen in training.

Simulates the DEMO preset (4 animals x 250 neurons, 5 types; spikes and calcium) into ``--data`` unless it is already
there, trains NeurPIR on every animal but ``--test-animal``, embeds all animals, fits a balanced logistic regression
on the training animals' embeddings (z-scored per session) and prints the balanced accuracy on the unseen animal
(chance 0.20), for the full model and the ablations named in ``--variants``; with ``--baseline`` also the hand
features alone and fused with each model's vectors (one probe each, log-probabilities summed).

    python -m benchmarks.bench_model_simulated --modality spikes --variants full no-context fixed-length
    python -m benchmarks.bench_model_simulated --modality ophys
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
from pathlib import Path

import numpy as np

from benchmarks.bench_model_common import bench_config, probe_fused_unseen, probe_unseen, train_and_embed

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-demo"))
    parser.add_argument("--modality", choices=("spikes", "ophys"), default="spikes")
    parser.add_argument("--test-animal", type=int, default=-1, help="index of the held-out animal (default: last)")
    parser.add_argument("--variants", nargs="+", default=["neurpir"],
                        help="neurpir, neurpir-no-context, neurpir-fixed-length, neurpir-untrained")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    parser.add_argument("--bin-size", type=float, default=None)
    parser.add_argument("--baseline", action="store_true", help="also hand features + logistic regression")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()

    import warnings

    from nwb_neurpir.evaluation.representations import variant_config
    from nwb_neurpir.io.nwb_reader import read_nwb

    warnings.simplefilter("ignore")
    recordings = [read_nwb(path, bin_size=args.bin_size) for path in simulated_files(args.data, args.modality)]
    labels = [r.neuron_metadata["cell_type"].astype(str).to_numpy() for r in recordings]
    animals = sorted({r.subject_id for r in recordings})
    held_out = animals[args.test_animal]
    test = [r.subject_id == held_out for r in recordings]
    print(f"{args.modality}: {len(recordings)} sessions, animals {animals}, held out {held_out}, "
          f"bin {recordings[0].bin_size * 1000:.1f} ms, {recordings[0].n_bins} bins")
    features = None
    if args.baseline:
        from nwb_neurpir.evaluation.features import feature_matrix

        features, _ = feature_matrix(recordings)
        print(f"hand features + logistic: {probe_unseen(features, labels, test)[0]:.3f}")
    base = bench_config(args.overrides).resolved(args.modality)
    train_set = [r for r, t in zip(recordings, test) if not t]
    for name in args.variants:
        scores = []
        for seed in args.seeds:
            config = dataclasses.replace(variant_config(base, name, args.modality), seed=seed)
            run = train_and_embed(train_set, recordings, config, args.progress)
            scores.append(probe_unseen(run.matrices, labels, test)[0])
            fused = "" if features is None else \
                f", fused with the hand features {probe_fused_unseen([features, run.matrices], labels, test)[0]:.3f}"
            print(f"{name} seed {seed}: balanced accuracy {scores[-1]:.3f} (chance 0.200){fused}; train "
                  f"{run.train_seconds:.0f} s ({run.steps} steps), embed {run.embed_seconds:.1f} s", flush=True)
        print(f"{name}: mean {np.mean(scores):.3f} ± {np.std(scores):.3f} over {len(scores)} seeds", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

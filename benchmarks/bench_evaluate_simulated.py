"""Simulated Izhikevich animals (DEMO preset: 4 animals x 250 neurons, 5 types), leave-one-animal-out, inductive.

Every animal is held out once: NeurPIR (and its ablations) is trained on the other animals only, and hand-feature
baselines run on the same folds. ``--modality ophys`` evaluates the calcium version of the same population.

    python -m benchmarks.bench_evaluate_simulated --modality spikes
    python -m benchmarks.bench_evaluate_simulated --modality ophys
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from benchmarks.bench_evaluate_common import add_common_arguments, run_evaluation
from benchmarks.bench_model_simulated import simulated_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-demo"))
    parser.add_argument("--modality", choices=("spikes", "ophys"), default="spikes")
    add_common_arguments(parser, "/tmp/neurpir-eval-simulated")
    args = parser.parse_args()
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    from nwb_neurpir.io import open_recordings

    files = simulated_files(args.data, args.modality)
    recordings = list(open_recordings(files, progress=args.progress, keep_spike_times=True))
    run_evaluation(recordings, args, started, label="cell_type", split="animal")


if __name__ == "__main__":
    main()

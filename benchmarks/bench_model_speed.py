"""NeurPIR speed and memory on the shared Steinmetz sessions, measured in one run so ratios are fair on a busy CPU.

1. One training step of NeurPIR vs one step of a CEBRA ``offset10-model`` with the same batch size on the same data
   (the first session's binned activity), each as (time of N+K steps - time of N steps) / K: ratio printed.
2. Embedding every neuron of the 11 sessions (10,985 neurons) with a trained model: seconds.
3. Peak RSS of training on 1 vs all 11 sessions (fresh subprocesses, a few steps each): memory must not grow with
   sessions beyond what is sampled.
4. With ``--full``: a complete default training run on all 11 sessions, wall-clock time.

    python -m benchmarks.bench_model_speed [--full] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

from benchmarks.shared_data import STEINMETZ_DATA, nwb_files

RSS_SCRIPT = """
import resource, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.model import NeurPIRConfig, train
files = sorted(Path({data!r}).rglob("*.nwb"))[: int(sys.argv[1])]
recordings = [read_nwb(f) for f in files]
train(recordings, NeurPIRConfig(max_steps=5, context_iterations=50, num_threads={threads}), progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _timed(function, *args) -> float:  # noqa: ANN001
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def per_step(run, small: int, large: int) -> float:  # noqa: ANN001
    """Seconds per step as the difference of two runs (set-up costs cancel)."""
    return (_timed(run, large) - _timed(run, small)) / (large - small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--full", action="store_true", help="also time a complete default training run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import cebra
    import numpy as np
    import torch

    from nwb_neurpir.io.nwb_reader import read_nwb
    from nwb_neurpir.model import NeurPIRConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load average at start: {os.getloadavg()}; torch threads {torch.get_num_threads()}")
    files = nwb_files(STEINMETZ_DATA)
    recordings = [read_nwb(f) for f in files]
    first = recordings[0]
    neural = np.ascontiguousarray(first.activity.T.astype(np.float32))

    def run_cebra(steps: int) -> None:
        cebra.CEBRA(model_architecture="offset10-model", batch_size=args.batch_size, max_iterations=steps,
                    device="cpu", verbose=False).fit(neural)

    def run_neurpir(steps: int) -> None:
        train([first], NeurPIRConfig(max_steps=steps, batch_size=args.batch_size, context="none",
                                     num_threads=args.threads, validate_every=10**6), progress=False)

    cebra_step = per_step(run_cebra, 20, 60)
    neurpir_step = per_step(run_neurpir, 5, 15)
    print(f"one training step, batch {args.batch_size}: NeurPIR {neurpir_step * 1000:.0f} ms, CEBRA offset10-model "
          f"{cebra_step * 1000:.0f} ms, ratio NeurPIR/CEBRA {neurpir_step / cebra_step:.1f}")

    model = train(recordings, NeurPIRConfig(max_steps=20, num_threads=args.threads, context_iterations=100),
                  progress=False)
    start = time.perf_counter()
    n_neurons = sum(model.embed(r, progress=False).shape[0] for r in recordings)
    print(f"embedding {n_neurons} neurons of {len(recordings)} sessions: {time.perf_counter() - start:.1f} s")

    for count in (1, len(files)):
        script = RSS_SCRIPT.format(data=str(STEINMETZ_DATA), threads=args.threads)
        out = subprocess.run([sys.executable, "-c", script, str(count)], capture_output=True, text=True, check=True)
        print(f"peak RSS training on {count} session(s): {float(out.stdout.strip().splitlines()[-1]):.0f} MB")

    if args.full:
        start = time.perf_counter()
        model = train(recordings, NeurPIRConfig(num_threads=args.threads), progress=True)
        print(f"full default training on {len(recordings)} sessions: {time.perf_counter() - start:.0f} s, "
              f"{model.training_summary_['steps']} steps; summary {json.dumps(model.training_summary_['history'][-1])}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

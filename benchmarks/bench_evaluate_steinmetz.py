"""Steinmetz 2019, 11 shared sessions (3 mice), 4-region preset, leave-one-mouse-out, inductive.

For each mouse, every NeurPIR variant (full, no context, fixed-length views, untrained encoder) is trained on the
other two mice's sessions only, then all sessions are embedded; hand-feature baselines (logistic regression, gradient
boosting, PCA + logistic) run on the same folds in the same run. Prints the table (per fold balanced accuracy, chance,
class counts), the time of each part and of the whole run, and writes report.json / report.md / umap.png /
confusion.png.

    python -m benchmarks.bench_evaluate_steinmetz [--set max_steps=1500 ...] [--methods neurpir,hand,hand:gb]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from benchmarks.bench_evaluate_common import add_common_arguments, run_evaluation
from benchmarks.shared_data import STEINMETZ_DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=STEINMETZ_DATA)
    add_common_arguments(parser, "/tmp/neurpir-eval-steinmetz")
    args = parser.parse_args()
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    from nwb_neurpir.io import open_recordings

    recordings = list(open_recordings([args.data], progress=args.progress, keep_spike_times=True))
    run_evaluation(recordings, args, started, label="brain_area", grouping="steinmetz-4region", split="animal")


if __name__ == "__main__":
    main()

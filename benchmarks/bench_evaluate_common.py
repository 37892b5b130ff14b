"""Shared by the evaluation benchmarks: config from ``--set key=value``, one timed evaluate + report run."""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from benchmarks.bench_model_common import bench_config

__all__ = ["add_common_arguments", "run_evaluation"]


def add_common_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="NeurPIRConfig key=value")
    parser.add_argument("--methods", default=None, help="comma-separated (default: NeurPIR, its ablations, baselines)")
    parser.add_argument("--normalize", choices=("none", "session"), default="session")
    parser.add_argument("--seed", type=int, default=0, help="config seed (model initialisation and views)")
    parser.add_argument("--out", type=Path, default=Path(out), help="report folder")
    parser.add_argument("--projection", choices=("umap", "pca"), default="umap")
    parser.add_argument("--progress", action="store_true")


def run_evaluation(recordings: list, args: argparse.Namespace, started: float, **options: object) -> None:
    """Evaluate inductively (a model per fold without the test animal), write the report, print what it found."""
    from nwb_neurpir.evaluation import evaluate, format_table, write_report
    from nwb_neurpir.model.config import parse_overrides

    config = bench_config(args.overrides, seed=args.seed)
    methods = args.methods.split(",") if args.methods else None
    result = evaluate(recordings, config=config, methods=methods, ablations=methods is None,
                      normalize=args.normalize, progress=args.progress, **options)
    paths = write_report(result, args.out, projection=args.projection)
    elapsed = time.perf_counter() - started
    cpu = time.process_time()
    print(format_table(result))
    print(f"config overrides: {parse_overrides(args.overrides)} seed {args.seed}; probe input normalised per "
          f"{args.normalize}")
    print("seconds: " + ", ".join(f"{name} {value:.0f}" for name, value in result.timings.items()))
    print(f"whole run (read + {len(result.folds)} folds of training + baselines + report and plots): "
          f"{elapsed:.0f} s = {elapsed / 60:.1f} min wall, {cpu:.0f} CPU s (all threads); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; load average "
          + "/".join(f"{value:.1f}" for value in os.getloadavg()))
    print(f"report: {paths['markdown']}")

"""NeurPIR on an animal under shifted peripheral conditions: does the vector describe the neuron or its circumstances?

Simulates Izhikevich animals (5 cell types) in which the last animal runs far more and sees other contrasts and trial
timing than the others (``SimulationConfig.with_shift``; its neurons are drawn exactly as the others'). NeurPIR is
trained on the unshifted animals only, with CEBRA context and without; ``nwb_neurpir.evaluation.evaluate`` then
probes cell type on the shifted animal (logistic probe, z-scored per session) next to hand features with logistic
regression and gradient boosting and NeurPIR fused with the hand features (``neurpir+hand``), all on the same fold:
train on the unshifted animals' neurons, test on the shifted animal's. Prints per-seed numbers, mean ± std and a
markdown table. ``--control`` repeats everything on the same animals with no shift, to show what the shift costs.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_shifted_conditions --control
    python -m benchmarks.bench_shifted_conditions --steps 800 --set batch_size=256 --neurons 250 --duration 300
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.bench_model_common import bench_config

HAND_METHODS = ("hand", "hand:gb")
CONTEXTS = ("cebra", "none")


def simulation_config(args: argparse.Namespace, shifted: bool):  # noqa: ANN201 - SimulationConfig
    """The data set: ``--animals`` animals of the DEMO kind, the last one shifted unless ``shifted`` is False."""
    from nwb_neurpir.simulate import DEMO

    config = DEMO.with_overrides(n_animals=args.animals, n_neurons=args.neurons, duration_s=args.duration,
                                 seed=args.sim_seed)
    return config.with_shift((args.animals - 1,), args.shift) if shifted else config.validate()


def simulated_recordings(config, root: Path, progress: bool) -> list:  # noqa: ANN001
    """Read the data set of ``config`` from ``root/<fingerprint>``, simulating it first when absent."""
    from nwb_neurpir.io import open_recordings
    from nwb_neurpir.simulate import planned_paths, write_dataset

    folder = root / config.fingerprint()
    files = planned_paths(folder, config)
    if not all(path.exists() for path in files):
        print(f"simulating {config.n_animals} animals x {config.n_neurons} neurons x {config.duration_s:g} s "
              f"into {folder} ...", file=sys.stderr)
        write_dataset(folder, config, progress=progress, overwrite=True)
    return list(open_recordings(files, progress=progress, keep_spike_times=True))


def describe_conditions(recordings: list) -> None:
    """Per animal: share of time running, mean speed, contrasts shown, trials per minute, mean firing rate."""
    for recording in recordings:
        speed = recording.covariates.get("behavior/BehavioralTimeSeries/running_speed", np.zeros(1))
        trials = recording.trials
        contrasts = sorted(set(trials["contrast"].round(3))) if trials is not None else []
        minutes = recording.n_bins * recording.bin_size / 60
        rate = float(recording.activity.sum(axis=1).mean() / (recording.n_bins * recording.bin_size))
        print(f"  {recording.subject_id}: running {np.mean(speed > 5):.0%} of the time (mean {speed.mean():.0f} cm/s), "
              f"contrasts {contrasts}, {0 if trials is None else len(trials) / minutes:.0f} trials/min, mean rate "
              f"{rate:.1f} Hz")


def held_out_fold(result, subject: str) -> int:  # noqa: ANN001 - EvaluationResult
    """Index of the fold that tests ``subject`` alone."""
    return next(i for i, fold in enumerate(result.folds) if fold.held_out_subjects == (subject,))


def run_seed(recordings: list, base, seed: int, args: argparse.Namespace) -> dict[str, float]:  # noqa: ANN001
    """Balanced accuracy on the last animal for NeurPIR (each context) and the hand baselines, one seed."""
    from nwb_neurpir.evaluation import evaluate
    from nwb_neurpir.model import train

    held_out = recordings[-1].subject_id
    train_set = [r for r in recordings if r.subject_id != held_out]
    scores: dict[str, float] = {}
    for context in args.contexts:
        config = dataclasses.replace(base, context=context, seed=seed)
        clock = time.perf_counter()
        model = train(train_set, config, progress=args.progress)
        trained = time.perf_counter() - clock
        methods = ["neurpir", "neurpir+hand", *(HAND_METHODS if context == args.contexts[0] else ())]
        result = evaluate(recordings, label="cell_type", model=model, methods=methods, split="animal", seed=seed,
                          progress=False)
        fold = held_out_fold(result, held_out)
        mode = result.method("neurpir").modes[fold]
        for method in result.methods:
            name = method.method.name
            name = f"{name} context={context}" if name.startswith("neurpir") else name
            scores[name] = method.scores[fold].balanced_accuracy
        steps = getattr(model, "training_summary_", {}).get("steps", config.max_steps)
        print(f"  seed {seed} context={context}: NeurPIR {scores[f'neurpir context={context}']:.3f} ({mode}); train "
              f"{trained:.0f} s ({steps} steps), embed {result.timings.get('neurpir (embedding)', 0.0):.0f} s",
              flush=True)
    print(f"  seed {seed}: " + ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
          + f"; chance {result.folds[fold].chance:.3f}", flush=True)
    return scores


def run_dataset(name: str, config, args: argparse.Namespace, base) -> dict[str, list[float]]:  # noqa: ANN001
    """Every seed on one data set; returns each method's per-seed scores."""
    recordings = simulated_recordings(config, args.data, args.progress)
    print(f"{name}: held out {recordings[-1].subject_id}, trained on "
          f"{', '.join(r.subject_id for r in recordings[:-1])}")
    describe_conditions(recordings)
    per_method: dict[str, list[float]] = {}
    for seed in args.seeds:
        for method, value in run_seed(recordings, base, seed, args).items():
            per_method.setdefault(method, []).append(value)
    return per_method


def print_table(tables: dict[str, dict[str, list[float]]]) -> None:
    """Mean ± std per method and data set, as markdown."""
    names = list(tables)
    print("\n| method | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for method in tables[names[0]]:
        cells = []
        for name in names:
            values = np.asarray(tables[name].get(method, []))
            cells.append(f"{values.mean():.3f} ± {values.std():.3f} ({', '.join(f'{v:.3f}' for v in values)})"
                         if values.size else "–")
        print(f"| {method} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-shifted"),
                        help="simulated data are kept under DATA/<config fingerprint>")
    parser.add_argument("--animals", type=int, default=4, help="the last one is held out under shifted conditions")
    parser.add_argument("--neurons", type=int, default=250, help="per animal, split over the 5 types")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds per session")
    parser.add_argument("--shift", default="both", help="behaviour, stimulus or both (CONTEXT_SHIFTS)")
    parser.add_argument("--sim-seed", type=int, default=0, help="seed of the simulated animals")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="NeurPIR training seeds")
    parser.add_argument("--steps", type=int, default=400, help="NeurPIR max_steps")
    parser.add_argument("--threads", type=int, default=1, help="NeurPIR num_threads")
    parser.add_argument("--contexts", nargs="+", choices=CONTEXTS, default=list(CONTEXTS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="NeurPIRConfig key=value")
    parser.add_argument("--control", action="store_true", help="also run on the same animals without the shift")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    from nwb_neurpir.model.config import parse_overrides

    base = bench_config(args.overrides, max_steps=args.steps, num_threads=args.threads)
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}  (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')})")
    tables = {f"shifted ({args.shift})": run_dataset("shifted", simulation_config(args, True), args, base)}
    if args.control:
        tables["no shift (control)"] = run_dataset("control", simulation_config(args, False), args, base)
    print_table(tables)
    elapsed = time.perf_counter() - started
    print(f"\nconfig overrides {parse_overrides(args.overrides)}, max_steps {args.steps}, num_threads {args.threads}; "
          f"whole run {elapsed:.0f} s = {elapsed / 60:.1f} min wall, {time.process_time():.0f} CPU s; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; load average "
          + "/".join(f"{value:.1f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()

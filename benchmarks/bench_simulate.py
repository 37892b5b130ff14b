"""Speed of the Izhikevich simulator, and how learnable its cell types are from hand features.

Prints markdown. Wall and CPU seconds are both reported, with the load average, because the machine may be shared.

    python -m benchmarks.bench_simulate             # full: 2,000 neurons x 10 min, demo preset, probe
    python -m benchmarks.bench_simulate --quick     # 2,000 neurons x 1 min
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the probe's OpenMP threads thrash on a shared 2-core machine

import numpy as np  # noqa: E402

from nwb_neurpir.simulate import CELL_TYPES, DEMO, SimulationConfig, simulate_population, write_dataset  # noqa: E402
from nwb_neurpir.simulate.integrator import available_backend  # noqa: E402


def _timed(run: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _speed_row(label: str, config: SimulationConfig, backend: str) -> tuple[str, float]:
    sessions, wall, cpu = _timed(lambda: simulate_population(config, backend=backend, progress=False))
    n_sessions = config.n_animals * config.sessions_per_animal
    neuron_seconds = n_sessions * config.n_neurons * config.duration_s
    rate = float(np.mean([s.firing_rates().mean() for s in sessions]))
    row = (f"| {label} | {backend} | {n_sessions} x {config.n_neurons} x {config.duration_s:g} s | {wall:.1f} | "
           f"{cpu:.1f} | {neuron_seconds / wall:,.0f} | {neuron_seconds / cpu:,.0f} | {rate:.1f} | {_load()} |")
    return row, wall


def _isi_features(session) -> np.ndarray:  # noqa: ANN001 - SimulatedSession
    edges = np.concatenate([[0.0], np.logspace(np.log10(0.002), np.log10(2.0), 25), [np.inf]])
    rows = []
    for times in session.spike_times():
        isi = np.diff(times)
        histogram = np.histogram(isi, edges)[0] / max(1, isi.size)
        cv = isi.std() / isi.mean() if isi.size > 1 else 0.0
        rows.append(np.concatenate([histogram, [np.log1p(times.size / session.config.duration_s), cv]]))
    return np.asarray(rows)


def _probe(config: SimulationConfig) -> list[str]:
    """Leave-one-animal-out balanced accuracy of ISI-histogram features with two probes."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sessions = simulate_population(config, progress=False)
    features = [_isi_features(s) for s in sessions]
    labels = [s.animal.params.cell_type for s in sessions]
    probes = {"logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
              "gradient boosting": lambda: HistGradientBoostingClassifier(random_state=0)}
    lines = []
    for name, make in probes.items():
        scores = []
        for held_out in range(len(sessions)):
            train = [i for i in range(len(sessions)) if i != held_out]
            model = make().fit(np.concatenate([features[i] for i in train]),
                               np.concatenate([labels[i] for i in train]))
            scores.append(balanced_accuracy_score(labels[held_out], model.predict(features[held_out])))
        lines.append(f"| ISI histogram + rate + CV | {name} | {np.mean(scores):.3f} | "
                     f"{' '.join(f'{s:.3f}' for s in scores)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 simulated minute instead of 10 for the big run")
    parser.add_argument("--no-probe", action="store_true", help="skip the hand-feature learnability probe")
    args = parser.parse_args()
    backend = available_backend()
    _, wall, _ = _timed(lambda: simulate_population(SimulationConfig(n_animals=1, n_neurons=10, duration_s=0.1),
                                                    progress=False))
    print(f"backend: {backend}; first call (imports, compile or cache load): {wall:.1f} s; "
          f"cores: {os.cpu_count()}; load average at start: {_load()}\n")
    print("| run | backend | sessions x neurons x duration | wall s | CPU s | neuron·s per wall s | "
          "neuron·s per CPU s | mean rate Hz | load 1/5/15 min |")
    print("|---|---|---|---|---|---|---|---|---|")
    big = SimulationConfig(n_animals=1, n_neurons=2000, duration_s=60.0 if args.quick else 600.0)
    print(_speed_row("target: 2,000 neurons", big, backend)[0], flush=True)
    print(_speed_row("numpy fallback (10 s)", big.with_overrides(duration_s=10.0), "numpy")[0], flush=True)
    if backend == "numba":
        print(_speed_row("numba, same 10 s", big.with_overrides(duration_s=10.0), "numba")[0], flush=True)
    print(_speed_row("DEMO preset, simulate", DEMO, backend)[0], flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for modality in ("spikes", "both"):
            paths, wall, cpu = _timed(lambda: write_dataset(folder, DEMO, modality=modality, progress=False,
                                                            overwrite=True))
            size = sum(os.path.getsize(p) for p in paths) / 1e6
            print(f"| DEMO preset, simulate + write ({modality}) | {backend} | {len(paths)} files, {size:.0f} MB | "
                  f"{wall:.1f} | {cpu:.1f} | | | | {_load()} |", flush=True)
    if not args.no_probe:
        print(f"\nLeave-one-animal-out balanced accuracy on the DEMO preset ({DEMO.n_animals} animals, "
              f"{len(CELL_TYPES)} types, chance 0.2):\n")
        print("| features | probe | mean | per held-out animal |")
        print("|---|---|---|---|")
        for line in _probe(DEMO):
            print(line, flush=True)


if __name__ == "__main__":
    main()

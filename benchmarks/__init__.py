"""Benchmark scripts: each prints what it measures. Run them from the repository root as modules, e.g.
``python -m benchmarks.bench_model_steinmetz --seeds 0``; results and targets are in ``BENCHMARKS.md``."""

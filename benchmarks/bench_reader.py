"""Open + bin every shared Steinmetz session: ``read_nwb`` against a bare h5py + numpy script, in the same run.

Both bin spikes in 10 ms bins over the observed windows only (``obs_intervals``). The bare script reads just the
datasets it needs (spike times and index, obs_intervals, brain_area) and trusts that every unit shares the first
unit's windows; ``read_nwb`` also checks its input, reads metadata, trials and covariates. Repetitions are
interleaved (baseline, reader, reader, baseline, ...) and the median total is reported, with the peak RSS.

    python -m benchmarks.bench_reader [--data-dir ../shared/data/steinmetz2019-nwb] [--repeats 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import warnings
from pathlib import Path

import h5py
import numpy as np

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning

from benchmarks.shared_data import STEINMETZ_DATA, nwb_files

BIN_SIZE = 0.010


def bare_bin(path: Path, bin_size: float = BIN_SIZE) -> np.ndarray:
    """The baseline: read the ragged columns with h5py and bin with searchsorted + bincount."""
    with h5py.File(path, "r") as nwb:
        units = nwb["units"]
        times = units["spike_times"][:]
        ends = units["spike_times_index"][:].astype(np.int64)
        windows = units["obs_intervals"][:][: int(units["obs_intervals_index"][0])]
        units["brain_area"][:]
    n_units = ends.size
    per_window = np.floor((windows[:, 1] - windows[:, 0]) / bin_size + 1e-6).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_window)])
    unit = np.repeat(np.arange(n_units), np.diff(ends, prepend=0))
    window = np.searchsorted(windows[:, 0], times, side="right") - 1
    clipped = np.maximum(window, 0)
    step = np.floor((times - windows[clipped, 0]) / bin_size).astype(np.int64)
    ok = (window >= 0) & (step < per_window[clipped])
    flat = unit[ok] * offsets[-1] + offsets[clipped[ok]] + step[ok]
    return np.bincount(flat, minlength=n_units * offsets[-1]).reshape(n_units, -1).astype(np.uint8)


def reader_bin(path: Path, bin_size: float = BIN_SIZE) -> np.ndarray:
    """The public reader on the same file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NWBReadWarning)
        return read_nwb(path, bin_size=bin_size).activity


def timed(function, files: list[Path]) -> float:  # noqa: ANN001
    start = time.perf_counter()
    for path in files:
        function(path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=STEINMETZ_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    files = nwb_files(args.data_dir)
    for path in files:
        if not np.array_equal(bare_bin(path), reader_bin(path)):
            raise SystemExit(f"{path}: reader and baseline counts differ")
    baseline, reader = [], []
    for repeat in range(args.repeats):
        order = [(bare_bin, baseline), (reader_bin, reader)]
        for function, times in order if repeat % 2 == 0 else order[::-1]:
            times.append(timed(function, files))
    base_median, reader_median = statistics.median(baseline), statistics.median(reader)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sessions: {len(files)}, repeats: {args.repeats}, bin size: {BIN_SIZE * 1000:.0f} ms (counts identical)")
    print(f"bare h5py+numpy: median {base_median:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in baseline)})")
    print(f"read_nwb:        median {reader_median:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in reader)})")
    print(f"ratio read_nwb / bare: {reader_median / base_median:.2f}  (target <= 1.5)")
    print(f"peak RSS: {peak_mb:.0f} MB  (target <= 2048)")


if __name__ == "__main__":
    main()

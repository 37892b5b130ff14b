"""Time and memory of the hand features (the baselines of `neurpir evaluate` and the probe of `neurpir predict`) on
one large session: the files of the ``paper`` preset (2,000 neurons x 10 min; spikes at 10 ms bins, calcium at 30
Hz), simulated first when absent. Prints the seconds and the memory added over the read recording, per modality.

    python -m benchmarks.bench_hand_features --data /tmp/simpaper
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

SUFFIX = {"spikes": "_ecephys.nwb", "ophys": "_ophys.nwb"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/neurpir-sim-paper"))
    parser.add_argument("--modality", choices=tuple(SUFFIX), default="spikes")
    args = parser.parse_args()

    from nwb_neurpir.evaluation.features import hand_features
    from nwb_neurpir.io.nwb_reader import read_nwb

    warnings.simplefilter("ignore")
    files = sorted(args.data.rglob(f"*{SUFFIX[args.modality]}"))
    if not files:
        from nwb_neurpir.simulate import PRESETS, write_dataset

        print(f"simulating the paper preset into {args.data} ...", file=sys.stderr)
        write_dataset(args.data, PRESETS["paper"], modality="both", progress=True, overwrite=True)
        files = sorted(args.data.rglob(f"*{SUFFIX[args.modality]}"))
    recording = read_nwb(files[-1], keep_spike_times=args.modality == "spikes")
    read_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clock, cpu = time.perf_counter(), time.process_time()
    table = hand_features(recording)
    seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.modality}: {recording.n_neurons} neurons x {recording.n_bins} bins "
          f"({recording.activity.nbytes / 2**20:.0f} MB of activity), {table.shape[1]} features: "
          f"{seconds:.1f} s ({cpu_seconds:.1f} CPU s); peak RSS {read_peak:.0f} MB after reading, {peak:.0f} MB after "
          f"the features (+{peak - read_peak:.0f} MB)")


if __name__ == "__main__":
    main()

"""Load: peak memory of `neurpir train` on 1, 3 and 11 shared Steinmetz sessions, against the data it must hold.

Each run is ``python -m nwb_neurpir.cli train <first N sessions> --out ... --max-steps 20`` in its own child process
(the reader goes through ``nwb_neurpir.io.open_recordings``, one file open at a time); its peak RSS is its
``VmHWM`` sampled from ``/proc``. The same imports alone give the fixed cost. What training must keep is each
session's binned activity (compact counts, read here once with ``read_nwb`` to size it); memory should grow by about
that, not by the number of sessions times what one step samples.

    python -m benchmarks.bench_load_train [--sessions 1 3 11] [--steps 20] [--workdir /tmp/neurpir-bench-load-train]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path

from benchmarks.bench_load_common import neurpir_argv, run_measured
from benchmarks.shared_data import STEINMETZ_DATA, nwb_files

CONFIG = {"context_iterations": 50, "batch_size": 128, "validation_fraction": 0.0, "checkpoint_every": 1000}
IMPORTS = "import nwb_neurpir.cli.app, nwb_neurpir.io, nwb_neurpir.model, pynwb, torch, torch._dynamo, cebra"


def activity_megabytes(files: list[Path]) -> list[float]:
    """Binned activity per session in the reader's compact dtype (what training keeps), in MB."""
    from nwb_neurpir.io.nwb_reader import read_nwb

    sizes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            sizes.append(read_nwb(path).activity.nbytes / 2**20)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=STEINMETZ_DATA)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 3, 11])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/neurpir-bench-load-train"))
    args = parser.parse_args()
    files = nwb_files(args.data_dir, at_least=max(args.sessions))
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    config = args.workdir / "config.json"
    config.write_text(json.dumps(CONFIG))
    sizes = activity_megabytes(files[: max(args.sessions)])
    imports = run_measured([sys.executable, "-c", IMPORTS])
    print(f"imports only: peak RSS {imports.peak_mb:.0f} MB")
    print("| sessions | neurons | activity held (MB) | peak RSS (MB) | peak - imports (MB) | wall (s) |")
    print("|---|---|---|---|---|---|")
    for count in args.sessions:
        run = run_measured(neurpir_argv("train", *files[:count], "--out", args.workdir / f"model-{count}",
                                        "--config", config, "--max-steps", args.steps, "--no-progress"))
        if run.code != 0:
            raise SystemExit(f"train on {count} sessions failed:\n{run.stderr[-3000:]}")
        neurons = run.stdout.split("(")[1].split(" ")[0] if "(" in run.stdout else "?"
        print(f"| {count} | {neurons} | {sum(sizes[:count]):.0f} | {run.peak_mb:.0f} | "
              f"{run.peak_mb - imports.peak_mb:.0f} | {run.seconds:.0f} |")


if __name__ == "__main__":
    main()

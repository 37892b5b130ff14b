"""Load: one `neurpir annotate` command over 200 small NWB files plus one broken file, with its memory measured.

Writes ``--files`` spikes sessions (``nwb_neurpir.testing``, 20 units, 30 s each; kept in ``--workdir`` for reuse) and
one truncated copy, trains a small model on two of them, copies the files to a fresh folder and annotates that folder
in place with ``python -m nwb_neurpir.cli annotate MODEL FOLDER --json`` as a child process. While it runs, its
resident memory is sampled from ``/proc`` together with the number of files it has started writing (their lock files),
so the peak after 50 files can be compared with the peak after all of them, in the same run. Then checks the summary
(every good file annotated, the broken one reported, exit code 1) and reads every file's embeddings back.

    python -m benchmarks.bench_load_annotate [--files 200] [--workdir /tmp/neurpir-bench-load-annotate]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from benchmarks.bench_load_common import neurpir_argv, run_measured

N_UNITS = 20
DURATION = 30.0
CHECKPOINTS = (50, 100, 150)


def make_files(folder: Path, count: int) -> list[Path]:
    """``count`` small spikes sessions in ``folder`` (existing ones are reused) and a truncated one."""
    from tqdm import tqdm

    from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"sub-{i % 20:02d}_ses-{i:03d}.nwb" for i in range(count)]
    for index, path in enumerate(tqdm(paths, desc="writing files", unit="file")):
        if not path.exists():
            nwbfile = make_spikes_nwbfile(n_units=N_UNITS, duration=DURATION, seed=index, n_trials=10,
                                          subject_id=f"mouse{index % 20}", session_id=f"ses{index}")
            write_nwbfile(nwbfile, path.with_name(f".{path.stem}.partial.nwb")).rename(path)
    broken = folder / "sub-99_ses-broken.nwb"
    broken.write_bytes(paths[0].read_bytes()[:4096])
    return [*paths, broken]


def train_model(files: list[Path], out: Path) -> Path:
    """A small model (default encoder sizes, few steps) trained on two of the files."""
    from nwb_neurpir.io.nwb_reader import read_nwb
    from nwb_neurpir.model import NeurPIRConfig, train

    if not (out / "manifest.json").exists():
        config = NeurPIRConfig(max_steps=20, context_iterations=20, batch_size=32, validation_fraction=0.0,
                               segment_length_min=1.0, segment_length_max=8.0)
        train([read_nwb(path) for path in files[:2]], config, out_dir=out, progress=False)
    return out


def lock_count(folder: Path) -> int:
    """Files the command has started writing: each gets a ``.<name>.neurpir-lock`` when its write begins."""
    return sum(1 for _ in folder.glob(".*.neurpir-lock"))


def check_outputs(outcomes: list[dict], good: list[Path], broken: Path) -> tuple[int, int]:
    """(files whose embeddings read back with one row per unit, failures reported for the broken file)."""
    from nwb_neurpir.store import read_embeddings

    by_name = {Path(o["source"]).name: o for o in outcomes}
    complete = 0
    for path in good:
        outcome = by_name.get(path.name, {})
        if outcome.get("status") == "in-place" and len(read_embeddings(outcome["path"])) == N_UNITS:
            complete += 1
    failed = by_name.get(broken.name, {})
    return complete, int(failed.get("status") == "failed" and bool(failed.get("error")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/neurpir-bench-load-annotate"))
    args = parser.parse_args()
    sources = make_files(args.workdir / "templates", args.files)
    model = train_model(sources, args.workdir / "model")
    data = args.workdir / "run"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    for path in sources:
        shutil.copyfile(path, data / path.name)
    run = run_measured(neurpir_argv("annotate", model, data, "--json"), probe=lambda: lock_count(data))
    outcomes = json.loads(run.stdout)
    good = [data / path.name for path in sources[:-1]]
    complete, reported = check_outputs(outcomes, good, data / sources[-1].name)
    summary = run.stderr.strip().splitlines()[-1]
    print(f"command: neurpir annotate MODEL FOLDER --json  ({len(sources)} files: {args.files} good + 1 truncated)")
    print(f"exit code: {run.code}  (expected 1)   summary: {summary!r}")
    print(f"good files annotated and read back with {N_UNITS} rows: {complete} of {args.files}; "
          f"broken file reported as failed: {bool(reported)}")
    print(f"wall time: {run.seconds:.1f} s  ({run.seconds / len(sources):.2f} s per file)")
    print("| files started | peak RSS so far (MB) |")
    print("|---|---|")
    for count in (*CHECKPOINTS, len(sources)):
        if count < len(sources):
            peak = run.peak_when(count + 1)  # the next file's lock exists: `count` files are done
            print(f"| {count} | {peak:.0f} |" if peak is not None else f"| {count} | (not sampled) |")
    print(f"| {len(sources)} (to the end) | {run.peak_mb:.0f} |")
    first = run.peak_when(CHECKPOINTS[0] + 1)
    if first:
        print(f"growth from 50 files to the end: {run.peak_mb - first:+.0f} MB ({run.peak_mb / first:.2f}x)")
    ok = run.code == 1 and complete == args.files and reported
    if not ok:
        raise SystemExit("FAILED: the summary or the files are not what they should be")


if __name__ == "__main__":
    main()

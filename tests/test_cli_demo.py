"""``neurpir demo``, the README's first command, end to end as a real process on a tiny population (hidden --tiny, which
also draws the map with PCA: UMAP's numba compilation would be most of the run)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nwb_neurpir.store import read_embeddings


@pytest.mark.slow
def test_demo_simulates_trains_annotates_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", "demo", "--tiny", "--threads", "2", "--out",
                           str(out), "--json", "--no-progress"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["test_subject"] == "sim03" and result["chance"] == pytest.approx(0.2)
    assert {"neurpir", "hand"} <= set(result["held_out_balanced_accuracy"])
    assert all(0.0 <= score <= 1.0 for score in result["held_out_balanced_accuracy"].values())
    assert all(Path(path).is_file() for path in result["report_files"].values())
    report = json.loads(Path(result["report_files"]["json"]).read_text())
    assert [fold["name"] for fold in report["folds"]] == ["sim03"]  # the one animal the model never saw
    assert report["settings"]["model"]["path"] == str((out / "model").resolve())
    # --threads (the tiny config's is 1) is what training used, and the recorded command says it, last
    assert report["settings"]["command"] == f"neurpir demo --tiny --out {out} --json --no-progress --threads 2"
    sources = report["settings"]["sources"]
    assert [Path(s["location"]) for s in sources] == [Path(p).resolve() for p in sorted(result["data_files"])]
    assert all(s["identifier"] for s in sources)
    command = report["settings"]["equivalent_command"]
    assert command.startswith("neurpir evaluate ")
    assert f"--out {(out / 'report-evaluate').resolve()} " in command  # beside the demo's report, not over it
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", *shlex.split(command)[1:], "--no-progress"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "report" / "report.json").read_text()) == report
    reproduced = json.loads((out / "report-evaluate" / "report.json").read_text())
    assert [(m["name"], m["pooled"]["balanced_accuracy"]) for m in reproduced["methods"]] == \
        [(m["name"], m["pooled"]["balanced_accuracy"]) for m in report["methods"]]
    markdown = (out / "report" / "report.md").read_text()
    assert f"The same evaluation as a `neurpir evaluate` command:\n\n```\n{command.split(' --out ')[0]}" in markdown
    assert {method["mode"] for method in report["methods"] if method["name"] == "neurpir"} == {"inductive"}
    assert (out / "model" / "manifest.json").is_file()
    assert len(result["data_files"]) == 3
    for path in result["data_files"]:
        table = read_embeddings(path)
        assert len(table) == 25 and np.isfinite(np.stack(table["embedding"])).all()
        hyperparameters = table.attrs["model"]["hyperparameters"]
        assert hyperparameters["max_steps"] == 3 and "num_threads" not in hyperparameters  # runtime is not provenance
        assert hyperparameters["bin_size"] == 0.01  # the grid the files are read on


def _demo(out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", "demo", "--tiny", "--threads", "1", "--out",
                           str(out), "--no-progress", *options], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_a_demo_run_again_keeps_the_earlier_files_or_refuses_before_writing(tmp_path: Path) -> None:
    # a run again simulated the data anew (its embeddings lost), then refused a checkpoint with advice (--no-resume)
    # that demo does not take
    out = tmp_path / "demo"
    assert _demo(out, "--max-steps", "4").returncode == 0
    files = sorted((out / "data").rglob("*.nwb"))
    before = {path: path.read_bytes() for path in files}
    fewer_steps = _demo(out, "--max-steps", "3")
    assert fewer_steps.returncode == 1 and fewer_steps.stderr.count("\n") == 1, fewer_steps.stderr[-2000:]
    assert "the checkpoint is at step 4, past max_steps 3" in fewer_steps.stderr
    assert "--overwrite (overwrite=True) starts the demo afresh" in fewer_steps.stderr
    other_seed = _demo(out, "--seed", "5")
    assert other_seed.returncode == 1, other_seed.stderr[-2000:]
    assert other_seed.stderr == (f"error: {out / 'data'}: holds files of another demo (another --seed?) or only some "
                                 "of this one's; --overwrite (overwrite=True) starts the demo afresh: it simulates, "
                                 "trains and annotates again\n")
    assert {path: path.read_bytes() for path in files} == before
    assert all(len(read_embeddings(path)) == 25 for path in files)
    afresh = _demo(out, "--seed", "5", "--max-steps", "3", "--overwrite", "--json")
    assert afresh.returncode == 0, afresh.stderr[-2000:]
    assert all(path.read_bytes() != before[path] and len(read_embeddings(path)) == 25 for path in files)
    assert json.loads((out / "model" / "model.json").read_text())["training"]["steps"] == 3

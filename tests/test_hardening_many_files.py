"""One `neurpir annotate` over a folder of many files, some broken: it continues past them, reports each one in its
summary and exits 1; every good file is annotated. (The 200-file version with memory figures is
``benchmarks/bench_load_annotate.py``.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hardening_support import CliForkServer, user_lines
from nwb_neurpir.store import read_embeddings

pytest_plugins = ["hardening_fixtures"]

N_GOOD = 8


@pytest.mark.slow
def test_annotate_continues_past_broken_files_and_reports_them(cli_server: CliForkServer, tiny_model: Path,
                                                               session_template: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = []
    for index in range(N_GOOD):
        (data / f"sub-{index}").mkdir(parents=True)
        good.append(Path(shutil.copyfile(session_template, data / f"sub-{index}" / f"session-{index}.nwb")))
    broken = {data / "truncated.nwb": session_template.read_bytes()[:4096],
              data / "sub-3" / "not-hdf5.nwb": b"this is not an NWB file\n"}
    for path, content in broken.items():
        path.write_bytes(content)
    done = cli_server.run(["annotate", tiny_model, data, "--json"], tmp_path / "logs")
    assert done.code == 1, done.stderr[-2000:]
    assert user_lines(done.stderr)[-1] == f"annotated {N_GOOD} of {N_GOOD + 2} sources; 2 failed"
    outcomes = {Path(o["source"]): o for o in json.loads(done.stdout)}
    assert set(outcomes) == set(good) | set(broken)
    for path in broken:
        assert outcomes[path]["status"] == "failed" and "\n" not in outcomes[path]["error"], outcomes[path]
        assert path.read_bytes() == broken[path]
    for path in good:
        assert outcomes[path]["status"] == "in-place" and outcomes[path]["n_neurons"] == 20
        assert len(read_embeddings(path)) == 20

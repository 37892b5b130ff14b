"""``neurpir predict`` on real data: a probe fitted on two shared Steinmetz mice's annotated copies predicts the
brain areas of the third mouse's copy, read back by plain pynwb and pynapple (untrained model, so it stays fast)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hardening_support import CliForkServer

import nwb_neurpir as npir
from test_api_workflows import read_with_plain_pynwb

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
pytest_plugins = ["hardening_fixtures"]  # cli_server: `neurpir` commands forked from a warm interpreter

MICE = ("Cori", "Forssmann", "Hench")


def test_predict_brain_areas_of_a_third_mouse(steinmetz_dir: Path, tmp_path: Path, cli_server: CliForkServer) -> None:
    import pynapple

    copies = {mouse: Path(shutil.copyfile(sorted((steinmetz_dir / f"sub-{mouse}").glob("*.nwb"))[0],
                                          tmp_path / f"{mouse}.nwb")) for mouse in MICE}
    training = [copies["Cori"], copies["Forssmann"]]
    model = npir.NeurPIR(max_steps=0, context="none", num_threads=1).fit(training, progress=False)
    model_dir = model.save(tmp_path / "model")
    assert [o.status for o in npir.annotate(model, training, progress=False)] == ["in-place", "in-place"]
    done = cli_server.run(["predict", model_dir, copies["Hench"], "--json",
                           *[arg for path in training for arg in ("--fit-on", path)],
                           "--label", "brain_area", "--grouping", "steinmetz-4region"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout)
    assert row["status"] == "in-place" and row["n_neurons"] > 500
    probe = npir.LabelProbe.load(model_dir / "probes" / "brain_area-steinmetz-4region")
    assert set(probe.fold_accuracy_) == {"Cori", "Forssmann"} and set(probe.classes_) <= {"HPF", "MB", "TH", "VIS"}
    seen = read_with_plain_pynwb(copies["Hench"], "predicted_brain_area")
    assert seen["target"] == "units" and len(seen["labels"]) == row["n_neurons"]
    assert seen["classes"] == probe.classes_ and set(seen["labels"]) <= set(probe.classes_)
    assert len(pynapple.load_file(str(copies["Hench"]))["units"]) >= row["n_neurons"]
    units = npir.to_pynapple(copies["Hench"])
    assert (units.metadata["predicted_brain_area"] != "").sum() == row["n_neurons"]

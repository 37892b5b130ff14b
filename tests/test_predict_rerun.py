"""``predict`` run again: the same probe fitted again is reused (also by two jobs saving it at once), a file that
already holds this probe's predictions from this model is left unchanged, and anything different is still refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_api_workflows import fitted  # noqa: F401 - the fixture: a tiny model fitted on `simulated`
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import read_predictions
from nwb_neurpir.workflows.prediction import predict_with_saved_probe
from nwb_neurpir.workflows.probe_saving import keep_probe


@pytest.fixture
def labelled(fitted: tuple, simulated: Path, tmp_path: Path) -> dict:  # noqa: F811
    """A copy of the data with sim01 and sim02 annotated, and a copy of the model without probes."""
    data = Path(shutil.copytree(simulated, tmp_path / "data"))
    model_dir = Path(shutil.copytree(fitted[1], tmp_path / "model", ignore=shutil.ignore_patterns("probes")))
    npir.annotate(fitted[0], [data / "sub-sim01", data / "sub-sim02"], progress=False)
    return {"data": data, "model_dir": model_dir, "fit_on": [str(data / "sub-sim01"), str(data / "sub-sim02")],
            "target": data / "sub-sim03"}


def _nwb(folder: Path) -> Path:
    (path,) = sorted(folder.rglob("*.nwb"))
    return path


def test_the_same_probe_is_reused_and_files_it_predicted_are_left_unchanged(labelled: dict, tmp_path: Path) -> None:
    model_dir, fit_on, target = labelled["model_dir"], labelled["fit_on"], [labelled["target"]]
    folder = model_dir / "probes" / "cell_type"
    said: list[str] = []
    (first,) = predict_with_saved_probe(model_dir, target, fit_on=fit_on, output_dir=tmp_path / "a",
                                        say=said.append, progress=False)
    assert first.status == "copy" and said[-1].endswith(f"saved to {folder}")
    manifest = (folder / "manifest.json").read_bytes()
    (second,) = predict_with_saved_probe(model_dir, target, fit_on=fit_on, output_dir=tmp_path / "b",
                                         say=said.append, progress=False)  # a new --out: refused before
    assert second.status == "copy" and said[-1].endswith(f"the same probe is already saved at {folder}, reused")
    assert (folder / "manifest.json").read_bytes() == manifest
    recorded = {read_predictions(_nwb(tmp_path / out)).attrs["probe"]["checkpoint_sha256"] for out in "ab"}
    assert recorded == {npir.LabelProbe.load(folder).checkpoint_sha256_}

    written = _nwb(tmp_path / "a")
    before = written.stat().st_mtime_ns
    (again,) = predict_with_saved_probe(model_dir, target, fit_on=fit_on, output_dir=tmp_path / "a", progress=False)
    assert (again.status, again.path, again.n_neurons) == ("unchanged", str(written), 25)
    assert again.counts == first.counts and again.error is None and written.stat().st_mtime_ns == before
    (saved_probe,) = predict_with_saved_probe(model_dir, target, output_dir=tmp_path / "a", progress=False)
    assert saved_probe.status == "unchanged"  # without --fit-on: the probe saved beside the model

    other = tmp_path / "other-probe"  # a different probe's predictions of the same name are still refused
    (refused,) = predict_with_saved_probe(model_dir, target, fit_on=fit_on, probe_kind="knn", probe_dir=other,
                                          output_dir=tmp_path / "a", progress=False)
    assert refused.status == "failed" and "already has predictions named 'predicted_cell_type'" in refused.error
    assert written.stat().st_mtime_ns == before


def test_a_probe_fitted_again_is_the_same_whatever_its_creation_time(labelled: dict, tmp_path: Path) -> None:
    folder = tmp_path / "probes" / "cell_type"
    saved = npir.LabelProbe("cell_type").fit(labelled["fit_on"])
    saved.save(folder)
    refit = npir.LabelProbe("cell_type").fit(labelled["fit_on"])
    refit.created_ = "2001-01-01T00:00:00+00:00"  # fitted another day: another checksum, the same probe
    assert refit.sha256() != saved.checkpoint_sha256_ and refit.saved_differences(folder) == []
    kept, reused = keep_probe(refit, folder, overwrite=False)
    assert reused and kept.checkpoint_sha256_ == saved.checkpoint_sha256_ and kept.created_ == saved.created_
    different = npir.LabelProbe("cell_type", inputs="neurpir").fit(labelled["fit_on"])
    with pytest.raises(NeurPIRError, match=r"a different probe is already saved here \(.*, inputs, weights "
                                           r"differ\); use --overwrite"):
        keep_probe(different, folder, overwrite=False)
    assert keep_probe(different, folder, overwrite=True) == (different, False)
    assert npir.LabelProbe.load(folder).inputs == "neurpir"
    assert [path.name for path in folder.parent.iterdir()] == ["cell_type"]  # no temporary folder beside it


def test_two_jobs_fitting_the_same_probe_at_once_both_predict(labelled: dict, tmp_path: Path) -> None:
    model_dir = labelled["model_dir"]
    fit_on = [arg for path in labelled["fit_on"] for arg in ("--fit-on", path)]
    jobs = [subprocess.Popen([sys.executable, "-m", "nwb_neurpir.cli", "predict", str(model_dir),
                              str(labelled["target"]), *fit_on, "--label", "cell_type", "--out", str(tmp_path / job),
                              "--threads", "1", "--no-progress", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for job in ("one", "two")]
    done = [(job.wait(timeout=600), *job.communicate()) for job in jobs]
    for code, stdout, stderr in done:
        assert code == 0, stderr[-2000:]
        assert [row["status"] for row in json.loads(stdout)] == ["copy"]
    assert sorted(path.name for path in (model_dir / "probes").iterdir()) == ["cell_type"]  # no temporary folder
    saved = npir.LabelProbe.load(model_dir / "probes" / "cell_type").checkpoint_sha256_
    assert {read_predictions(_nwb(tmp_path / job)).attrs["probe"]["checkpoint_sha256"] for job in ("one", "two")} \
        == {saved}  # both predicted with the probe kept


def test_a_saved_probe_says_its_accuracy_and_warns_when_it_is_not_above_chance(labelled: dict, tmp_path: Path) -> None:
    model_dir, target = labelled["model_dir"], [labelled["target"]]
    folder = model_dir / "probes" / "cell_type"
    said: list[str] = []
    predict_with_saved_probe(model_dir, target, fit_on=labelled["fit_on"], output_dir=tmp_path / "a", say=said.append,
                             progress=False)
    probe = npir.LabelProbe.load(folder)
    assert probe.cross_animal_accuracy_ > 1 / len(probe.classes_) and not any("chance" in line for line in said)
    probe.cross_animal_accuracy_ = 1 / len(probe.classes_)  # as a probe on too few neurons can score
    probe.save(folder)
    said.clear()
    predict_with_saved_probe(model_dir, target, output_dir=tmp_path / "b", say=said.append, progress=False)
    chance = 1 / len(probe.classes_)
    assert said == [f"{probe.summary_line()}; saved at {folder}, reused",
                    f"warning: the probe's cross-animal balanced accuracy {chance:.3f} is not above chance "
                    f"(1/{len(probe.classes_)} = {chance:.3f}): the predictions written are not better than chance "
                    "across animals"]
    assert said[0].endswith(f"cross-animal balanced accuracy {chance:.3f}; saved at {folder}, reused")

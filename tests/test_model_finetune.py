"""Adapting a received model: a model folder is never replaced without --no-resume, `train --init-from` (and
``fit(warm_start=True)``) fine-tunes a model and records it, and a checkpoint resumes without restating settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_files import TINY
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import CannotResume, NeurPIRError
from nwb_neurpir.model import NeurPIR as TrainedModel
from nwb_neurpir.model.sessions import session_key
from nwb_neurpir.simulate.nwb_output import write_dataset
from nwb_neurpir.testing import tiny_population

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A collaborator's tiny model, trained on sim01 and sim02 into a folder with checkpoints."""
    folder = tmp_path_factory.mktemp("received") / "model"
    npir.NeurPIR(**TINY.to_dict()).fit([simulated / "sub-sim01", simulated / "sub-sim02"], checkpoint_dir=folder,
                                       progress=False)
    return folder


def _train(*arguments: str) -> tuple[int, str]:
    done = runner.invoke(app, ["train", *arguments, "--threads", "1", "--no-progress"])
    return done.exit_code, done.output


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_folder_holding_a_model_is_refused_not_replaced(model_dir: Path, simulated: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    saved = npir.NeurPIR.load(model_dir).save(tmp_path / "saved")  # NeurPIR.save: no checkpoints
    no_checkpoints = shutil.copytree(model_dir, tmp_path / "no-checkpoints")
    shutil.rmtree(no_checkpoints / "checkpoints")
    mine = str(simulated / "sub-sim03")
    for folder in (saved, no_checkpoints):
        before = _contents(folder)
        code, output = _train(mine, "--out", str(folder), "--max-steps", "2")
        assert code == 1
        assert output.strip().splitlines()[-1] == (
            f"error: {folder}: holds a model (manifest.json) but no checkpoint to continue its training, so training "
            "would replace it; train into a new folder, or fine-tune it into one with --init-from (warm_start=True); "
            f"--no-resume (resume=False) trains again from scratch and replaces the model in {folder}")
        with pytest.raises(CannotResume, match="holds a model"):
            npir.NeurPIR.load(folder).fit(mine, checkpoint_dir=folder, progress=False)
        assert _contents(folder) == before
    code, output = _train(mine, "--out", str(saved), "--config", str(_tiny(tmp_path)), "--no-resume")
    assert code == 0, output
    assert TrainedModel.load(saved).training_data_ == [session_key(npir.open_recordings(mine, progress=False)[0])]


def _tiny(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(TINY.to_json())
    return path


def test_a_checkpoint_resumes_with_the_settings_it_was_made_with_unless_they_are_given(
        model_dir: Path, simulated: Path, tmp_path: Path) -> None:  # noqa: F811
    extended = shutil.copytree(model_dir, tmp_path / "extended")
    data = [str(simulated / "sub-sim01"), str(simulated / "sub-sim02")]
    code, output = _train(*data, "--out", str(extended), "--max-steps", "5")  # TINY's settings are not restated
    assert code == 0, output
    assert output.startswith("resumed at step 3, trained 2 more: 5 of 5 steps on 2 recordings")
    assert TrainedModel.load(extended).config.hidden_dim == TINY.hidden_dim
    extended_again = npir.NeurPIR(max_steps=6).fit(data, checkpoint_dir=extended, progress=False)
    assert extended_again.training_summary_["resumed_from_step"] == 5
    code, output = _train(*data, "--out", str(extended), "--max-steps", "7", "--set", "hidden_dim=16")
    assert code == 1
    assert "made with different settings (hidden_dim); continue it with the saved ones (--set hidden_dim=8)" in output


def test_fine_tuning_starts_from_the_model_and_records_it(model_dir: Path, simulated: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    mine = npir.open_recordings(simulated / "sub-sim03", progress=False)
    received = npir.NeurPIR.load(model_dir)
    before = npir.embedding_matrix(received.transform(mine, progress=False))
    unchanged = npir.NeurPIR.load(model_dir).set_params(max_steps=0).fit(mine, warm_start=True, progress=False)
    assert np.array_equal(npir.embedding_matrix(unchanged.transform(mine, progress=False)), before)
    tuned = received.set_params(max_steps=4).fit(mine, warm_start=True, progress=False)
    assert not np.allclose(npir.embedding_matrix(tuned.transform(mine, progress=False)), before)
    origin = TrainedModel.load(model_dir)
    record = tuned.training_summary_["initialized_from"]
    assert record["sha256"] == origin.checkpoint_sha256_ and record["training_data"] == origin.training_data_
    assert tuned.training_summary_["steps"] == 4 and tuned.training_summary_["runs"][0]["start_step"] == 0
    assert tuned.provenance().hyperparameters["training"]["initialized_from"]["sha256"] == origin.checkpoint_sha256_
    for name, tensor in origin.context_.network.state_dict().items():  # the context model is frozen
        assert torch.equal(tuned.fitted_model().context_.network.state_dict()[name], tensor)
    assert npir.NeurPIR.load(model_dir).fit(mine, progress=False).fitted_model().training_summary_.get(
        "initialized_from") is None  # fit without warm_start trains from scratch, as in scikit-learn


def test_train_init_from_fine_tunes_into_a_new_folder_and_refuses_other_input(model_dir: Path, simulated: Path,  # noqa: F811
                                                                             tmp_path: Path) -> None:
    mine, new = str(simulated / "sub-sim03"), tmp_path / "adapted"
    code, output = _train(mine, "--out", str(new), "--init-from", str(model_dir), "--max-steps", "2")
    assert code == 0, output
    origin = TrainedModel.load(model_dir)
    assert output.splitlines()[-1] == f"fine-tuned from: {model_dir} (sha256 {origin.checkpoint_sha256_[:16]}…)"
    meta = json.loads((new / "model.json").read_text())
    assert meta["training"]["initialized_from"]["sha256"] == origin.checkpoint_sha256_
    assert meta["bin_size"] == origin.bin_size_ and meta["context"] == origin.files()["model.json"]["context"]
    assert json.loads((new / "config.json").read_text())["hidden_dim"] == TINY.hidden_dim  # the model's, not given
    code, output = _train(mine, "--out", str(new), "--init-from", str(model_dir), "--max-steps", "3")
    assert code == 0 and output.startswith("resumed at step 2, trained 1 more"), output
    refused = {
        "bin size": (["--bin-size", "0.02"], "--bin-size 0.02 (bin_size=) is not the model's bin size: it was "
                     "trained on 10 ms bins"),
        "setting": (["--set", "representation_dim=16"], "fine-tuning keeps the settings that define the model's "
                    "vectors, and the model has representation_dim=8: leave out the options that change them "
                    "(representation_dim; --covariates sets context_covariates)"),
        "covariates": (["--covariates", "trials/*"], "and the model has context_covariates at its default"),
        "calcium file": ([], "the model was trained on spikes data, but this file holds ophys data only"),
        "modality": (["--modality", "ophys"], "this model reads spikes recordings"),
        "same folder": (["--no-resume"], "--out must be a new folder, not the model --init-from fine-tunes")}
    write_dataset(tmp_path / "calcium", tiny_population(5), modality="ophys", progress=False)
    (calcium,) = (tmp_path / "calcium").glob("sub-sim03/*_ophys.nwb")
    for name, (options, message) in refused.items():
        out = model_dir if name == "same folder" else tmp_path / name
        source = str(calcium) if name == "calcium file" else mine
        code, output = _train(source, "--out", str(out), "--init-from", str(model_dir), *options)
        assert code == 1 and message in output and len(output.strip().splitlines()) == 1, (name, output)
    with pytest.raises(NeurPIRError, match="not fitted yet"):
        npir.NeurPIR().fit(mine, warm_start=True, progress=False)


def test_evaluate_counts_the_recordings_of_the_model_it_was_fine_tuned_from_as_seen(
        model_dir: Path, simulated: Path, tmp_path: Path) -> None:  # noqa: F811
    new = tmp_path / "adapted"
    assert _train(str(simulated / "sub-sim03"), "--out", str(new), "--init-from", str(model_dir))[0] == 0
    done = runner.invoke(app, ["evaluate", str(simulated), "--model", str(new), "--held-out", "sim01", "--label",
                               "cell_type", "--methods", "neurpir,hand", "--json", "--no-progress"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert [m["mode"] for m in payload["methods"] if m["name"] == "neurpir"] == ["transductive"]
    assert payload["settings"]["inductive_folds"]["neurpir"] == []


def test_fine_tuning_on_a_recording_lacking_a_context_input_says_so(model_dir: Path, simulated: Path,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    import h5py

    (source,) = (simulated / "sub-sim03").glob("*.nwb")
    mine = Path(shutil.copy(source, tmp_path / "no-running.nwb"))
    with h5py.File(mine, "r+") as file:
        del file["processing/behavior"]  # no running speed: a context input of the model
    received = npir.NeurPIR.load(model_dir).set_params(max_steps=1)
    with pytest.warns(UserWarning, match=r"no-running\.nwb: 1 of the model's \d+ context inputs are missing and set "
                                         r"to their training mean: behavior/BehavioralTimeSeries/running_speed"):
        received.fit(mine, warm_start=True, progress=False)

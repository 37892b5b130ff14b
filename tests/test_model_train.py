"""Training: loss falls, seeds reproduce, ablations run, interrupted runs resume exactly."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nwb_neurpir.testing import mock_recording, tiny_config
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import NeurPIR, NeurPIRConfig, train
from nwb_neurpir import __version__
from nwb_neurpir.model.checkpoint import latest_checkpoint, read_folder, write_folder
from nwb_neurpir.model.estimator import THIS_RUN
from nwb_neurpir.model.trainer import TRAINING_FILES
from nwb_neurpir.recording import Recording

# Trains sys.argv[2] steps into the model folder sys.argv[1] on two recordings of 300 neurons, with steps of 600
# neurons x 10 s views (about 400 MB; starting takes under 100 MB), in a process that may take sys.argv[3] MB more
# address space than it holds before training ("-": no limit; run with MALLOC_ARENA_MAX=1, so threads reserve no
# malloc arenas); prints the error's line.
_MEMORY_LIMITED_TRAINING = """import resource, sys
from pathlib import Path
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import train
from nwb_neurpir.testing import mock_recording, tiny_config
recordings = [mock_recording(seed=s, n_per_kind=100, n_bins=1000, subject_id=f"m{s}") for s in range(2)]
config = tiny_config(batch_size=600, max_steps=int(sys.argv[2]), context="none", segment_length_min=9.9,
                     segment_length_max=10.0, checkpoint_every=2, hidden_dim=256, representation_dim=64)
if sys.argv[3] != "-":
    size = int(next(line for line in open("/proc/self/status") if line.startswith("VmSize")).split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + (int(sys.argv[3]) << 20),) * 2)
try:
    train(recordings, config, out_dir=Path(sys.argv[1]), progress=False)
    print("trained")
except NeurPIRError as error:
    print(error.one_line())
"""

TINY = tiny_config(expander_dim=32, batch_size=24, max_steps=15, context="none", segment_length_max=3.0,
                   warmup_steps=5, learning_rate=3e-3)


@pytest.fixture(scope="module")
def recordings():  # noqa: ANN201
    return [mock_recording(seed=s, n_bins=300, subject_id=f"m{s % 2}") for s in range(2)]


@pytest.fixture(scope="module")
def earlier_release_folder(recordings, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """A model folder trained for 6 steps without the prediction term, whose checkpoint is as a release before
    ``predict_weight`` and ``training.runs`` wrote it (5a9ff3c): neither key in its files, nor the sessions' activity
    fingerprints (``n_bins``, ``activity_sha256``)."""
    folder = tmp_path_factory.mktemp("earlier") / "model"
    train(recordings, dataclasses.replace(TINY, max_steps=6, predict_weight=0.0), out_dir=folder, progress=False)
    checkpoint = latest_checkpoint(folder / "checkpoints")
    files = read_folder(checkpoint, TRAINING_FILES)[0]
    del files["config.json"]["predict_weight"], files["trainer.json"]["state"]["runs"]
    del files["model.json"]["training"]["runs"]
    for session in files["model.json"]["training"]["sessions"]:
        del session["n_bins"], session["activity_sha256"]
    write_folder(checkpoint, files)
    return folder


@pytest.mark.slow
def test_tiny_model_overfits_a_tiny_data_set(recordings) -> None:  # noqa: ANN001
    model = train(recordings, dataclasses.replace(TINY, max_steps=60, validation_fraction=0.25, validate_every=15,
                                                  early_stopping_patience=0, expander_dim=16, learning_rate=1e-2),
                  progress=False)
    history = model.training_summary_["history"]
    assert [h["step"] for h in history] == [15, 30, 45, 60]
    assert history[-1]["train"] < 0.9 * history[0]["train"]
    assert model.training_summary_["n_validation_neurons"] == 12


def test_same_seed_gives_the_same_embedding(recordings) -> None:  # noqa: ANN001
    first = train(recordings, TINY, progress=False).embed(recordings[0], progress=False)
    second = train(recordings, TINY, progress=False).embed(recordings[0], progress=False)
    other = train(recordings, dataclasses.replace(TINY, seed=1), progress=False).embed(recordings[0], progress=False)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)
    assert first.shape == (recordings[0].n_neurons, 8) and first.dtype == np.float32


def test_untrained_and_fixed_length_ablations_run(recordings) -> None:  # noqa: ANN001
    untrained = train(recordings, dataclasses.replace(TINY, max_steps=0), progress=False)
    assert untrained.training_summary_["steps"] == 0
    fixed = train(recordings, dataclasses.replace(TINY, max_steps=3, segment_length_min=1.0, segment_length_max=1.0),
                  progress=False)
    assert fixed.config.fixed_length
    assert np.isfinite(fixed.embed(recordings[1], progress=False)).all()


def test_no_covariates_trains_without_context(recordings, caplog) -> None:  # noqa: ANN001
    bare = [mock_recording(seed=5, n_bins=300, with_covariates=False)]
    with caplog.at_level(logging.WARNING):
        model = train(bare, dataclasses.replace(TINY, context="cebra", max_steps=2), progress=False)
    assert model.context_ is None
    assert "without context" in caplog.text


def test_user_mistakes_are_clear(recordings) -> None:  # noqa: ANN001
    with pytest.raises(NeurPIRError, match="no recordings"):
        train([], TINY)
    ophys = mock_recording(seed=1, n_bins=300, modality="ophys")
    with pytest.raises(NeurPIRError, match="mix modalities"):
        train([recordings[0], ophys], TINY)
    copy = dataclasses.replace(recordings[0], source=dataclasses.replace(recordings[0].source, location="copy.nwb"))
    with pytest.raises(NeurPIRError, match=r"^synthetic-m0-0.nwb and copy.nwb hold one recording \(NWB identifier "
                                           r"synthetic-m0-0, animal m0, session ses0, neurons of units\)"):
        train([recordings[0], copy], TINY)
    model = train(recordings, dataclasses.replace(TINY, max_steps=0), progress=False)
    with pytest.raises(NeurPIRError, match="trained on spikes"):
        model.embed(ophys)
    if not torch.cuda.is_available():
        with pytest.raises(NeurPIRError, match="device 'cuda': torch sees no CUDA GPU on this machine"):
            train(recordings, dataclasses.replace(TINY, device="cuda"), progress=False)


def test_calcium_recordings_train_and_embed() -> None:
    ophys = [mock_recording(seed=s, n_bins=300, modality="ophys") for s in range(2)]
    period = ophys[0].bin_size
    jittered = dataclasses.replace(ophys[1], bin_size=period * 1.0001)  # a frame period measured from timestamps
    model = train([ophys[0], jittered], dataclasses.replace(TINY, max_steps=5), progress=False)
    assert model.config.normalization == "neuron" and model.bin_size_ == pytest.approx(period * 1.00005)
    assert np.isfinite(model.embed(jittered, progress=False)).all()
    with pytest.raises(NeurPIRError, match=r"different bin sizes \(10 to 20 ms\); read them on one grid"):
        train([ophys[0], dataclasses.replace(ophys[1], bin_size=period * 2)], TINY, progress=False)


def test_resumed_run_matches_an_uninterrupted_one(recordings, tmp_path: Path) -> None:  # noqa: ANN001
    config = dataclasses.replace(TINY, max_steps=30, checkpoint_every=10)
    whole = train(recordings, config, out_dir=tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-00000020", "step-00000030"]
    (tmp_path / "checkpoints" / "LATEST").write_text("step-00000020")  # as if killed between steps 20 and 30
    resumed = train(recordings, dataclasses.replace(config, device="cpu"), out_dir=tmp_path, progress=False)
    assert resumed.training_summary_["steps"] == 30  # a runtime setting may change on resume
    for key, value in whole.encoder_.state_dict().items():
        torch.testing.assert_close(resumed.encoder_.state_dict()[key], value)
    damaged = tmp_path / "checkpoints" / "step-00000030" / "training.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:-8] + b"\0" * 8)  # the latest checkpoint is damaged
    with pytest.warns(UserWarning, match=r"does not match its checksum .*; trying the checkpoint before it"):
        again = train(recordings, config, out_dir=tmp_path, progress=False)  # resumes from step 20
    for key, value in whole.encoder_.state_dict().items():
        torch.testing.assert_close(again.encoder_.state_dict()[key], value)
    with pytest.raises(NeurPIRError, match="different settings"):
        train(recordings, dataclasses.replace(config, hidden_dim=16), out_dir=tmp_path, progress=False)
    with pytest.raises(NeurPIRError, match="the checkpoint is at step 30, past max_steps 20"):
        train(recordings, dataclasses.replace(config, max_steps=20), out_dir=tmp_path, progress=False)
    coarser = [dataclasses.replace(r, bin_size=0.02) for r in recordings]  # as if read with --bin-size 0.02
    with pytest.raises(NeurPIRError, match=r"different settings \(bin size 10 ms, now 20 ms\)"):
        train(coarser, config, out_dir=tmp_path, progress=False)
    fewer = [recordings[0].select_neurons(np.arange(recordings[0].n_neurons) > 0), *recordings[1:]]  # a --filter
    with pytest.raises(NeurPIRError, match="other recordings or other neurons of them"):
        train(fewer, config, out_dir=tmp_path, progress=False)


def _with_a_spike_moved(recording: Recording) -> Recording:
    """The recording with one spike of its first neuron moved to another bin (same neurons, bins and spike count)."""
    activity = recording.activity.copy()
    first, empty = np.flatnonzero(activity[0])[0], np.flatnonzero(activity[0] == 0)[0]
    activity[0, first] -= 1
    activity[0, empty] += 1
    return dataclasses.replace(recording, activity=activity)


def test_the_summary_says_what_each_run_trained_and_changed_activity_is_not_resumed(
        recordings, earlier_release_folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    config = dataclasses.replace(TINY, max_steps=10, checkpoint_every=5)
    fresh = train(recordings, config, out_dir=tmp_path / "model", progress=False)
    saved = json.loads((tmp_path / "model" / "model.json").read_text())["training"]
    assert {key: fresh.training_summary_[key] for key in THIS_RUN} == {"resumed_from_step": None,
                                                                       "steps_this_run": 10}
    assert not set(THIS_RUN) & set(saved)  # what one call did is not part of the model
    assert [s["n_bins"] for s in saved["sessions"]] == [300, 300]
    assert len({s["activity_sha256"] for s in saved["sessions"]}) == 2
    (tmp_path / "model" / "checkpoints" / "LATEST").write_text("step-00000005")  # as if killed after step 5
    resumed = train(recordings, config, out_dir=tmp_path / "model", progress=False)
    assert (resumed.training_summary_["resumed_from_step"], resumed.training_summary_["steps_this_run"]) == (5, 5)
    again = train(recordings, config, out_dir=tmp_path / "model", progress=False)
    assert (again.training_summary_["resumed_from_step"], again.training_summary_["steps_this_run"]) == (10, 0)
    changed = [recordings[0], _with_a_spike_moved(recordings[1])]
    with pytest.raises(NeurPIRError) as error:
        train(changed, dataclasses.replace(config, max_steps=12), out_dir=tmp_path / "model", progress=False)
    assert error.value.message.startswith(
        f"the activity of {recordings[1].source.label()} changed since the checkpoint was made (same "
        f"{recordings[1].n_neurons} neurons and 300 bins, other values); train into another output folder; "
        "--no-resume (resume=False) trains again")
    longer = [recordings[0], mock_recording(seed=1, n_bins=301, subject_id="m1")]  # same neurons, one bin more
    with pytest.raises(NeurPIRError, match=r"changed since the checkpoint was made \(300 bins, now 301\)"):
        train(longer, config, out_dir=tmp_path / "model", progress=False)
    earlier = shutil.copytree(earlier_release_folder, tmp_path / "earlier")  # no fingerprints: resumed as before
    extended = train(changed, dataclasses.replace(TINY, max_steps=8, predict_weight=0.0), out_dir=earlier,
                     progress=False)
    assert (extended.training_summary_["resumed_from_step"], extended.training_summary_["steps"]) == (6, 8)


def test_a_checkpoint_of_an_earlier_release_resumes_with_the_values_it_was_trained_with(
        recordings, earlier_release_folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    folder = shutil.copytree(earlier_release_folder, tmp_path / "model")
    with pytest.raises(NeurPIRError) as error:  # predict_weight is 50 now, the checkpoint was trained without it
        train(recordings, dataclasses.replace(TINY, max_steps=8), out_dir=folder, progress=False)
    assert error.value.message == (
        "the checkpoint was made with different settings (predict_weight); continue it with the saved ones "
        f"(--set predict_weight=0.0) or use another output folder; --no-resume (resume=False) trains again from "
        f"scratch and replaces the model in {folder}")
    kept = train(recordings, dataclasses.replace(TINY, max_steps=None, predict_weight=0.0), out_dir=folder,
                 progress=False)  # no max_steps: the checkpoint's 6, not today's default for the modality (400)
    assert (kept.config.max_steps, kept.training_summary_["steps_this_run"]) == (6, 0)
    extended = train(recordings, dataclasses.replace(TINY, max_steps=8, predict_weight=0.0), out_dir=folder,
                     progress=False)
    assert extended.training_summary_["steps"] == 8 and extended.config.predict_weight == 0.0


def test_extending_a_checkpoint_of_an_earlier_release_records_and_compares_its_unrecorded_run(
        recordings, earlier_release_folder: Path, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    folder = shutil.copytree(earlier_release_folder, tmp_path / "model")
    with caplog.at_level(logging.WARNING):
        train(recordings, dataclasses.replace(TINY, max_steps=8, predict_weight=0.0), out_dir=folder, progress=False)
    assert "extending a training of max_steps 6 to 8: the learning-rate schedule" in caplog.text
    assert "resuming with" not in caplog.text  # its threads, device and processes are unknown, not different
    runs = json.loads((folder / "model.json").read_text())["training"]["runs"]
    assert runs[0] == {"start_step": 0, "end_step": 6, "max_steps": 6, "threads": None, "device": None,
                       "world_size": None, "software": {"nwb-neurpir": "an earlier release"}}
    assert [(r["start_step"], r["end_step"], r["max_steps"], r["threads"]) for r in runs[1:]] == [(6, 8, 8, 1)]


def _with_a_state_key_added_later(folder: Path, package_version: str) -> None:
    """Make the latest checkpoint of ``folder`` look written by nwb-neurpir ``package_version`` with a trainer
    state key this release does not know."""
    checkpoint = latest_checkpoint(folder / "checkpoints")
    files = read_folder(checkpoint, TRAINING_FILES)[0]
    files["model.json"]["package_version"] = package_version
    files["trainer.json"]["state"]["added_later"] = []
    write_folder(checkpoint, files)


def test_a_checkpoint_of_a_newer_release_is_refused_in_one_line(
        recordings, earlier_release_folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    newer = f"{int(__version__.split('.')[0]) + 1}.0.0"
    config = dataclasses.replace(TINY, max_steps=8, predict_weight=0.0)
    folder = shutil.copytree(earlier_release_folder, tmp_path / "newer")
    _with_a_state_key_added_later(folder, newer)
    with pytest.raises(NeurPIRError) as error:
        train(recordings, config, out_dir=folder, progress=False)
    assert error.value.message == (
        f"this model was made by nwb-neurpir {newer} and this is nwb-neurpir {__version__}: upgrade nwb-neurpir to "
        f"read it and continue its training; --no-resume (resume=False) trains again from scratch and replaces the "
        f"model in {folder}")
    folder = shutil.copytree(earlier_release_folder, tmp_path / "same")
    _with_a_state_key_added_later(folder, __version__)
    with pytest.raises(NeurPIRError, match=r"trainer.json has unknown state keys added_later$"):
        train(recordings, config, out_dir=folder, progress=False)


def test_sigterm_saves_a_checkpoint_of_the_step_it_stops_at(recordings, tmp_path: Path,  # noqa: ANN001
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from nwb_neurpir.model import trainer

    config = dataclasses.replace(TINY, max_steps=30, checkpoint_every=100)
    original = trainer._learning_rate

    def rate(config: NeurPIRConfig, step: int) -> float:
        if step == 7:
            signal.raise_signal(signal.SIGTERM)  # as a job scheduler stopping the run
        return original(config, step)

    monkeypatch.setattr(trainer, "_learning_rate", rate)
    with pytest.raises(NeurPIRError, match="stopped by SIGTERM at step 8; a checkpoint of that step is saved"):
        train(recordings, config, out_dir=tmp_path, progress=False)
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000008"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is gone with the run
    monkeypatch.setattr(trainer, "_learning_rate", original)
    whole = train(recordings, config, out_dir=tmp_path / "whole", progress=False)
    resumed = train(recordings, config, out_dir=tmp_path, progress=False)
    for key, value in whole.encoder_.state_dict().items():
        torch.testing.assert_close(resumed.encoder_.state_dict()[key], value)


KILL_SCRIPT = """
from nwb_neurpir.testing import mock_recording, tiny_config
from nwb_neurpir.model import NeurPIRConfig, train
recordings = [mock_recording(seed=s, n_bins=300, subject_id=f"m{{s % 2}}") for s in range(2)]
config = NeurPIRConfig.from_json({config!r})
train(recordings, config, out_dir={out!r}, progress=False)
"""


@pytest.mark.slow
def test_killed_training_resumes_from_the_last_complete_checkpoint(tmp_path: Path) -> None:
    config = dataclasses.replace(TINY, max_steps=60, checkpoint_every=5, num_threads=1)
    out = tmp_path / "model"
    script = KILL_SCRIPT.format(config=config.to_json(), out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        folder = latest_checkpoint(out / "checkpoints")
        if folder is not None and int(folder.name.split("-")[1]) >= 10:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    folder = latest_checkpoint(out / "checkpoints")
    assert folder is not None and not (out / "manifest.json").exists()
    killed_at = int(folder.name.split("-")[1])
    assert 10 <= killed_at < 60
    resumed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    model = NeurPIR.load(out)
    assert model.training_summary_["steps"] == 60
    assert not list((out / "checkpoints").glob(".*tmp*"))


def test_provenance_says_no_context_when_the_recordings_have_no_covariates(caplog) -> None:  # noqa: ANN001
    plain = [mock_recording(seed=s, n_bins=300, subject_id=f"m{s}", with_covariates=False) for s in range(2)]
    with caplog.at_level(logging.WARNING):
        model = train(plain, dataclasses.replace(TINY, context="cebra", max_steps=2), progress=False)
    assert model.context_ is None
    assert model.provenance().hyperparameters["context"] == "none"
    assert "training without context" in caplog.text


def test_small_recordings_still_hold_out_validation_neurons() -> None:
    small = [mock_recording(seed=s, n_per_kind=1, n_bins=300, subject_id=f"m{s % 3}") for s in range(12)]
    model = train(small, dataclasses.replace(TINY, max_steps=4, validation_fraction=0.1, validate_every=2),
                  progress=False)
    summary = model.training_summary_
    assert summary["n_validation_neurons"] == 4 and summary["n_train_neurons"] == 32
    assert all("validation" in entry for entry in summary["history"])


def test_rerunning_a_finished_training_leaves_the_model_as_it_was(recordings, tmp_path: Path) -> None:  # noqa: ANN001
    config = dataclasses.replace(TINY, max_steps=6, checkpoint_every=100)
    first = train(recordings, config, out_dir=tmp_path, progress=False)
    manifest = tmp_path / "manifest.json"
    written = manifest.stat().st_ino, manifest.read_bytes()
    final = json.loads((latest_checkpoint(tmp_path / "checkpoints") / "trainer.json").read_text())
    assert first.created_ == final["state"]["finished"]  # the time the final step was reached, kept in the checkpoint
    again = train(recordings, config, out_dir=tmp_path, progress=False)  # a requeued job: nothing left to train
    assert (manifest.stat().st_ino, manifest.read_bytes()) == written  # not even rewritten
    assert again.provenance().checkpoint_sha256 == first.provenance().checkpoint_sha256
    for name in ("manifest.json", "config.json", "model.json", "weights.safetensors"):
        (tmp_path / name).unlink()  # as if killed after the final checkpoint, before the model was saved
    resumed = train(recordings, config, out_dir=tmp_path, progress=False)
    assert manifest.read_bytes() == written[1]
    assert resumed.provenance().checkpoint_sha256 == first.provenance().checkpoint_sha256


def test_model_json_records_each_run_with_its_threads_schedule_and_software(recordings, tmp_path: Path,  # noqa: ANN001
                                                                             caplog) -> None:  # noqa: ANN001
    from importlib import metadata

    config = dataclasses.replace(TINY, max_steps=6, checkpoint_every=100)
    first = train(recordings, config, out_dir=tmp_path, progress=False)
    software = first.training_summary_["runs"][0]["software"]
    assert first.training_summary_["runs"] == [{"start_step": 0, "end_step": 6, "max_steps": 6, "threads": 1,
                                                "device": "cpu", "world_size": 1, "software": software}]
    assert software["torch"] == metadata.version("torch") and software["numpy"] == metadata.version("numpy")
    assert {"cebra", "scikit-learn", "pynwb", "python", "nwb-neurpir", "git_commit"} <= set(software)
    with caplog.at_level(logging.WARNING):  # extended to 10 steps, with another thread count
        extended = train(recordings, dataclasses.replace(config, max_steps=10, num_threads=2), out_dir=tmp_path,
                         progress=False)
    assert "extending a training of max_steps 6 to 10: the learning-rate schedule" in caplog.text
    assert "resuming with 2 threads (before: 1): thread count, device and processes change" in caplog.text
    runs = json.loads((tmp_path / "model.json").read_text())["training"]["runs"]
    assert [(r["start_step"], r["end_step"], r["max_steps"], r["threads"]) for r in runs] == [(0, 6, 6, 1),
                                                                                          (6, 10, 10, 2)]
    recorded = NeurPIR.load(tmp_path).provenance().hyperparameters["training"]  # what NWB files and reports get
    assert recorded["runs"] == runs and "history" not in recorded
    assert extended.training_summary_["steps"] == 10


def test_the_source_commit_is_recorded_only_for_the_package_checkout(tmp_path: Path) -> None:
    from nwb_neurpir.provenance import PACKAGE_ROOT, software_versions, source_commit

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_ROOT, capture_output=True, text=True)
    expected = head.stdout.strip() if (PACKAGE_ROOT / ".git").exists() and head.returncode == 0 else None
    commit = software_versions()["git_commit"]
    assert (commit if commit is None else commit.removesuffix("+dirty")) == expected
    assert source_commit(tmp_path) is None  # not a git checkout
    assert source_commit(PACKAGE_ROOT / "nwb_neurpir") is None  # inside one, but not its top


def _train_in_memory(out: Path, steps: int, headroom: str) -> str:
    done = subprocess.run([sys.executable, "-c", _MEMORY_LIMITED_TRAINING, str(out), str(steps), headroom],
                          capture_output=True, text=True, check=False, timeout=300,
                          env={**os.environ, "MALLOC_ARENA_MAX": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.slow
def test_running_out_of_memory_names_the_step_what_to_lower_and_the_checkpoint_kept(tmp_path: Path) -> None:
    # torch's allocator error was a 56-line traceback from loss.backward()
    out = tmp_path / "model"
    lower = ("a step's memory grows with its neurons and the length of their views: lower --batch-size (batch_size, "
             "600 now; e.g. 64) or --set segment_length_max=... (10 s now), or free memory")
    assert _train_in_memory(out, 2, "200") == f"{out}: out of memory in training step 1; {lower}; no checkpoint was " \
        "saved yet"
    assert _train_in_memory(out, 2, "-") == "trained"
    assert _train_in_memory(out, 4, "200") == (
        f"{out}: out of memory in training step 3; {lower}; the checkpoint of step 2 is kept: the same command "
        "resumes from it (another --batch-size needs --no-resume)")
    assert latest_checkpoint(out / "checkpoints").name == "step-00000002"

"""`neurpir train` and `neurpir embed` on small NWB files written by nwb_neurpir.testing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py

import numpy as np
import pandas as pd
import pytest
import torch
from reader_files import SECOND_SORTING, two_sortings_file
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.testing import make_spikes_nwbfile, tiny_config, write_nwbfile

runner = CliRunner()
TINY = tiny_config(segment_length_min=1.0, segment_length_max=4.0)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("nwb")
    return [write_nwbfile(make_spikes_nwbfile(n_units=12, duration=30.0, seed=s, subject_id=f"mouse{s}",
                                              session_id=f"ses{s}"), folder / f"s{s}.nwb") for s in range(2)]


@pytest.fixture(scope="module")
def model_dir(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    config = folder / "config.json"
    config.write_text(TINY.to_json())
    result = runner.invoke(app, ["train", *map(str, files), "--out", str(folder / "model"), "--config", str(config),
                                 "--max-steps", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "trained 4 steps on 2 recordings" in result.output
    assert "context: behavior/BehavioralTimeSeries/running_speed" in result.output
    return folder / "model"


def test_embed_writes_npz_and_json(model_dir: Path, files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "emb.npz"
    result = runner.invoke(app, ["embed", str(model_dir), *map(str, files), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    with np.load(out) as data:
        assert data["embeddings"].shape == (24, 8)
        assert list(data["neuron_ids"][:3]) == [0, 1, 2]
        assert set(data["subject_id"]) == {"mouse0", "mouse1"} and set(data["session_id"]) == {"ses0", "ses1"}
        assert set(data["source"]) == {str(path) for path in files}  # as --json names them
        assert list(data["brain_area"][:4]) == ["VISp", "CA1", "LGd", "MRN"]  # label columns, loadable without pickle
        assert data["quality"].shape == (24,) and data["brain_area"].dtype.kind == "U"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # written through a temporary file
    table = tmp_path / "emb.csv"
    result = runner.invoke(app, ["embed", str(model_dir), *map(str, files), "--out", str(table), "--no-progress"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(table)
    assert frame.shape[0] == 24 and frame["brain_area"].tolist()[:4] == ["VISp", "CA1", "LGd", "MRN"]
    assert list(frame.columns[:3]) == ["subject_id", "session_id", "neuron_id"] and "file" in frame
    with np.load(out) as data:
        np.testing.assert_allclose(frame[[f"embedding_{i}" for i in range(8)]].to_numpy(), data["embeddings"],
                                   rtol=1e-5, atol=1e-6)
    result = runner.invoke(app, ["embed", str(model_dir), str(files[0]), "--json", "--no-progress"])
    payload = json.loads(result.output)
    assert len(payload["recordings"][0]["embeddings"]) == 12 and len(payload["model_sha256"]) == 64
    assert "unit_names" not in payload["recordings"][0]  # only units with a unit_name column (Phy exports) have them


def test_embed_out_makes_missing_folders_and_refuses_an_unwritable_place_before_embedding(
        model_dir: Path, files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "newdir" / "x" / "e.npz"
    result = runner.invoke(app, ["embed", str(model_dir), str(files[0]), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    with np.load(out) as data:
        assert data["embeddings"].shape == (12, 8)
    assert [p.name for p in out.parent.iterdir()] == ["e.npz"]  # written through a temporary file
    (tmp_path / "a-file").write_text("")
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    (tmp_path / "newdir" / "x.npz").mkdir()
    for place, problem in ((tmp_path / "a-file" / "sub" / "e.csv", f"{tmp_path / 'a-file'} is a file, not a folder"),
                           (read_only / "sub" / "e.npz", f"folder {read_only} is not writable"),
                           (tmp_path / "newdir" / "x.npz", "is a folder")):
        result = runner.invoke(app, ["embed", str(model_dir), str(files[0]), "--out", str(place), "--no-progress"])
        assert result.exit_code == 1 and problem in result.output, result.output
        assert "neurons ->" not in result.output and len(result.output.strip().splitlines()) == 1  # before embedding
    assert list(read_only.iterdir()) == []


def test_embed_tables_keep_integer_label_columns_and_every_digit(model_dir: Path, tmp_path: Path) -> None:
    nwbfile = make_spikes_nwbfile(n_units=4, duration=30.0, seed=5)
    keys = np.array([123456789, 2**53 + 1, 10**17 + 3, 7], dtype=np.int64)  # beyond float64's exact integers
    nwbfile.units.add_column(name="cluster_id", description="spike sorter's key", data=keys)
    nwbfile.units.add_column(name="depth_um", description="depth", data=[1234.5678, 1 / 3, 2e-9 / 3, 0.1])
    source = write_nwbfile(nwbfile, tmp_path / "keys.nwb")
    npz, csv = tmp_path / "keys.npz", tmp_path / "keys.csv"
    for out in (npz, csv):
        result = runner.invoke(app, ["embed", str(model_dir), str(source), "--out", str(out), "--no-progress"])
        assert result.exit_code == 0, result.output
    frame = pd.read_csv(csv)
    with np.load(npz) as data:
        assert data["cluster_id"].dtype == np.int64 and data["cluster_id"].tolist() == keys.tolist()
        vectors = data["embeddings"]
    assert frame["cluster_id"].tolist() == keys.tolist() and set(frame["neuron_table"]) == {"units"}
    assert frame["depth_um"].tolist() == [1234.5678, 1 / 3, 2e-9 / 3, 0.1]
    np.testing.assert_array_equal(frame[[f"embedding_{i}" for i in range(8)]].to_numpy(np.float32), vectors)
    shown = runner.invoke(app, ["embed", str(model_dir), str(source), "--json", "--no-progress"])
    (recording,) = json.loads(shown.stdout)["recordings"]
    np.testing.assert_array_equal(np.asarray(recording["embeddings"], dtype=np.float32), vectors)  # not rounded


def test_mistakes_are_one_line_errors(model_dir: Path, files: list[Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["embed", str(tmp_path), str(files[0])])
    assert result.exit_code == 1 and "not a NeurPIR model folder" in result.output
    result = runner.invoke(app, ["embed", str(model_dir), str(files[0]), "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 1 and "--out must end in .npz, .csv, .tsv" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hidden_dims": 3}))
    result = runner.invoke(app, ["train", str(files[0]), "--out", str(tmp_path / "m"), "--config", str(bad)])
    assert result.exit_code == 1 and "unknown config keys: hidden_dims" in result.output


@pytest.mark.parametrize(("setting", "message"), [
    ({"checkpoint_every": 0}, "checkpoint_every must be at least 1"),
    ({"validate_every": 0}, "validate_every must be at least 1"),
    ({"device": "gpu"}, "device must be auto, cpu, cuda, cuda:N or mps"),
    ({"context_time_offsets": 0}, "context_time_offsets must be at least 1"),
    ({"context_batch_size": 0}, "context_batch_size must be at least 1"),
    ({"context_temperature": 0.0}, "context_temperature must be positive"),
    ({"context_learning_rate": -1}, "context_learning_rate must be positive"),
])
def test_a_bad_setting_is_refused_before_training(files: list[Path], tmp_path: Path, setting: dict,
                                                  message: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"max_steps": 5, **setting}))
    result = runner.invoke(app, ["train", str(files[0]), "--out", str(tmp_path / "m"), "--config", str(config)])
    assert result.exit_code == 1 and f"{config}: {message}" in result.output, result.output
    assert not (tmp_path / "m").exists()


def test_an_unknown_context_architecture_is_refused_before_the_sources_are_read(tmp_path: Path) -> None:
    missing = tmp_path / "never-read.nwb"
    result = runner.invoke(app, ["train", str(missing), "--out", str(tmp_path / "m"),
                                 "--set", "context_architecture=nonsense-model"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "unknown context_architecture 'nonsense-model'; CEBRA has offset10-model" in result.output


def test_a_diverged_context_fit_stops_training_without_a_model(files: list[Path], tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(TINY.to_json())
    result = runner.invoke(app, ["train", str(files[0]), "--out", str(tmp_path / "m"), "--config", str(config),
                                 "--set", "context_learning_rate=1e30", "--no-progress"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "the CEBRA context fit diverged (its weights are not finite)" in result.output
    assert not (tmp_path / "m" / "model.json").exists()


def test_set_changes_config_fields_over_the_config_file_and_under_the_explicit_options(files: list[Path],
                                                                                       tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**TINY.to_dict(), "max_steps": 7}))
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", *map(str, files), "--out", str(out), "--config", str(config),
                                 "--set", "max_steps=3", "--set", "context=none", "--set", "seed=5", "--seed", "1",
                                 "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["steps"] == 3 and report["context"] == []
    saved = json.loads((out / "config.json").read_text())
    assert (saved["max_steps"], saved["context"], saved["seed"]) == (3, "none", 1)
    result = runner.invoke(app, ["train", str(files[0]), "--out", str(tmp_path / "m2"), "--set", "max_step=3"])
    assert result.exit_code == 1 and "error: --set: unknown config keys: max_step" in result.output


def test_covariates_choose_what_the_context_reads_and_the_model_records_them(files: list[Path],
                                                                            tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(TINY.to_json())
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", *map(str, files), "--out", str(out), "--config", str(config),
                                 "--max-steps", "2", "--covariates", "trials/contrast, */running_*", "--json",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["context"] == ["behavior/BehavioralTimeSeries/running_speed", "trials/contrast"]
    assert json.loads((out / "config.json").read_text())["context_covariates"] == "trials/contrast, */running_*"
    result = runner.invoke(app, ["train", *map(str, files), "--out", str(tmp_path / "m2"), "--config", str(config),
                                 "--covariates", "wheel", "--no-progress"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "context_covariates: wheel matches none of the training recordings' covariates" in result.output
    assert "trials/feedback_type" in result.output


@pytest.mark.parametrize("command", ["embed", "annotate"])
def test_filter_help_says_it_changes_the_population_context_of_the_vectors(command: str) -> None:
    text = " ".join(runner.invoke(app, [command, "--help"], terminal_width=200).output.split())
    assert "filtering changes the vectors of the neurons kept" in text and "embed without --filter" in text


def test_train_help_and_readme_say_what_the_weights_depend_on_and_how_a_stopped_run_exits() -> None:
    import signal

    text = " ".join(runner.invoke(app, ["train", "--help"], terminal_width=200).output.split())
    assert "The weights depend on the order of the recordings" in text and "and on --threads" in text
    assert "exits with 130 or 143" in text
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    exit_codes = readme[readme.index("Exit codes:"):].split(". ")[0]
    assert f"{128 + signal.SIGINT} or {128 + signal.SIGTERM} (128 + the signal)" in exit_codes


def test_ctrl_c_stops_training_as_asked_and_the_rerun_says_it_resumes(files: list[Path], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from nwb_neurpir.model import trainer

    config = tmp_path / "config.json"
    config.write_text(TINY.to_json())
    original = trainer._learning_rate

    def rate(config, step: int) -> float:  # noqa: ANN001
        if step == 2:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C during the third step
        return original(config, step)

    monkeypatch.setattr(trainer, "_learning_rate", rate)
    command = ["train", *map(str, files), "--out", str(tmp_path / "model"), "--config", str(config), "--max-steps",
               "6"]
    stopped = runner.invoke(app, [*command, "--no-progress"])
    assert stopped.exit_code == 130  # what a shell expects after Ctrl-C, not a failure's 1
    assert "error" not in stopped.output and "stopped by SIGINT at step 3; a checkpoint of that step is saved" \
        in stopped.output
    monkeypatch.setattr(trainer, "_learning_rate", original)
    threads = torch.get_num_threads()
    resumed = runner.invoke(app, [*command, "--threads", "1", "--no-progress"])  # a runtime setting: allowed
    assert resumed.exit_code == 0, resumed.output
    assert torch.get_num_threads() == 1
    torch.set_num_threads(threads)
    assert f"resuming from {tmp_path / 'model' / 'checkpoints' / 'step-00000003'}\n" in resumed.output  # no bars


def test_train_says_what_this_run_did_and_refuses_to_resume_on_changed_spikes(files: list[Path],
                                                                              tmp_path: Path) -> None:
    data = shutil.copytree(files[0].parent, tmp_path / "data")
    config = tmp_path / "config.json"
    config.write_text(TINY.to_json())
    command = ["train", str(data), "--out", str(tmp_path / "model"), "--config", str(config), "--context", "none",
               "--no-progress"]
    reports = [json.loads(runner.invoke(app, [*command, "--max-steps", "4", "--json"]).stdout) for _ in range(2)]
    assert [(r["steps"], r["max_steps"], r["resumed_from_step"], r["steps_this_run"]) for r in reports] == [
        (4, 4, None, 4), (4, 4, 4, 0)]  # a fresh run, then the same command on the finished model
    complete = runner.invoke(app, [*command, "--max-steps", "4"])
    assert complete.stdout.startswith("already complete, 0 steps trained in this run: 4 of 4 steps on 2 recordings")
    extended = runner.invoke(app, [*command, "--max-steps", "6"])
    assert extended.stdout.startswith("resumed at step 4, trained 2 more: 6 of 6 steps on 2 recordings")
    changed = data / files[1].name
    with h5py.File(changed, "r+") as file:  # same identifier and units, other spikes
        spike_times = file["units/spike_times"]
        spike_times[:] = np.sort(np.random.default_rng(5).uniform(0.0, 30.0, spike_times.shape))
    refused = runner.invoke(app, [*command, "--max-steps", "8"])
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'model' / 'checkpoints' / 'step-00000006'}: the activity of {changed} changed since the "
        f"checkpoint was made (same 12 neurons and 3000 bins, other values); train into another output folder; "
        f"--no-resume (resume=False) trains again from scratch and replaces the model in {tmp_path / 'model'}")
    again = runner.invoke(app, [*command, "--max-steps", "8", "--no-resume", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["resumed_from_step"] is None


def test_verbose_training_logs_its_start_validations_and_checkpoints_in_plain_lines(files: list[Path],
                                                                                   tmp_path: Path) -> None:
    command = [sys.executable, "-m", "nwb_neurpir.cli", "train", *map(str, files), "--out", str(tmp_path / "model"),
               "--max-steps", "20", "--set", "validate_every=10", "--set", "checkpoint_every=10", "--set",
               "context_iterations=20", "--threads", "1"]
    logged = subprocess.run([*command[:3], "-v", *command[3:]], capture_output=True, text=True, timeout=600)
    assert logged.returncode == 0, logged.stderr[-2000:]
    lines = [line for line in logged.stderr.splitlines() if line.startswith("INFO nwb_neurpir.model.trainer: ")]
    messages = [line.split(": ", 1)[1] for line in lines]
    assert messages[0] == "training on 2 recordings, 24 neurons (2 held out for validation): 20 steps, 1 thread, " \
                          "device cpu"
    assert [m.split(":")[0] for m in messages[1:]] == ["step 10/20", "checkpoint of step 10 saved",
                                                       "step 20/20", "checkpoint of step 20 saved"]
    assert "training loss" in messages[1] and "validation loss" in messages[1] and "(best " in messages[1]
    assert messages[2].endswith(str(tmp_path / "model" / "checkpoints" / "step-00000010"))
    assert "\r" not in logged.stderr  # no progress bar where stderr is not a terminal
    quiet = subprocess.run([*command, "--no-resume"], capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0 and "INFO" not in quiet.stderr


def test_the_neuron_filter_is_recorded_by_train_and_by_annotate(model_dir: Path, files: list[Path],
                                                                 tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO

    keep = 'brain_area != "CA1"'
    config = tmp_path / "config.json"
    config.write_text(TINY.to_json())
    trained = runner.invoke(app, ["train", str(files[0]), "--out", str(tmp_path / "m"), "--config", str(config),
                                  "--max-steps", "2", "--context", "none", "--filter", keep, "--no-progress"])
    assert trained.exit_code == 0, trained.output
    sessions = json.loads((tmp_path / "m" / "model.json").read_text())["training"]["sessions"]
    assert [(s["unit_filter"], s["activity_series"]) for s in sessions] == [(keep, "units")]
    assert [(s["location"], s["neuron_table"]) for s in sessions] == [(str(files[0].resolve()), "units")]
    for name, options in (("filtered", ["--filter", keep]), ("whole", [])):
        annotated = runner.invoke(app, ["annotate", str(model_dir), str(files[0]), "--out", str(tmp_path / name),
                                        *options, "--no-progress"])
        assert annotated.exit_code == 0, annotated.output
    for name, expected in (("filtered", keep), ("whole", None)):
        with NWBHDF5IO(str(tmp_path / name / files[0].name), "r") as io:  # plain pynwb reads it
            model = io.read().processing["neurpir"]["NeurPIREmbeddings"].model
            assert json.loads(model.hyperparameters)["embedding"] == {"unit_filter": expected,
                                                                      "activity_series": "units"}
            assert (f"passing the filter {keep!r}" in model.description) == (expected is not None)


def test_series_names_the_units_table_of_a_second_sorting_for_train_annotate_and_read_back(
        model_dir: Path, tmp_path: Path) -> None:
    from nwb_neurpir.io.nwb_reader import read_nwb
    from nwb_neurpir.store import read_embeddings
    from nwb_neurpir.workflows.annotated import activity_source

    path = two_sortings_file(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(TINY.to_json())
    trained = runner.invoke(app, ["train", str(path), "--series", "units_ms5", "--out", str(tmp_path / "m"),
                                  "--config", str(config), "--max-steps", "2", "--context", "none", "--no-progress"])
    assert trained.exit_code == 0, trained.output
    sessions = json.loads((tmp_path / "m" / "model.json").read_text())["training"]["sessions"]
    assert [(s["n_neurons"], s["activity_series"]) for s in sessions] == [(4, SECOND_SORTING)]
    for options in ([], ["--series", "units_ms5", "--name", "ms5"]):  # both sortings' vectors in one file
        annotated = runner.invoke(app, ["annotate", str(model_dir), str(path), *options, "--no-progress"])
        assert annotated.exit_code == 0, annotated.output
    first, second = read_embeddings(path, "NeurPIREmbeddings"), read_embeddings(path, "ms5")
    assert (first.attrs["neuron_table"], list(first["neuron_id"])) == ("units", list(range(6)))
    assert (second.attrs["neuron_table"], list(second["neuron_id"])) == (SECOND_SORTING, [10, 11, 12, 13])
    assert second.attrs["model"]["hyperparameters"]["embedding"] == {"unit_filter": None,
                                                                     "activity_series": SECOND_SORTING}
    assert f"Spike times read from /{SECOND_SORTING}." in second.attrs["model"]["description"]
    source, reading = activity_source(path, neuron_table=SECOND_SORTING)  # what evaluate and the label probe read
    assert (source, reading) == (str(path), {"series": SECOND_SORTING})
    assert list(read_nwb(source, **reading).neuron_ids) == [10, 11, 12, 13]
    unknown = runner.invoke(app, ["embed", str(model_dir), str(path), "--series", "no_such_table", "--json",
                                  "--no-progress"])
    assert unknown.exit_code == 1 and "units table 'no_such_table' not found" in unknown.output


@pytest.mark.parametrize("command", ["embed", "annotate"])
def test_threads_set_the_torch_threads_a_command_embeds_with(command: str, model_dir: Path, files: list[Path],
                                                             tmp_path: Path, torch_threads: int) -> None:
    out = ["--out", str(tmp_path / ("e.npz" if command == "embed" else "annotated"))]
    result = runner.invoke(app, [command, str(model_dir), str(files[0]), *out, "--threads", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 1 != torch_threads
    text = " ".join(runner.invoke(app, [command, "--help"], terminal_width=200).output.split())
    assert "--threads <int range> CPU threads torch embeds with; 0: OMP_NUM_THREADS when set, else every CPU" in text

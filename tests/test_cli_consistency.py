"""The commands say what they do and agree with each other (issue #15, items 4 and 9-17; #18 item 8): warnings for
filled-in inputs, the model's creation time, torchrun summaries, `train --out` checked first, the model's modality
named, one option vocabulary with defaults in --help, bars that say what they do, and `inspect` telling files with
units from files without.

Commands run as real processes: cold (``python -m nwb_neurpir.cli``) where warnings or --help are checked, else forked
from a warm interpreter.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import h5py
import pytest

from dandi_server import LoopbackDandi
from hardening_support import CliForkServer, user_lines
from nwb_neurpir.store import read_embeddings
from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, write_nwbfile

pytest_plugins = ["hardening_fixtures", "dandi_fixtures"]


@pytest.fixture(scope="module")
def bare_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two spikes files without trials, stimulus or running speed (the tiny model's context inputs)."""
    folder = tmp_path_factory.mktemp("bare")
    for seed in (1, 2):
        write_nwbfile(make_spikes_nwbfile(n_units=10, duration=10.0, seed=seed, with_context=False,
                                          subject_id=f"m{seed}", session_id=f"s{seed}"), folder / f"s{seed}.nwb")
    return folder


def test_missing_context_inputs_warn_once_per_file_and_are_recorded(cli_server: CliForkServer, tiny_model: Path,
                                                                   bare_files: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(bare_files, tmp_path / "data"))
    done = cli_server.run(["annotate", tiny_model, data, "--progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    warnings = [line for line in user_lines(done.stderr) if "context inputs are missing" in line]
    assert len(warnings) == 2 and all(line.startswith("warning: ") for line in warnings), done.stderr
    assert "behavior/BehavioralTimeSeries/running_speed" in warnings[0]
    for path in sorted(data.glob("*.nwb")):
        description = read_embeddings(path).attrs["model"]["description"]
        assert "set to their training mean when embedding it: " in description
        assert "behavior/BehavioralTimeSeries/running_speed" in description


def test_the_model_is_dated_when_it_was_saved_not_when_it_annotates(cli_server: CliForkServer, tiny_model: Path,
                                                                   session_template: Path, tmp_path: Path) -> None:
    from nwb_neurpir.model import NeurPIR

    model = Path(shutil.copytree(tiny_model, tmp_path / "model"))  # a copy has new file times, same model
    made = NeurPIR.load(model).created_
    time.sleep(1.1)
    data = Path(shutil.copy(session_template, tmp_path / "session.nwb"))
    data.chmod(0o644)
    done = cli_server.run(["annotate", model, data, "--no-progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    created = read_embeddings(data).attrs["model"]["created"]
    assert datetime.fromisoformat(created) == datetime.fromisoformat(made)
    assert datetime.fromisoformat(created) < datetime.now(timezone.utc) - timedelta(seconds=1)


@pytest.mark.slow
def test_under_torchrun_only_rank_0_reports_with_the_saved_models_checksum(bare_files: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"hidden_dim": 8, "representation_dim": 8, "expander_dim": 16, "batch_size": 8,
                                  "segment_length_min": 0.5, "segment_length_max": 2.0, "num_threads": 1,
                                  "validation_fraction": 0.0, "context": "none"}))
    out = tmp_path / "model"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "nwb_neurpir.cli", "train",
                           str(bare_files), "--out", str(out), "--config", str(config), "--max-steps", "4",
                           "--no-progress"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [line for line in done.stdout.splitlines() if line.startswith("model: ")]
    assert len(summaries) == 1, done.stdout
    manifest_sha = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert f"sha256 {manifest_sha[:16]}" in summaries[0]


@pytest.mark.slow
def test_under_torchrun_ranks_other_than_0_show_no_bars_warnings_or_shared_errors(bare_files: Path,
                                                                                 tmp_path: Path) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"hidden_dim": 8, "representation_dim": 8, "expander_dim": 16, "batch_size": 8,
                                  "segment_length_min": 0.5, "segment_length_max": 2.0, "num_threads": 1,
                                  "validation_fraction": 0.0, "context": "cebra"}))  # the files have no covariates
    train = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
             "nwb_neurpir.cli", "train", str(bare_files), "--out", str(tmp_path / "model"), "--config", str(config),
             "--max-steps", "2", "--progress"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(train, capture_output=True, text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("reading:   0%") == 1  # one bar
    assert done.stderr.count("no covariates in the training recordings: training without context") == 1
    again = subprocess.run([*train, "--seed", "1"], capture_output=True, text=True, timeout=300, env=environment)
    assert again.returncode != 0
    assert again.stderr.count("error: ") == 1 and "made with different settings (seed" in again.stderr, again.stderr


def test_train_refuses_a_bad_out_before_reading_anything(cli_server: CliForkServer, tmp_path: Path) -> None:
    missing_source = tmp_path / "nothing-here"  # would fail too, but only once the sources are read
    a_file = tmp_path / "SOURCE.md"
    a_file.write_text("notes")
    done = cli_server.run(["train", missing_source, "--out", a_file], tmp_path / "logs")
    assert done.code == 1 and "--out must be a folder for the model, but this is a file" in done.stderr
    other = tmp_path / "analysis"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    done = cli_server.run(["train", missing_source, "--out", other], tmp_path / "logs")
    assert done.code == 1 and "not a model folder; choose a new or empty folder" in done.stderr
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_the_machine_lacks_is_one_line_before_reading_anything(cli_server: CliForkServer,
                                                                      tmp_path: Path) -> None:
    config = tmp_path / "gpu.json"
    config.write_text(json.dumps({"device": "cuda"}))
    missing_source = tmp_path / "nothing-here"  # would fail too, but only once the sources are read
    done = cli_server.run(["train", missing_source, "--out", tmp_path / "model", "--config", config], tmp_path / "logs")
    assert done.code == 1
    assert user_lines(done.stderr) == ["error: device 'cuda': torch sees no CUDA GPU on this machine; use device "
                                       "'auto' or 'cpu'"], done.stderr


def test_embedding_a_file_of_another_modality_blames_the_model(cli_server: CliForkServer, tiny_model: Path,
                                                              tmp_path: Path) -> None:
    ophys = write_nwbfile(make_ophys_nwbfile(n_rois=5, n_frames=100, with_context=False), tmp_path / "rois.nwb")
    for command in (["embed", tiny_model, ophys], ["annotate", tiny_model, ophys],
                    ["evaluate", ophys, "--label", "cell_type", "--model", tiny_model, "--no-progress"]):
        done = cli_server.run(command, tmp_path / "logs")
        text = done.stdout + done.stderr
        assert done.code == 1 and "the model was trained on spikes data, but this file holds ophys data only" in text
        assert "try modality" not in text and "--modality" not in text


def _help(command: str) -> str:
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", command, "--help"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", ["demo", "simulate", "inspect", "fetch", "train", "embed", "annotate", "predict",
                                     "evaluate", "plot"])
def test_every_command_has_the_same_progress_and_json_options(command: str) -> None:
    text = _help(command)
    assert "--progress / --no-progress" in text and "--json" in text
    if command not in ("demo", "simulate", "fetch"):
        assert "--filter" in text
    if command not in ("demo", "simulate", "plot"):  # plot reads local annotated files only
        assert "--cache-dir" in text


def test_one_output_option_name_and_defaults_in_help() -> None:
    from nwb_neurpir.model import NeurPIRConfig
    from nwb_neurpir.model.config import MODALITY_DEFAULTS

    annotate = _help("annotate")
    assert "-o, --out, --output-dir <path>" in annotate and "[default: 120.0;" in annotate
    assert "-o, --out, --output-dir <path>" in _help("predict")
    train = _help("train")
    defaults = NeurPIRConfig()
    steps = {modality: values["max_steps"] for modality, values in MODALITY_DEFAULTS.items()}
    assert f"(default: {steps['spikes']} for spikes, {steps['ophys']} for calcium," in " ".join(train.split())
    assert f"(default: {defaults.batch_size}," in train
    assert f"(default: {defaults.seed}," in train and f"(default: {defaults.context}," in train
    embed = _help("embed")
    spikes, ophys = (MODALITY_DEFAULTS[kind]["embed_max_seconds"] for kind in ("spikes", "ophys"))
    assert f"at most {spikes:g} s (spikes) or {ophys:g} s (calcium) of its activity" in " ".join(embed.split())


def test_bars_say_what_they_do_and_warnings_get_their_own_line(cli_server: CliForkServer, tiny_model: Path,
                                                               bare_files: Path, tmp_path: Path) -> None:
    done = cli_server.run(["embed", tiny_model, bare_files, "--progress", "--json"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    assert "embedding:" in done.stderr and "reading:" not in done.stderr
    lines = user_lines(done.stderr)
    assert [line for line in lines if "warning:" in line and not line.startswith("warning:")] == []
    assert any(line.startswith("warning:") for line in lines)


def test_wording_and_a_missing_model_folder(cli_server: CliForkServer, bare_files: Path, tmp_path: Path) -> None:
    done = cli_server.run(["inspect", bare_files / "s1.nwb", "--no-progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    assert "10 units with spike times from /units; observed 10.0 s in 1 window between " in done.stdout
    for command in (["embed", tmp_path / "no-model", bare_files],
                    ["evaluate", bare_files, "--label", "location", "--model", tmp_path / "no-model"]):
        missing = cli_server.run(command, tmp_path / "logs")
        assert missing.code == 1 and "no-model: model folder not found" in missing.stderr
        assert "manifest.json" not in missing.stderr


def test_inspect_says_per_file_whether_it_holds_units(cli_server: CliForkServer, tiny_model: Path,
                                                     bare_files: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(bare_files, tmp_path / "data"))
    lfp = Path(shutil.copy(data / "s1.nwb", data / "s1_probe-0_ecephys.nwb"))
    with h5py.File(lfp, "a") as file:
        del file["units"]
    done = cli_server.run(["inspect", data, "--json", "--no-progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    holds = {Path(s["source"]).name: s["holds"] for s in json.loads(done.stdout)}
    assert holds == {"s1.nwb": "units", "s1_probe-0_ecephys.nwb": "no units or ROIs", "s2.nwb": "units"}
    text = cli_server.run(["inspect", data, "--no-progress"], tmp_path / "logs")
    assert "s1_probe-0_ecephys.nwb\n  holds no units or ROIs: not read" in text.stdout
    embedded = cli_server.run(["embed", tiny_model, data, "--json", "--no-progress"], tmp_path / "logs")
    assert embedded.code == 0, embedded.stderr[-2000:]  # the LFP-only file is skipped, not an error
    assert len(json.loads(embedded.stdout)["recordings"]) == 2


def test_inspect_on_a_dandiset_finds_the_session_files_with_the_readme_glob(cli_server: CliForkServer, bare_files: Path,
                                                                            loopback_dandi: LoopbackDandi,
                                                                            tmp_path: Path) -> None:
    """DANDI:000021's layout: units in sub-<id>/sub-<id>_ses-<id>.nwb, LFP only in ..._probe-<id>_ecephys.nwb."""
    lfp = Path(shutil.copy(bare_files / "s1.nwb", tmp_path / "lfp.nwb"))
    with h5py.File(lfp, "a") as file:
        del file["units"]
    loopback_dandi.add_asset("sub-1/sub-1_ses-1.nwb", bare_files / "s1.nwb")
    loopback_dandi.add_asset("sub-1/sub-1_ses-1_probe-7_ecephys.nwb", lfp)
    env = {"NEURPIR_DANDI_API_URL": loopback_dandi.api_url, "NEURPIR_CACHE_DIR": str(tmp_path / "cache"),
           "NO_PROXY": "127.0.0.1,localhost", "DANDI_NO_ET": "1"}
    readme = cli_server.run(["inspect", f"DANDI:{loopback_dandi.dandiset}", "--glob", "sub-*/sub-*_ses-*.nwb",
                             "--json", "--no-progress"], tmp_path / "logs", env=env)
    assert readme.code == 0, readme.stderr[-2000:]
    holds = {s["source"].rsplit("/", 1)[-1]: s["holds"] for s in json.loads(readme.stdout)}
    assert holds == {"sub-1_ses-1.nwb": "units", "sub-1_ses-1_probe-7_ecephys.nwb": "no units or ROIs"}
    old = cli_server.run(["inspect", f"DANDI:{loopback_dandi.dandiset}", "--glob", "sub-*/*ecephys.nwb",
                          "--no-progress"], tmp_path / "logs", env=env)
    assert old.code == 0 and "holds no units or ROIs: not read" in old.stdout and "units with spike" not in old.stdout


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`neurpir inspect ... | head`: no 'error: Broken pipe' once the reader has closed the pipe."""
    recording = write_nwbfile(make_spikes_nwbfile(n_units=3, duration=5.0, seed=2), tmp_path / "x.nwb")
    process = subprocess.Popen([sys.executable, "-m", "nwb_neurpir.cli", "inspect", str(recording), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # gone before the command writes anything
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1 and stderr == ""


def test_an_unknown_modality_is_refused_before_any_file_is_read(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", "inspect", str(tmp_path / "missing.nwb"),
                           "--modality", "eeg"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr == "error: --modality must be one of auto, spikes, ophys, not 'eeg'\n"


def test_bars_are_drawn_on_a_terminal_or_when_asked_not_into_a_log_file(cli_server: CliForkServer, tiny_model: Path,
                                                                          bare_files: Path, tmp_path: Path) -> None:
    argv = ["embed", tiny_model, bare_files / "s1.nwb", "--json"]
    logged = cli_server.run(argv, tmp_path / "logs")  # stderr is a file here, as in a batch job
    assert logged.code == 0, logged.stderr[-2000:]
    assert "neuron/s]" not in logged.stderr  # no bar
    asked = cli_server.run(argv, tmp_path / "logs", env={"NEURPIR_PROGRESS": "1"})
    assert "neuron/s]" in asked.stderr
    forced = cli_server.run([*argv, "--progress"], tmp_path / "logs", env={"TQDM_DISABLE": "1"})
    assert "neuron/s]" in forced.stderr  # the flag wins over the environment

"""Model folders: round trip, and every kind of tampering refused without ever unpickling."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from nwb_neurpir import __version__
from nwb_neurpir.testing import mock_recording, tiny_config
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import NeurPIR, train
from nwb_neurpir.model.checkpoint import read_folder, upgrade_advice, write_checkpoint, write_folder, write_new_folder

TINY = tiny_config()


@pytest.fixture(scope="module")
def recording():  # noqa: ANN201
    return mock_recording(seed=3, n_bins=300)


@pytest.fixture(scope="module")
def model(recording):  # noqa: ANN001, ANN201
    return train([recording], TINY, progress=False)


@pytest.fixture()
def saved(model, tmp_path: Path) -> Path:  # noqa: ANN001
    return model.save(tmp_path / "model")


def _rewrite(folder: Path, name: str, data: bytes) -> None:
    """Replace a file and update the manifest so only the content check (not the checksum) can catch it."""
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_round_trip_gives_identical_embeddings(model, saved: Path, recording) -> None:  # noqa: ANN001
    loaded = NeurPIR.load(saved)
    assert loaded.config.hyperparameters() == model.config.hyperparameters()
    assert "num_threads" not in json.loads((saved / "config.json").read_text())
    assert loaded.context_ is not None and loaded.context_.columns == ["speed", "stimulus"]
    np.testing.assert_array_equal(loaded.embed(recording, progress=False), model.embed(recording, progress=False))
    provenance = loaded.provenance()
    assert provenance.checkpoint_sha256 == model.checkpoint_sha256_ != ""
    assert provenance.training_data == [recording.source.identifier]
    assert provenance.hyperparameters["hidden_dim"] == 8


def test_flipped_byte_is_rejected(saved: Path) -> None:
    weights = bytearray((saved / "weights.safetensors").read_bytes())
    weights[-5] ^= 0xFF
    (saved / "weights.safetensors").write_bytes(bytes(weights))
    with pytest.raises(NeurPIRError, match="does not match its checksum"):
        NeurPIR.load(saved)


def test_truncated_weights_are_rejected(saved: Path) -> None:
    data = (saved / "weights.safetensors").read_bytes()
    (saved / "weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(NeurPIRError, match="checksum"):
        NeurPIR.load(saved)
    _rewrite(saved, "weights.safetensors", data[: len(data) // 2])
    with pytest.raises(NeurPIRError, match="not a valid safetensors"):
        NeurPIR.load(saved)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.write_text, (self.marker, "pwned"))


def test_pickle_payload_is_never_executed(saved: Path, tmp_path: Path) -> None:
    marker = tmp_path / "executed.txt"
    payload = pickle.dumps({"encoder.input.weight": _Payload(marker)})
    torch_payload = tmp_path / "torch.pt"
    torch.save({"x": _Payload(marker)}, torch_payload)
    for data in (payload, torch_payload.read_bytes()):
        (saved / "weights.safetensors").write_bytes(data)
        with pytest.raises(NeurPIRError):
            NeurPIR.load(saved)
        _rewrite(saved, "weights.safetensors", data)  # checksum updated too: the parser must still refuse
        with pytest.raises(NeurPIRError, match="not a valid safetensors"):
            NeurPIR.load(saved)
    assert not marker.exists()


def test_a_config_with_runtime_settings_still_loads(saved: Path, model, recording) -> None:  # noqa: ANN001
    config = json.loads((saved / "config.json").read_text())
    config.update(num_threads=1, device="auto", checkpoint_every=200, embed_batch_size=64)  # as main wrote it
    _rewrite(saved, "config.json", json.dumps(config).encode())
    loaded = NeurPIR.load(saved)
    assert "num_threads" not in loaded.provenance().hyperparameters
    np.testing.assert_array_equal(loaded.embed(recording, progress=False), model.embed(recording, progress=False))


def test_unknown_config_key_is_refused(saved: Path) -> None:
    config = json.loads((saved / "config.json").read_text())
    config["exec"] = "rm -rf /"
    _rewrite(saved, "config.json", json.dumps(config).encode())
    with pytest.raises(NeurPIRError, match="unknown config keys: exec"):
        NeurPIR.load(saved)


@pytest.mark.parametrize(("entry", "value", "message"), [
    ("training", [1, 2], "model.json: training must be a JSON object, not [1, 2]"),
    ("training_data", "abc", 'model.json: training_data must be a list of strings, not "abc"'),
    ("created", 5, "model.json: created must be an ISO 8601 date and time, not 5"),
    ("bin_size", "0.01", 'model.json: bin_size must be a positive number of seconds or null, not "0.01"'),
])
def test_a_model_json_entry_of_the_wrong_type_is_named(saved: Path, entry: str, value: object, message: str) -> None:
    meta = json.loads((saved / "model.json").read_text())
    meta[entry] = value
    _rewrite(saved, "model.json", json.dumps(meta).encode())
    with pytest.raises(NeurPIRError) as error:
        NeurPIR.load(saved)
    assert str(error.value) == f"{saved}: {message}"


def test_wrong_shapes_are_refused(saved: Path, model) -> None:  # noqa: ANN001
    tensors = {k: v.clone() for k, v in model.files()["weights.safetensors"].items()}
    tensors["encoder.token.0.weight"] = torch.zeros(3, 3)
    save_file(tensors, saved / "new.safetensors")
    _rewrite(saved, "weights.safetensors", (saved / "new.safetensors").read_bytes())
    with pytest.raises(NeurPIRError, match="encoder.token.0.weight has shape"):
        NeurPIR.load(saved)


def test_config_that_does_not_match_weights_is_refused(saved: Path) -> None:
    config = json.loads((saved / "config.json").read_text())
    config["hidden_dim"] = 12
    _rewrite(saved, "config.json", json.dumps(config).encode())
    with pytest.raises(NeurPIRError, match="shape"):
        NeurPIR.load(saved)


def test_extra_or_missing_files_are_refused(saved: Path, tmp_path: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["files"]["../evil.json"] = "0" * 64
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NeurPIRError, match="unexpected files"):
        NeurPIR.load(saved)
    with pytest.raises(NeurPIRError, match="model folder not found"):
        NeurPIR.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NeurPIRError, match="manifest.json missing"):
        NeurPIR.load(tmp_path / "empty")


def test_a_file_a_newer_release_added_is_named_in_a_warning_and_not_read(saved: Path, recording) -> None:  # noqa: ANN001
    _rewrite(saved, "calibration.json", b"[" * 200_000)  # never parsed: a RecursionError if it were
    with pytest.warns(UserWarning, match=r"lists files this nwb-neurpir does not know \(calibration.json; from a "
                                         r"newer release\?\); they are not read"):
        loaded = NeurPIR.load(saved)
    assert loaded.embed(recording, progress=False).shape[0] == recording.n_neurons


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        file.truncate(size)
    return path


@pytest.mark.parametrize(("name", "plant", "message"), [
    ("weights.safetensors", lambda path: path.symlink_to("/dev/zero"), "is not a regular file (a character device)"),
    ("weights.safetensors", lambda path: path.symlink_to(_sparse(path.with_name("big.bin"), 40 << 30)),
     "weights.safetensors is too large (42949672960 bytes, at most 1073741824 expected)"),
    ("config.json", lambda path: os.mkfifo(path), "config.json is not a regular file (a FIFO)"),
    ("manifest.json", lambda path: os.mkfifo(path), "manifest.json is not a regular file (a FIFO)"),
    ("config.json", lambda path: path.write_bytes(b" " * (17 << 20)), "config.json is too large"),
])
def test_a_file_that_is_no_regular_file_or_too_large_is_refused_before_it_is_read(
        saved: Path, name: str, plant: object, message: str) -> None:
    (saved / name).unlink()
    plant(saved / name)
    with pytest.raises(NeurPIRError, match=re.escape(message)) as refused:
        NeurPIR.load(saved)
    assert refused.value.source == str(saved)


def test_json_nested_too_deeply_is_one_line_naming_the_file(saved: Path) -> None:
    _rewrite(saved, "config.json", b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(NeurPIRError, match=r"config.json is not valid JSON we can read \(nested too deeply\)") as deep:
        NeurPIR.load(saved)
    assert deep.value.source == str(saved)


def test_write_folder_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_folder(tmp_path / "f", {"a.json": {"x": 1}, "b.safetensors": {"t": torch.ones(2)}})
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["a.json", "b.safetensors", "manifest.json"]
    parsed, _ = read_folder(tmp_path / "f", ("a.json", "b.safetensors"))
    assert parsed["a.json"] == {"x": 1} and torch.equal(parsed["b.safetensors"]["t"], torch.ones(2))


def test_a_new_folder_is_renamed_into_place_and_an_existing_one_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "probes" / "f"
    sha = write_new_folder(folder, {"a.json": {"x": 1}})
    assert read_folder(folder, ("a.json",))[1] == sha
    with pytest.raises(FileExistsError):
        write_new_folder(folder, {"a.json": {"x": 2}})
    assert read_folder(folder, ("a.json",))[0]["a.json"] == {"x": 1}
    assert [p.name for p in folder.parent.iterdir()] == ["f"]  # no temporary folder beside it


def test_temporaries_of_an_interrupted_write_are_removed_by_the_next(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in (".a.json.tmp-4242", ".manifest.json.tmp-4242"):
        (folder / name).write_bytes(b"half")
    write_folder(folder, {"a.json": {"x": 1}})
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "manifest.json"]
    root = tmp_path / "checkpoints"
    root.mkdir()
    (root / ".LATEST.tmp-4242").write_bytes(b"step-")
    write_checkpoint(root, 3, {"a.json": {"x": 1}})
    assert sorted(p.name for p in root.iterdir()) == ["LATEST", "step-00000003"]


_LIMITED_CHECKPOINT = """import resource, signal, sys
from pathlib import Path
import torch
from nwb_neurpir.model.checkpoint import write_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # files may not grow past 100 kB: a full disk
try:
    write_checkpoint(Path(sys.argv[1]), 7, {"weights.safetensors": {"w": torch.zeros(100_000)}})
except OSError as error:
    print(error.strerror)
"""


def test_a_checkpoint_that_cannot_be_written_leaves_no_staging_folder(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    done = subprocess.run([sys.executable, "-c", _LIMITED_CHECKPOINT, str(root)], capture_output=True, text=True,
                          check=False)
    assert done.stdout.strip() == "File too large", done.stderr[-2000:]
    assert list(root.iterdir()) == []


def test_a_model_folder_of_the_previous_format_asks_for_retraining(saved: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["format"] = "nwb-neurpir-model/1"
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NeurPIRError, match="earlier nwb-neurpir .*train it again"):
        NeurPIR.load(saved)


NEWER = f"{int(__version__.split('.')[0]) + 1}.0.0"
"""A release after this one."""


def _written_by(folder: Path, version: str) -> None:
    meta = json.loads((folder / "model.json").read_text())
    meta["package_version"] = version
    _rewrite(folder, "model.json", json.dumps(meta).encode())


def test_a_model_of_a_newer_release_with_a_new_config_key_says_to_upgrade(saved: Path) -> None:
    _written_by(saved, NEWER)
    config = json.loads((saved / "config.json").read_text())
    config["added_later"] = False
    _rewrite(saved, "config.json", json.dumps(config).encode())
    with pytest.raises(NeurPIRError) as error:
        NeurPIR.load(saved)
    assert error.value.message == (f"this model was made by nwb-neurpir {NEWER} and this is nwb-neurpir {__version__}: "
                                   "upgrade nwb-neurpir to read it (unknown config keys: added_later)")


@pytest.mark.parametrize(("version", "message"), [
    (NEWER, f"this model was made by nwb-neurpir {NEWER} and this is nwb-neurpir {__version__}: upgrade nwb-neurpir "
            "to read it (format nwb-neurpir-model/3)"),
    (__version__, "manifest.json is not a nwb-neurpir-model/2 manifest"),
])
def test_a_newer_folder_format_says_to_upgrade_when_a_newer_release_wrote_it(saved: Path, version: str,
                                                                              message: str) -> None:
    _written_by(saved, version)
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["format"] = "nwb-neurpir-model/3"
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NeurPIRError) as error:
        NeurPIR.load(saved)
    assert error.value.message == message


@pytest.mark.parametrize(("theirs", "newer"), [("0.1.0", False), ("0.1", False), (__version__, False), (NEWER, True),
                                              (f"{NEWER}rc1", True), ("dev", False), (5, False)])
def test_only_a_later_release_is_advised_to_upgrade_to(theirs: object, newer: bool) -> None:
    assert (upgrade_advice(theirs) is not None) == newer


def test_a_folder_of_this_release_names_a_release_after_the_0_1_0_every_earlier_one_called_itself(
        saved: Path) -> None:
    from packaging.version import Version

    written = json.loads((saved / "model.json").read_text())["package_version"]
    assert written == __version__ and Version(written) > Version("0.1.0")
    assert upgrade_advice("0.1.0") is None  # their folders still load


def test_a_model_folder_whose_training_stopped_says_how_to_resume_it(model, tmp_path: Path) -> None:  # noqa: ANN001
    import nwb_neurpir as npir

    folder = tmp_path / "model"
    (folder / "checkpoints").mkdir(parents=True)
    for load in (NeurPIR.load, npir.NeurPIR.load):
        with pytest.raises(NeurPIRError, match=r"training has not finished \(no checkpoint yet\): .* restarts it"):
            load(folder)
    write_checkpoint(folder / "checkpoints", 50, model.files())
    for load in (NeurPIR.load, npir.NeurPIR.load):
        with pytest.raises(NeurPIRError) as error:
            load(folder)
        assert error.value.one_line() == (f"{folder}: its training has not finished (last checkpoint at step 50): "
                                          "running the same `neurpir train` command again (or NeurPIR.fit with this "
                                          "checkpoint_dir) resumes it")


def test_a_loaded_model_keeps_the_version_that_trained_it(saved: Path, tmp_path: Path) -> None:
    _written_by(saved, "0.0.9")
    loaded = NeurPIR.load(saved)
    assert loaded.provenance().package_version == "0.0.9"  # what NWB files and reports record, not this version
    assert loaded.provenance().checkpoint_sha256 == hashlib.sha256((saved / "manifest.json").read_bytes()).hexdigest()
    again = loaded.save(tmp_path / "again")
    assert json.loads((again / "model.json").read_text()) == json.loads((saved / "model.json").read_text())

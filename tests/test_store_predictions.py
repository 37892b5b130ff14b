"""``write_predictions`` / ``read_predictions``: predicted labels and class probabilities in NWB, atomic and readable
with plain pynwb, also in files written by earlier ndx-neurpir versions (0.1.0 to 0.2.2)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import validate

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import ProbeProvenance, read_embeddings, read_predictions, write_embeddings, write_predictions
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile
from store_helpers import PROVENANCE, cached_created_dtype, vectors

PROJECT_ROOT = Path(__file__).resolve().parents[1]
OLD_FILES = sorted((PROJECT_ROOT / "extensions/ndx-neurpir/src/pynwb/tests/old_versions").glob("ndx-neurpir-*.nwb"))
NAMESPACE_VERSION = "0.2.4"
PROBE = ProbeProvenance(kind="logistic", label="brain_area", class_names=["CA1", "VISp"],
                        training_data=["a.nwb", "b.nwb"], checkpoint_sha256="ef" * 32,
                        grouping={"name": "two", "groups": {"CA1": ["CA1"], "VISp": ["VISp"]}},
                        cross_animal_accuracy=0.75)

_CLEAN_READER = r"""
import json, sys, warnings
sys.modules["ndx_neurpir"] = None
sys.modules["nwb_neurpir"] = None
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r") as io:
    table = io.read().processing["neurpir"][sys.argv[2]]
    probe = table.probe
    def values(name):  # a field of 0.2.3, absent from the class made from an older cached spec
        data = getattr(probe, name, None)
        return None if data is None else [x if isinstance(x, (int, float)) else str(x) for x in data[:].tolist()]
    print(json.dumps({"type": type(table).__name__, "label": [str(x) for x in table["label"].data[:]],
                      "probability": table["probability"].data[:].tolist(),
                      "class_names": [str(x) for x in probe.class_names[:]],
                      "accuracy": probe.cross_animal_accuracy, "target": table["neurons"].table.name,
                      "model": table.model.checkpoint_sha256, "description": table.description,
                      "inputs": getattr(probe, "inputs", None),
                      **{name: values(name) for name in ("training_subjects", "class_counts", "held_out_subjects",
                                                         "held_out_accuracy")}}))
"""


def _clean_read(path: Path, name: str) -> dict:
    done = subprocess.run([sys.executable, "-I", "-c", _CLEAN_READER, str(path), name], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probabilities(n: int) -> np.ndarray:
    first = np.linspace(0.1, 0.9, n, dtype=np.float32)
    return np.stack([first, 1 - first], axis=1)


def test_predictions_round_trip_and_plain_pynwb(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=6, duration=10.0, seed=3, n_trials=4),
                         tmp_path / "a.nwb")
    ids = np.array([5, 0, 3])
    write_predictions(path, ids, _probabilities(3), PROBE, PROVENANCE, progress=False)
    frame = read_predictions(path)
    assert frame["neuron_id"].tolist() == [5, 0, 3]
    assert frame["label"].tolist() == ["VISp", "CA1", "CA1"]
    assert frame.attrs["class_names"] == ["CA1", "VISp"] and frame.attrs["probe"]["cross_animal_accuracy"] == 0.75
    assert frame.attrs["probe"]["grouping"]["groups"]["CA1"] == ["CA1"]
    assert validate(path=str(path)) == []
    seen = _clean_read(path, "predicted_brain_area")
    assert seen["type"] == "NeuronPredictions" and seen["target"] == "units"
    assert seen["label"] == ["VISp", "CA1", "CA1"] and seen["class_names"] == ["CA1", "VISp"]
    np.testing.assert_allclose(seen["probability"], _probabilities(3))
    assert seen["model"] == PROVENANCE.checkpoint_sha256 and seen["accuracy"] == 0.75


def test_existing_predictions_need_overwrite_and_file_stays_unchanged(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=10.0, seed=3, n_trials=4),
                         tmp_path / "a.nwb")
    write_predictions(path, [0, 1], _probabilities(2), PROBE, PROVENANCE, progress=False)
    before = path.read_bytes()
    with pytest.raises(NeurPIRError, match="already has predictions named 'predicted_brain_area'"):
        write_predictions(path, [0, 1], _probabilities(2)[:, ::-1], PROBE, PROVENANCE, progress=False)
    assert path.read_bytes() == before
    write_predictions(path, [0, 1], _probabilities(2)[:, ::-1], PROBE, PROVENANCE, overwrite=True, progress=False)
    assert read_predictions(path)["label"].tolist() == ["CA1", "VISp"]


def test_bad_probabilities_are_one_line_errors(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=10.0, seed=3, n_trials=4),
                         tmp_path / "a.nwb")
    with pytest.raises(NeurPIRError, match=r"a.nwb: probabilities have shape \(2, 3\)"):
        write_predictions(path, [0, 1], np.ones((2, 3)), PROBE, PROVENANCE, progress=False)
    with pytest.raises(NeurPIRError, match="has no NeurPIR predictions"):
        read_predictions(path)


@pytest.mark.parametrize("old_file", OLD_FILES, ids=[path.stem for path in OLD_FILES])
def test_predictions_into_a_file_of_an_earlier_extension_version(old_file: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(old_file, tmp_path / "old.nwb"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_predictions(path, [1, 2], _probabilities(2), PROBE, PROVENANCE, progress=False)
    assert not [w for w in caught if "cached namespace" in str(w.message)]  # its older ndx-neurpir is replaced quietly
    assert read_predictions(path, "predicted_brain_area")["neuron_id"].tolist() == [1, 2]
    embeddings = read_embeddings(path)
    np.testing.assert_array_equal(np.stack(embeddings["embedding"]), np.arange(24, dtype=np.float32).reshape(6, 4) / 10)
    assert embeddings.attrs["model"]["created"] == "2026-12-03T00:00:00+00:00"
    assert _clean_read(path, "predicted_brain_area")["label"] == ["VISp", "CA1"]
    with h5py.File(path, "r") as file:
        assert list(file["specifications/ndx-neurpir"]) == [NAMESPACE_VERSION]  # the earlier one dropped: no warnings
    assert cached_created_dtype(path) == "text"  # this version's spec, which pynwb before 3.0 reads


def test_predictions_next_to_embeddings_in_a_sidecar_label_table(tmp_path: Path) -> None:
    from nwb_neurpir.recording import SourceInfo
    from nwb_neurpir.store import write_sidecar

    source = write_nwbfile(make_spikes_nwbfile(n_units=5, duration=10.0, seed=3, n_trials=4),
                           tmp_path / "src.nwb")
    sidecar = write_sidecar(tmp_path / "side.nwb", SourceInfo(location=str(source)), [1, 3], vectors(2),
                            PROVENANCE)
    table = read_embeddings(sidecar).attrs["stored_table"]
    write_predictions(sidecar, [3, 1], _probabilities(2), PROBE, PROVENANCE, neuron_table=table, progress=False)
    assert read_predictions(sidecar)["neuron_id"].tolist() == [3, 1]


def test_predictions_never_take_the_name_of_another_tables_companion(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=10.0, seed=3, n_trials=4), tmp_path / "a.nwb")
    write_embeddings(path, [0, 1], vectors(2), PROVENANCE, progress=False)
    write_predictions(path, [0, 1], _probabilities(2), PROBE, PROVENANCE, progress=False)
    before = path.read_bytes()
    for name, owner in (("NeurPIREmbeddings_model", "NeurPIREmbeddings"),
                        ("predicted_brain_area_probe", "predicted_brain_area")):
        for overwrite in (False, True):
            with pytest.raises(NeurPIRError, match=f"processing/neurpir/{name} is the .* that processing/neurpir/"
                                                   f"{owner} links to"):
                write_predictions(path, [0, 1], _probabilities(2), PROBE, PROVENANCE, name=name,
                                  overwrite=overwrite, progress=False)
    assert path.read_bytes() == before
    assert read_predictions(path)["label"].tolist() == ["VISp", "CA1"]


RECORDED = ProbeProvenance(
    kind="logistic", label="brain_area", class_names=["CA1", "VISp"], training_data=["asset-1", "ID-2", "ID-3"],
    checkpoint_sha256="ef" * 32, cross_animal_accuracy=0.625, inputs="neurpir+hand",
    training_subjects=["m1", "m2", "m3"], training_sessions=["s1", "s2", "s3"], class_counts={"CA1": 40, "VISp": 25},
    fold_accuracy={"m1": 0.5, "m2": 0.75}, hand_features=["firing_rate", "burst_index"],
    labels_file_sha256="12" * 32, description="logistic probe predicting brain_area from NeurPIR embeddings and hand "
                                              "features (late fusion), fitted on 65 labelled neurons of 3 files.")

def test_the_probe_records_its_inputs_classes_folds_and_recordings(tmp_path: Path) -> None:
    from nwbinspector import inspect_nwbfile, load_config

    from store_helpers import serious_messages_about_ours

    path = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=10.0, seed=3, n_trials=4), tmp_path / "a.nwb")
    write_predictions(path, [0, 1, 2], _probabilities(3), RECORDED, PROVENANCE, progress=False)
    probe = read_predictions(path).attrs["probe"]
    assert probe["inputs"] == "neurpir+hand" and probe["labels_file_sha256"] == "12" * 32
    assert probe["training_data"] == ["asset-1", "ID-2", "ID-3"] and probe["training_subjects"] == ["m1", "m2", "m3"]
    assert probe["training_sessions"] == ["s1", "s2", "s3"] and probe["hand_features"] == ["firing_rate",
                                                                                           "burst_index"]
    assert probe["class_counts"] == {"CA1": 40, "VISp": 25} and probe["fold_accuracy"] == {"m1": 0.5, "m2": 0.75}
    seen = _clean_read(path, "predicted_brain_area")
    assert seen["inputs"] == "neurpir+hand" and seen["class_counts"] == [40, 25]
    assert seen["held_out_subjects"] == ["m1", "m2"] and seen["held_out_accuracy"] == [0.5, 0.75]
    assert seen["training_subjects"] == ["m1", "m2", "m3"]
    assert "from NeurPIR embeddings and hand features (late fusion)" in seen["description"]
    assert validate(path=str(path)) == []
    messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
    assert serious_messages_about_ours(messages) == []


def test_a_probe_that_records_nothing_more_leaves_the_optional_fields_out(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=10.0, seed=3, n_trials=4), tmp_path / "a.nwb")
    write_predictions(path, [0, 1], _probabilities(2), PROBE, PROVENANCE, progress=False)
    with h5py.File(path, "r") as file:
        stored = file["processing/neurpir/predicted_brain_area_probe"]
        assert sorted(stored) == ["class_names", "training_data"] and "inputs" not in stored.attrs
    probe = read_predictions(path).attrs["probe"]
    assert probe["inputs"] is None and probe["class_counts"] is None and probe["fold_accuracy"] is None


def test_training_subjects_must_match_the_training_recordings(tmp_path: Path) -> None:
    from dataclasses import replace

    path = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=10.0, seed=3, n_trials=4), tmp_path / "a.nwb")
    with pytest.raises(NeurPIRError, match="a.nwb: the probe's training_subjects has 2 entries for 3 training "
                                           "recordings"):
        write_predictions(path, [0, 1], _probabilities(2), replace(RECORDED, training_subjects=["m1", "m2"]),
                          PROVENANCE, progress=False)


def test_the_probability_of_the_predicted_label_is_a_column(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=6, duration=10.0, seed=3, n_trials=4), tmp_path / "a.nwb")
    write_predictions(path, [5, 0, 3], _probabilities(3), PROBE, PROVENANCE, progress=False)
    frame = read_predictions(path)
    np.testing.assert_allclose(frame["label_probability"], [0.9, 0.5, 0.9])  # a tie at 0.5 for the second: CA1
    assert frame["label"].tolist() == ["VISp", "CA1", "CA1"]


def test_predictions_written_by_0_2_2_read_without_the_fields_it_lacked() -> None:
    (path,) = [old for old in OLD_FILES if old.stem == "ndx-neurpir-0.2.2"]
    frame = read_predictions(path, "predicted_cell_type")
    assert frame["label"].tolist() == ["RS", "RS", "RS", "FS", "FS", "FS"]
    np.testing.assert_allclose(frame["label_probability"], [0.8, 0.7, 0.6, 0.5, 0.6, 0.7], rtol=1e-6)
    probe = frame.attrs["probe"]
    assert probe["cross_animal_accuracy"] == 0.5 and probe["training_data"] == ["old-version-fixture"]
    assert probe["inputs"] is None and probe["training_subjects"] is None and probe["fold_accuracy"] is None
    seen = _clean_read(path, "predicted_cell_type")
    assert seen["class_names"] == ["FS", "RS"] and seen["inputs"] is None and seen["class_counts"] is None

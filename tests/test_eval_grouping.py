"""Label grouping: the Steinmetz preset maps and drops with counts; grouping files are checked strictly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.evaluation.dataset import from_recordings
from nwb_neurpir.evaluation.evaluate import EvaluationWarning
from nwb_neurpir.evaluation.grouping import GROUPING_PRESETS, check_categorical, group_labels, load_grouping
from nwb_neurpir.io import open_recordings
from nwb_neurpir.recording import Recording
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile
from nwb_neurpir.workflows.probe import LabelProbe

CODES = [0, 1, 2, 3, 4] * 6
"""The label codes of the 30 units of each file of ``label_files``."""
MESSY = ["Pyr", " pyr ", "PYR", "PV", "unknown", "nan", "None", "n/a", "NULL", "NA"] * 3
"""The ``messy_type`` of the 30 units of each file: case variants, a deliberate class and missing placeholders."""


@pytest.fixture(scope="module")
def label_files(tmp_path_factory: pytest.TempPathFactory) -> list[Recording]:
    """Two animals' files whose ``type_code`` holds the same codes, as integers (m1) and as floats with two NaN
    (unlabelled) rows (m2), and with a ``messy_type`` text column, a continuous ``depth``, a ``unit_number``
    (different in every neuron) and a boolean ``is_fast``."""
    folder = tmp_path_factory.mktemp("labels")
    float_codes = np.asarray(CODES, dtype=float)
    float_codes[:2] = np.nan
    for seed, (subject, codes) in enumerate([("m1", np.asarray(CODES)), ("m2", float_codes)]):
        nwbfile = make_spikes_nwbfile(n_units=len(CODES), duration=5.0, seed=seed, subject_id=subject,
                                      with_context=False)
        nwbfile.units.add_column("type_code", "cell-type code", data=codes)
        nwbfile.units.add_column("messy_type", "cell type as typed by hand", data=MESSY)
        nwbfile.units.add_column("depth", "depth (um)", data=np.random.default_rng(seed).uniform(0, 3000, len(CODES)))
        nwbfile.units.add_column("unit_number", "unit number", data=np.arange(len(CODES)) + seed * len(CODES))
        nwbfile.units.add_column("is_fast", "fast-spiking", data=np.asarray(CODES) == 3)
        write_nwbfile(nwbfile, folder / f"{subject}.nwb")
    return list(open_recordings([folder], progress=False))


def test_steinmetz_preset_maps_drops_and_counts() -> None:
    preset = load_grouping("steinmetz-4region")
    assert preset is GROUPING_PRESETS["steinmetz-4region"]
    assert set(preset.groups) == {"MB", "VIS", "TH", "HPF"}
    assert preset.groups["TH"] == ("LP", "LD", "RT", "MD", "MG", "LGd", "VPM", "VPL", "PO", "POL")
    raw = ["VISp", "CA1", "LGd", "MRN", "root", "MOs", "root", None, float("nan"), "SCs", b"DG", " VISl "]
    grouped = group_labels(raw, preset)
    assert grouped.keep.tolist() == [True, True, True, True, False, False, False, False, False, True, True, True]
    assert grouped.labels.tolist() == ["VIS", "HPF", "TH", "MB", "MB", "HPF", "VIS"]
    assert grouped.dropped == {"<missing>": 2, "root": 2, "MOs": 1}
    assert grouped.n_dropped == 5


def test_no_grouping_keeps_every_present_label() -> None:
    grouped = group_labels(["FS", "RS", "", "RS"], None)
    assert grouped.labels.tolist() == ["FS", "RS", "RS"]
    assert grouped.dropped == {"<missing>": 1}


def test_integer_and_float_codes_of_one_label_are_one_class(label_files: list[Recording], tmp_path: Path) -> None:
    neurons = from_recordings(label_files, "type_code", None)
    assert neurons.classes == ("0", "1", "2", "3", "4")
    assert neurons.dropped == {"<missing>": 2}
    groupings = {".json": '{"exc": [0, 1, 2], "inh": [3, 4.0]}', ".yaml": "exc: [0, 1.0, 2]\ninh: [3, 4]\n"}
    for suffix, text in groupings.items():
        path = tmp_path / f"codes{suffix}"
        path.write_text(text)
        grouped = from_recordings(label_files, "type_code", load_grouping(path))
        assert grouped.classes == ("exc", "inh") and grouped.dropped == {"<missing>": 2}


def test_missing_placeholders_are_dropped_and_case_variants_named(label_files: list[Recording]) -> None:
    neurons = from_recordings(label_files, "messy_type", None)
    assert neurons.classes == ("PV", "PYR", "Pyr", "pyr", "unknown")
    assert neurons.dropped == {"<missing>": 30}
    assert neurons.label_values == {"PV": 6, "PYR": 6, "Pyr": 6, "pyr": 6, "unknown": 6}  # " pyr " is pyr
    with pytest.warns(EvaluationWarning, match="differ only by case, spacing or character width are separate classes: PYR / Pyr / pyr"):
        result = evaluate(label_files, label="messy_type", methods=["hand"], progress=False)
    assert sum("PYR / Pyr / pyr" in note for note in result.notes) == 1
    frame = pd.DataFrame({"subject_id": ["m1"] * 30 + ["m2"] * 30, "file": ["m1.nwb"] * 30 + ["m2.nwb"] * 30,
                          "embedding": list(np.random.default_rng(0).normal(size=(60, 3))), "messy_type": MESSY * 2})
    with pytest.warns(UserWarning, match="PYR / Pyr / pyr"):
        probe = LabelProbe("messy_type", inputs="neurpir").fit(frame)
    assert probe.classes_ == ["PV", "PYR", "Pyr", "pyr", "unknown"]


@pytest.mark.parametrize("label", ["depth", "unit_number"])
def test_continuous_or_identifier_labels_are_refused(label_files: list[Recording], label: str) -> None:
    message = f"label '{label}' has 60 distinct values for 60 labelled neurons: it looks continuous"
    with pytest.raises(NeurPIRError, match=message):
        evaluate(label_files, label=label, methods=["hand"], progress=False)
    frame = pd.DataFrame({"subject_id": np.repeat(["m1", "m2"], 30), "file": np.repeat(["m1.nwb", "m2.nwb"], 30),
                          "embedding": list(np.random.default_rng(0).normal(size=(60, 3))),
                          label: np.concatenate([r.neuron_metadata[label].to_numpy() for r in label_files])})
    with pytest.raises(NeurPIRError, match=message):
        LabelProbe(label, inputs="neurpir").fit(frame)


def test_booleans_codes_and_many_named_classes_are_categories(label_files: list[Recording]) -> None:
    assert from_recordings(label_files, "is_fast", None).classes == ("False", "True")
    areas = np.asarray([f"area{index}" for index in range(70)] * 10)  # ~70 Allen acronyms over many neurons
    check_categorical(areas, "brain_area")
    check_categorical(np.asarray([str(index % 100) for index in range(300)]), "code")
    check_categorical(np.asarray([f"{index / 2}" for index in range(20)] * 5), "half_steps")
    with pytest.raises(NeurPIRError, match="21 distinct values for 105"):
        check_categorical(np.asarray([f"{index / 2}" for index in range(21)] * 5), "half_steps")


@pytest.mark.parametrize("suffix, text", [
    (".yaml", "fast: [FS, LTS]\nregular: RS\n"),
    (".yml", "name: mine\ngroups:\n  fast: [FS, LTS]\n  regular: [RS]\n"),
    (".json", json.dumps({"groups": {"fast": ["FS", "LTS"], "regular": ["RS"]}})),
])
def test_grouping_files(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"types{suffix}"
    path.write_text(text)
    grouping = load_grouping(path)
    assert [grouping.group_of(value) for value in ("FS", "LTS", "RS", "CH")] == ["fast", "fast", "regular", None]
    assert group_labels(["FS", "CH", "RS"], grouping).labels.tolist() == ["fast", "regular"]


@pytest.mark.parametrize("name, content, message", [
    ("bad.yaml", "a: [x\n", "cannot parse"),
    ("bad.json", "{not json", "cannot parse"),
    ("list.yaml", "- a\n- b\n", "must map each group"),
    ("empty.yaml", "", "must map each group"),
    ("twice.yaml", "a: [x]\nb: [x]\n", "in two groups"),
    ("nogroup.yaml", "a: []\n", "at least one label value"),
    ("nested.yaml", "a: [[x]]\n", "not a label"),
    ("placeholder.yaml", "a: [x, N/A]\n", "not a label"),
    ("keys.yaml", "groups: {a: [x]}\nextra: 1\n", "unknown keys"),
])
def test_bad_grouping_files_give_one_line_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(NeurPIRError, match=message) as info:
        load_grouping(path)
    assert str(path) in info.value.one_line() and "\n" not in info.value.one_line()


def test_missing_binary_and_huge_grouping_files(tmp_path: Path) -> None:
    with pytest.raises(NeurPIRError, match="not a grouping preset"):
        load_grouping(tmp_path / "absent.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(np.random.default_rng(0).integers(128, 256, 64, dtype=np.uint8).tobytes())
    with pytest.raises(NeurPIRError, match="not UTF-8"):
        load_grouping(binary)
    huge = tmp_path / "huge.yaml"
    huge.write_text("a: [" + ", ".join(f"v{i}" for i in range(200_000)) + "]\n")
    with pytest.raises(NeurPIRError, match="larger than"):
        load_grouping(huge)


def test_yaml_values_stay_text_and_tags_build_nothing(tmp_path: Path) -> None:
    path = tmp_path / "retina.yaml"
    marker = tmp_path / "executed"
    path.write_text(f"on_cells: [ON, 'ON-OFF']\noff_cells: [OFF, NO, 1]\n"
                    f"other: !!python/object/apply:os.system ['touch {marker}']\n")
    grouping = load_grouping(path)
    assert grouping.groups["on_cells"] == ("ON", "ON-OFF")
    assert grouping.groups["off_cells"] == ("OFF", "NO", "1")
    assert not marker.exists()

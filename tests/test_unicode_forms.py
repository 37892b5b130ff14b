"""Text spelled in two Unicode forms -- ``ü`` precomposed (NFC, most editors) or ``u`` plus a combining diaeresis
(NFD, macOS file systems, some editors) -- is one animal, one class, one column, one key; full-width variants
(``ＣＡ１``) stay apart but are pointed out (real simulated NWB files, edited with h5py as other tools write them)."""

from __future__ import annotations

import shutil
import unicodedata
import warnings
from pathlib import Path

import pandas as pd
import pytest
from eval_files import TINY, add_unit_column, set_text, simulated_folder

import nwb_neurpir as npir
from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.io import open_recordings
from nwb_neurpir.workflows.labels_file import read_labels, relabel_recordings
from nwb_neurpir.workflows.prediction_checks import outside_classes_note


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


ZURICH = "Zürich-m1"
AREA = "área"
"""A column name, written NFC into the files."""
CORTEX, THALAMUS = "córtex visual", "tálamo"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three files of 25 neurons: two sessions of animal Zürich-m1, its id and the ``área`` values NFC in the first
    file and NFD in the second (a copy saved on a Mac), and animal m3."""
    data = simulated_folder(tmp_path_factory, seed=5, name="unicode")
    first, second, third = sorted(data.rglob("*.nwb"))
    for path, form, subject, session in ((first, nfc, ZURICH, "sessão 1"), (second, nfd, ZURICH, "sessão 2"),
                                         (third, nfc, "m3", "sessão 3")):
        set_text(path, "general/subject/subject_id", form(subject))
        set_text(path, "general/session_id", form(session))
        add_unit_column(path, nfc(AREA), [form(CORTEX if row % 2 else THALAMUS) for row in range(25)])
    return data


@pytest.fixture(scope="module")
def recordings(folder: Path) -> list:
    return list(open_recordings([folder], progress=False, keep_spike_times=True))


def test_one_animal_spelled_in_two_unicode_forms_is_one_animal(recordings: list) -> None:
    assert [recording.subject_id for recording in recordings] == [nfc(ZURICH), nfc(ZURICH), "m3"]
    result = evaluate(recordings, label="cell_type", methods=["hand"], progress=False)
    assert [fold.name for fold in result.folds] == [nfc(ZURICH), "m3"]
    assert sum(result.folds[0].test_counts.values()) == 50  # both sessions held out together: no leak
    for typed in (nfc(ZURICH), nfd(ZURICH)):  # --held-out typed either way
        held_out = evaluate(recordings, label="cell_type", methods=["hand"], held_out=[typed], progress=False)
        assert [fold.name for fold in held_out.folds] == [nfc(ZURICH)]


def test_label_values_in_two_unicode_forms_are_one_class(recordings: list) -> None:
    result = evaluate(recordings, label=AREA, methods=["hand"], progress=False)
    assert result.classes == (nfc(CORTEX), nfc(THALAMUS))
    assert result.n_labelled == 75
    assert not any("differ only by" in note for note in result.notes)
    for pattern in (nfc("córtex*"), nfd("córtex*")):  # a grouping written either way takes every spelling
        grouped = evaluate(recordings, label=AREA, methods=["hand"], progress=False,
                           grouping={"cortex": [pattern], "thalamus": [nfd(THALAMUS)]})
        assert grouped.classes == ("cortex", "thalamus") and grouped.n_labelled == 75


def test_a_column_name_typed_in_another_unicode_form_names_the_files_column(recordings: list) -> None:
    result = evaluate(recordings, label=nfd(AREA), methods=["hand"], progress=False)
    assert result.label == nfd(AREA) and result.n_labelled == 75
    stability = evaluate(recordings, match_column=nfd(AREA), methods=["hand"], progress=False)
    assert stability.stability is not None
    sheet = pd.DataFrame({"session_id": ["sessão 1"], "neuron_id": [0], nfd(AREA): ["opto+"]})  # --labels' header
    assert read_labels(sheet, AREA).table[AREA].tolist() == ["opto+"]


def test_labels_table_keys_match_in_any_unicode_form_and_with_surrounding_spaces(recordings: list,
                                                                                 tmp_path: Path) -> None:
    second = recordings[1]  # its session id is NFD in the file
    table = pd.DataFrame({"session_id": nfc("sessão 2") + " ", "neuron_id": [f" {n}" for n in second.neuron_ids],
                          AREA: "opto+"})
    path = tmp_path / "labels.csv"
    table.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # every row matches a neuron
        relabelled = relabel_recordings(recordings, read_labels(path, AREA))
    assert relabelled[1].neuron_metadata[AREA].tolist() == ["opto+"] * 25
    assert relabelled[0].neuron_metadata[AREA].isna().all()


def test_full_width_variants_stay_apart_with_a_note(folder: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(folder, tmp_path / "data"))
    first, second, third = sorted(data.rglob("*.nwb"))
    set_text(first, "general/subject/subject_id", "ｍ１")
    set_text(second, "general/subject/subject_id", "m1")
    for path, spelling in ((first, "ＣＡ１"), (second, "CA1"), (third, "CA1")):
        add_unit_column(path, "acronym", [spelling if row % 2 else "DG" for row in range(25)])
    result = evaluate(list(open_recordings([data], progress=False, keep_spike_times=True)), label="acronym",
                      methods=["hand"], progress=False)
    assert [fold.name for fold in result.folds] == ["ｍ１", "m1", "m3"]
    assert result.classes == ("CA1", "DG", "ＣＡ１")
    assert any("'m1' and 'ｍ１' differ only by case, punctuation, whitespace or character width" in note
               for note in result.notes)
    assert any("acronym values that differ only by case, spacing or character width are separate classes: CA1 / "
               "ＣＡ１" in note for note in result.notes)


def test_a_probe_and_a_plot_read_labels_and_columns_in_any_unicode_form(folder: Path, recordings: list,
                                                                         tmp_path: Path) -> None:
    from nwb_neurpir.model import train

    train(recordings, TINY, out_dir=tmp_path / "model", progress=False)
    npir.annotate(tmp_path / "model", folder, output_dir=tmp_path / "annotated", progress=False)
    files = sorted((tmp_path / "annotated").rglob("*.nwb"))
    probe = npir.LabelProbe(nfd(AREA), inputs="neurpir", grouping={"cortex": [nfc("córtex*")],
                                                                   "thalamus": [THALAMUS]}).fit(files)
    assert probe.class_counts_ == {"cortex": 36, "thalamus": 39}
    second = recordings[1]
    assert outside_classes_note(probe, second, second.neuron_ids) is None
    figure = npir.plot_embeddings(files, color_by=nfd(AREA), projection="pca")
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert sorted(legend) == [f"{nfc(CORTEX)} (36)", f"{nfc(THALAMUS)} (39)"]

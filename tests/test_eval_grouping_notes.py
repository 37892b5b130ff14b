"""Groupings of fine Allen acronyms (IBL style: layers, sub-areas, ``root``/``void``/empty, ``CA1``/``ca1``): wildcards,
duplicate keys, groupings given as dicts, and the notes and errors that say what a grouping did to the neurons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from eval_files import rendered

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.dataset import from_recordings
from nwb_neurpir.evaluation.evaluate import EvaluationWarning
from nwb_neurpir.evaluation.grouping import load_grouping
from nwb_neurpir.io import open_recordings
from nwb_neurpir.recording import Recording
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

ACRONYMS = ["VISp5", "VISp2/3", "CA1", "ca1", "CA3", "DG-mo", "LP", "PO", "MRN", "SCig", "root", "void", "", "MOs",
            "VISp5", "CA1", "LP", "MRN", "root", "MOs"] * 3
"""The ``acronym`` of the 60 units of each animal's file: per animal VISp5, CA1, LP, MRN, root and MOs 6 units each,
the others 3."""
COARSE = {"visual cortex": ["VIS*"], "hippocampus": ["CA*", "ca1", "DG*"], "thalamus": ["LP", "PO"],
          "midbrain": ["MRN", "SC*"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two animals' files whose units carry fine Allen acronyms in an ``acronym`` column."""
    folder = tmp_path_factory.mktemp("acronyms")
    for seed, subject in enumerate(["m1", "m2"]):
        nwbfile = make_spikes_nwbfile(n_units=len(ACRONYMS), duration=5.0, seed=seed, subject_id=subject,
                                      with_context=False)
        nwbfile.units.add_column("acronym", "Allen CCF acronym", data=ACRONYMS)
        write_nwbfile(nwbfile, folder / f"{subject}.nwb")
    return folder


@pytest.fixture(scope="module")
def recordings(folder: Path) -> list[Recording]:
    return list(open_recordings([folder], progress=False))


def _notes(recordings: list[Recording], grouping: object) -> list[str]:
    with pytest.warns(EvaluationWarning):
        return npir.evaluate(recordings, label="acronym", grouping=grouping, methods="hand", progress=False).notes


def test_a_preset_group_matching_no_neuron_unassigned_labels_and_dropped_spellings_are_noted(folder: Path,
                                                                                           tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = CliRunner().invoke(app, ["evaluate", str(folder), "--label", "acronym", "--grouping", "steinmetz-4region",
                                    "--methods", "hand", "--no-progress", "--no-plots", "--out", str(out)])
    assert done.exit_code == 0, done.output
    empty = ("group 'VIS' matches no labelled neuron (its values: VISp, VISrl, VISam, VISpm, VISl, VISa); values in "
             "no group include VISp5 (12), VISp2/3 (6), MOs (12), DG-mo (6), SCig (6), and 1 more values (6 neurons) "
             "('VISp*' would match VISp5); so 3 of the 4 groups of grouping steinmetz-4region are classes")
    unassigned = "left out as unassigned labels: 24 neurons whose acronym is root (12), void (6), empty or missing (6)"
    spelling = ("acronym values that differ only by case, spacing or character width are not grouped together by grouping "
                "steinmetz-4region: CA1 (in HPF) / ca1 (in no group: 6 neurons dropped)")
    outside = "grouping steinmetz-4region drops 48 neurons whose acronym is in no group: MOs 12, VISp5 12, DG-mo 6, "
    report = json.loads((out / "report.json").read_text())
    markdown = rendered((out / "report.md").read_text())
    for text in (done.output, markdown, "\n".join(report["notes"])):
        assert empty in text and unassigned in text and spelling in text and outside in text
        assert "separate classes" not in text and "root" not in text.split(outside)[1].split("\n")[0]
    assert report["classes"] == ["HPF", "MB", "TH"]


def test_without_a_grouping_root_and_void_are_classes_with_a_note(recordings: list[Recording]) -> None:
    notes = _notes(recordings, None)
    assert ("acronym root (12), void (6) usually mean unassigned (no area), yet each is a class here as every value "
            "is; a --grouping file leaves them out unless it lists them") in notes
    assert "acronym values that differ only by case, spacing or character width are separate classes: CA1 / ca1 (a --grouping file " \
           "can merge them)" in notes
    assert not any(note.startswith("left out as unassigned") for note in notes)


def test_a_dict_grouping_with_wildcards_rolls_fine_acronyms_up(recordings: list[Recording], tmp_path: Path) -> None:
    result = npir.evaluate(recordings, label="acronym", grouping=COARSE, methods="hand", progress=False)
    assert result.classes == ("hippocampus", "midbrain", "thalamus", "visual cortex")
    assert result.grouping == {"name": "custom", "groups": COARSE}
    assert result.folds[0].test_counts == {"hippocampus": 15, "midbrain": 9, "thalamus": 9, "visual cortex": 9}
    assert not any("differ only by case" in note or "matches no labelled neuron" in note for note in result.notes)
    assert "left out as unassigned labels: 24 neurons whose acronym is root (12), void (6), empty or missing (6)" \
        in result.notes
    grouping = npir.LabelGrouping("coarse", {group: tuple(values) for group, values in COARSE.items()})
    assert from_recordings(recordings, "acronym", grouping).classes == result.classes
    probe = npir.LabelProbe("acronym", {"name": "coarse", "groups": COARSE}, inputs="neurpir")
    assert probe.grouping == grouping and probe.name == "acronym-coarse"
    frame = pd.DataFrame({"subject_id": np.repeat(["m1", "m2"], 60), "file": np.repeat(["m1.nwb", "m2.nwb"], 60),
                          "embedding": list(np.random.default_rng(0).normal(size=(120, 3))), "acronym": ACRONYMS * 2})
    assert probe.fit(frame).classes_ == list(result.classes)
    with pytest.raises(NeurPIRError, match="^group 'a' must list at least one label value$"):
        npir.LabelProbe("acronym", {"a": [], "b": ["LP"]})


def test_a_label_two_groups_match_is_refused(recordings: list[Recording], tmp_path: Path) -> None:
    path = tmp_path / "overlap.json"
    path.write_text(json.dumps({"hippocampus": ["CA*"], "cortex": ["C*", "MOs"]}))
    with pytest.raises(NeurPIRError) as info:
        from_recordings(recordings, "acronym", load_grouping(path))
    assert info.value.one_line() == f"{path}: label value 'CA1' is in two groups ('hippocampus' and 'cortex')"
    with pytest.raises(NeurPIRError, match="^label value 'CA1' is in two groups"):
        npir.evaluate(recordings, label="acronym", grouping={"a": ["CA1"], "b": ["*1"]}, methods="hand",
                      progress=False)


@pytest.mark.parametrize("name, text, line", [
    ("twice.yaml", "hippocampus: [CA1, CA3]\nthalamus: [LP, PO]\nhippocampus: [SUB]\n", 3),
    ("nested.yaml", "name: mine\ngroups:\n  hippocampus: [CA1]\n  thalamus: [LP]\n  hippocampus: [CA3]\n", 5),
    ("twice.json", '{"hippocampus": ["CA1", "CA3"],\n "thalamus": ["LP"],\n "hippocampus": ["SUB"]}', 3),
])
def test_a_group_name_written_twice_is_refused(recordings: list[Recording], tmp_path: Path, name: str, text: str,
                                               line: int) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(NeurPIRError) as info:
        npir.evaluate(recordings, label="acronym", grouping=path, methods="hand", progress=False)
    assert info.value.one_line() == (f"{path}: key 'hippocampus' is written twice (line {line}): the last would "
                                     "silently replace the first; list all its values under one key")


def test_a_grouping_matching_no_label_is_blamed_on_itself(recordings: list[Recording], tmp_path: Path) -> None:
    path = tmp_path / "inverse.json"
    path.write_text(json.dumps({"CA1": "hippocampus", "LP": "thalamus", "MRN": "midbrain"}))
    with pytest.raises(NeurPIRError) as info:
        npir.evaluate(recordings, label="acronym", grouping=path, methods="hand", progress=False)
    assert info.value.one_line() == (
        f"{path}: none of the values of grouping 'inverse' matches any 'acronym' value of the data (13 distinct "
        "values, most common: CA1, LP, MOs, MRN, VISp5); its group names CA1, LP, MRN are acronym values: the "
        "mapping may be reversed (it must map each group name to a list of label values)")
    with pytest.raises(NeurPIRError, match="^none of the values of grouping 'custom' matches any 'acronym' value .*"
                                           r"most common: CA1, LP, MOs, MRN, VISp5\)$"):
        from_recordings(recordings, "acronym", load_grouping({"A": ["x"], "B": ["y"]}))


def test_spellings_a_grouping_puts_apart_are_named(recordings: list[Recording]) -> None:
    notes = _notes(recordings, {"hippocampus": ["CA1"], "thalamus": ["ca1", "LP"]})
    assert ("acronym values that differ only by case, spacing or character width are not grouped together by grouping custom: CA1 "
            "(in hippocampus) / ca1 (in thalamus) (list each spelling under its group)") in notes

"""A fold is transductive for a given model's vectors when the model was trained on the held-out animal's sessions
under other NWB identifiers: files re-exported by pynwb (``generate_new_id``) keep the activity, which model.json
fingerprints, and the animal's subject id, which it records too: a match by subject id alone makes the fold possibly
transductive (another lab's animal may share the id)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from eval_files import TINY
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.io import open_recordings
from nwb_neurpir.model import NeurPIR

COPY = "holds the activity of training session"


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A tiny model trained on sim01 and sim02 only: sim03 is an animal it never saw."""
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("model")
    train(list(open_recordings([simulated / "sub-sim01", simulated / "sub-sim02"], progress=False)), TINY,
          out_dir=folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def reexported(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """Every file exported by pynwb into another folder with a new NWB identifier."""
    from pynwb import NWBHDF5IO

    out = tmp_path_factory.mktemp("reexported")
    for path in sorted(simulated.rglob("*.nwb")):
        target = out / path.relative_to(simulated)
        target.parent.mkdir(parents=True, exist_ok=True)
        with NWBHDF5IO(str(path), "r") as source:
            nwbfile = source.read()
            old = nwbfile.identifier
            nwbfile.generate_new_id()  # new object ids
            nwbfile.fields["identifier"] = str(uuid.uuid4())  # and a new NWB identifier (no setter)
            with NWBHDF5IO(str(target), "w") as export:
                export.export(src_io=source, nwbfile=nwbfile)
        with NWBHDF5IO(str(target), "r") as check:
            assert check.read().identifier != old
    return out


def _evaluate(sources: Path, model_dir: Path, held_out: str) -> dict:
    done = CliRunner().invoke(app, ["evaluate", str(sources), "--model", str(model_dir), "--held-out", held_out,
                                    "--label", "cell_type", "--methods", "neurpir,hand", "--json", "--no-progress"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_a_held_out_animal_the_model_saw_under_other_identifiers_is_transductive(simulated: Path,  # noqa: F811
                                                                               model_dir: Path,
                                                                               reexported: Path) -> None:
    for sources in (simulated, reexported):
        payload = _evaluate(sources, model_dir, "sim01")
        assert payload["settings"]["inductive_folds"]["neurpir"] == []
        assert [m["mode"] for m in payload["methods"] if m["name"] == "neurpir"] == ["transductive"]
    (note,) = [note for note in payload["notes"] if "is transductive" in note]
    (session,) = NeurPIR.load(model_dir).training_summary_["sessions"][:1]
    assert note.startswith("fold sim01 is transductive for the model's vectors although its training data names "
                           f"none of the fold's files: sim01/sim01s01 {COPY} {session['key']} (")
    assert note.endswith("; animal sim01 is among the training sessions' subject ids")
    unseen = _evaluate(reexported, model_dir, "sim03")
    assert unseen["settings"]["inductive_folds"]["neurpir"] == ["sim03"]
    assert not [note for note in unseen["notes"] if "is transductive" in note]


def test_a_held_out_animal_among_the_training_subjects_is_possibly_transductive_whatever_its_activity(
        reexported: Path, model_dir: Path) -> None:
    recordings = list(open_recordings([reexported], unit_filter="neuron_id >= 2", progress=False))  # not the activity
    with pytest.warns(UserWarning, match="fold sim02 is possibly transductive"):
        result = evaluate(recordings, label="cell_type", model=NeurPIR.load(model_dir), held_out=["sim02"],
                          methods=["neurpir"], progress=False)
    assert result.methods[0].modes == ["possibly transductive"]  # the subject id alone: maybe another lab's sim02
    assert result.settings["inductive_folds"] == {"neurpir": []}
    (note,) = [note for note in result.notes if "is possibly transductive" in note]
    assert "animal sim02 is among the training sessions' subject ids, but none of the fold's recordings" in note
    assert COPY not in note

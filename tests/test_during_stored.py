"""Vectors stored in a file were made from the time their ``--during`` chose: the hand features read beside them
(``predict``, ``predict --fit-on``, ``evaluate`` on annotated files) read that time too, another ``--during`` is a
one-line error naming both; a resumed training keeps its checkpoint's ``--during``; ``inspect`` shows it. Real NWB
files written with pynwb, tiny trainings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import read_predictions
from nwb_neurpir.testing import tiny_config
from sleep_files import sleep_session

NREM, REM = "epochs:stage=NREM", "epochs:stage=REM"
runner = CliRunner()


@pytest.fixture(scope="module")
def sleep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The staged session, its NREM copy, a model folder trained during the NREM epochs, the staged session annotated
    with it during them (and during REM as ``REMemb``) and all the time."""
    folder = tmp_path_factory.mktemp("stored")
    staged, nrem = sleep_session(folder, "staged"), sleep_session(folder, "nrem")
    config = folder / "tiny.json"
    config.write_text(tiny_config(max_steps=2).to_json())
    trained = runner.invoke(app, ["train", str(staged), "--during", NREM, "--out", str(folder / "model"), "--config",
                                  str(config), "--no-progress"])
    assert trained.exit_code == 0, trained.output
    model = npir.NeurPIR.load(folder / "model")
    (during,) = npir.annotate(model, staged, output_dir=folder / "nrem-annotated", during=NREM, progress=False)
    npir.annotate(model, during.path, during=REM, name="REMemb", progress=False)
    (copy,) = npir.annotate(model, nrem, output_dir=folder / "copy-annotated", progress=False)
    (whole,) = npir.annotate(model, staged, output_dir=folder / "whole-annotated", progress=False)
    return {"staged": staged, "model": folder / "model", "config": config, "during": Path(during.path),
            "copy": Path(copy.path), "whole": Path(whole.path)}


@pytest.mark.filterwarnings("ignore::UserWarning")  # probes fitted and used on one session
def test_hand_features_beside_stored_vectors_read_their_time(sleep: dict[str, Path], tmp_path: Path) -> None:
    fitted = {name: npir.LabelProbe("cell_type").fit([sleep[name]], "NeurPIREmbeddings") for name in ("during",
                                                                                                       "copy")}
    np.testing.assert_allclose(*(probe.probes_["hand"].mean for probe in fitted.values()))
    probe = fitted["copy"]
    outcomes = {name: npir.predict(probe, sleep["during"], output_dir=tmp_path / name, during=during,
                                   progress=False)[0] for name, during in (("left out", None), ("given", NREM))}
    np.testing.assert_array_equal(*(np.stack(read_predictions(outcome.path)["probability"])
                                    for outcome in outcomes.values()))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("file", "during", "made"), [("during", REM, "made with --during epochs:stage=NREM"),
                                                      ("whole", NREM, "made from all the observed time")])
def test_predict_refuses_another_during_than_the_stored_vectors(sleep: dict[str, Path], tmp_path: Path, file: str,
                                                                during: str, made: str) -> None:
    probe = npir.LabelProbe("cell_type").fit([sleep["copy"]])
    with pytest.raises(NeurPIRError, match=rf"^{sleep[file]}: --during {during} contradicts the embeddings, "
                                           rf"{made}"):
        npir.predict(probe, sleep[file], output_dir=tmp_path, during=during, progress=False)


def test_predict_fit_on_refuses_another_during_than_the_stored_vectors(sleep: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    model = shutil.copytree(sleep["model"], tmp_path / "model")
    result = runner.invoke(app, ["predict", str(model), str(sleep["staged"]), "--fit-on", str(sleep["during"]),
                                 "--label", "cell_type", "--inputs", "neurpir", "--during", REM, "--output-dir",
                                 str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1
    assert (f"{sleep['during']}: --during {REM} contradicts the embeddings, made with --during {NREM}"
            in " ".join(result.output.split()))


def test_evaluate_refuses_another_during_than_the_named_stored_vectors(sleep: dict[str, Path]) -> None:
    result = runner.invoke(app, ["evaluate", str(sleep["during"]), "--label", "cell_type", "--methods",
                                 "neurpir,hand", "--embeddings", "REMemb", "--during", NREM, "--no-progress"])
    assert result.exit_code == 1
    assert (f"{sleep['during']}: --during {NREM} contradicts the embeddings, made with --during {REM}"
            in " ".join(result.output.split()))


def test_inspect_shows_the_during_of_each_embedding_table(sleep: dict[str, Path]) -> None:
    shown = runner.invoke(app, ["inspect", str(sleep["during"])])
    assert shown.exit_code == 0, shown.output
    assert f"embeddings neurpir/NeurPIREmbeddings: 10 neurons of /units during {NREM}, model" in shown.output
    assert f"embeddings neurpir/REMemb: 10 neurons of /units during {REM}, model" in shown.output
    as_json = runner.invoke(app, ["inspect", str(sleep["during"]), "--json"])
    (summary,) = json.loads(as_json.output)
    assert [table["during"] for table in summary["embeddings"]] == [NREM, REM]


def test_a_resumed_training_keeps_the_during_of_its_checkpoint(sleep: dict[str, Path], tmp_path: Path) -> None:
    resumed = shutil.copytree(sleep["model"], tmp_path / "resumed")
    result = runner.invoke(app, ["train", str(sleep["staged"]), "--out", str(resumed), "--max-steps", "3",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("resumed at step 2, trained 1 more")
    (session,) = json.loads((resumed / "model.json").read_text())["training"]["sessions"]
    assert session["during"] == NREM
    other = runner.invoke(app, ["train", str(sleep["staged"]), "--out", str(resumed), "--max-steps", "4",
                                "--during", REM, "--no-progress"])
    assert other.exit_code == 1
    assert (f"made with different settings (--during {NREM}, now {REM}); continue it with the saved ones "
            f"(--during {NREM})" in " ".join(other.output.split()))


def test_a_resumed_fine_tuning_names_its_origin_by_checksum(sleep: dict[str, Path], tmp_path: Path) -> None:
    tuned = tmp_path / "tuned"
    first = runner.invoke(app, ["train", str(sleep["staged"]), "--during", NREM, "--init-from", str(sleep["model"]),
                                "--out", str(tuned), "--max-steps", "2", "--no-progress"])
    assert first.exit_code == 0, first.output
    assert f"fine-tuned from: {sleep['model']} (sha256 " in first.output
    again = runner.invoke(app, ["train", str(sleep["staged"]), "--out", str(tuned), "--max-steps", "3",
                                "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "fine-tuned from: sha256 " in again.output and "None" not in again.output

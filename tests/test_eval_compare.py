"""Comparing models a collaborator sent: one --model per run (another model's vectors come in with --vectors from
`neurpir embed --out`, their folds inductive or transductive as for --model), a --bin-size the model cannot read named
as such, and another lab's animals that share subject ids with the training sessions called possibly transductive."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from eval_files import simulated_folder
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s
from test_eval_reexported import model_dir  # noqa: F401 - the fixture: a tiny model trained on sim01 and sim02
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app


def _evaluate(*args: str) -> dict:
    done = CliRunner().invoke(app, ["evaluate", *args, "--label", "cell_type", "--json", "--no-progress"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def _modes(report: dict) -> dict[str, list[str]]:
    return {method["name"]: method["modes"] for method in report["methods"]}


def test_a_repeated_model_is_refused_naming_the_way_to_compare(simulated: Path, model_dir: Path) -> None:  # noqa: F811
    done = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(model_dir),
                                    "--model", str(model_dir), "--no-progress"])
    assert done.exit_code == 1
    assert "--model is given 2 times; a run scores one model as method neurpir: compare another by embedding the " \
           "files with it (neurpir embed MODEL FILES --out NAME.npz) and adding --vectors NAME=NAME.npz" \
           in " ".join(done.output.split())


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_embeds_own_output_is_scored_as_vectors_with_the_models_modes(simulated: Path, model_dir: Path,  # noqa: F811
                                                                      tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"other{suffix}"
    done = CliRunner().invoke(app, ["embed", str(model_dir), str(simulated), "--out", str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
    report = _evaluate(str(simulated), "--model", str(model_dir), "--vectors", f"other={out}",
                       "--methods", "neurpir,other")
    modes = _modes(report)
    assert modes["other"] == modes["neurpir"] == ["transductive", "transductive", "inductive"]
    assert {models["other"] for models in report["settings"]["fold_models"].values()} == \
        {report["settings"]["model"]["checkpoint_sha256"]}
    assert report["settings"]["model"]["checkpoint_sha256"][:12] in report["methods"][1]["description"]


def test_vectors_of_an_older_embed_without_training_flags_are_of_unknown_mode(simulated: Path,  # noqa: F811
                                                                             model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "old.csv"
    assert CliRunner().invoke(app, ["embed", str(model_dir), str(simulated), "--out", str(out),
                                    "--no-progress"]).exit_code == 0
    table = pd.read_csv(out, dtype=str)
    assert {"model_sha256", "in_model_training"} <= set(table.columns)
    table.drop(columns=["in_model_training"]).to_csv(out, index=False)
    report = _evaluate(str(simulated), "--vectors", f"old={out}", "--methods", "old")
    assert _modes(report)["old"] == ["unknown"] * 3


def test_a_bin_size_the_model_was_not_trained_on_names_the_models_and_the_option(simulated: Path,  # noqa: F811
                                                                                 model_dir: Path) -> None:
    done = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(model_dir),
                                    "--bin-size", "0.02", "--no-progress"])
    assert done.exit_code == 1
    message = " ".join(done.output.split())
    assert "--bin-size 0.02 (bin_size=) is not the model's bin size: it was trained on 10 ms bins and embeds " \
           "recordings read on them only; give --bin-size 0.01, or leave --bin-size out" in message
    assert "read it with bin_size" not in message


def test_other_animals_with_the_training_subject_ids_are_possibly_transductive(
        model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other_lab = simulated_folder(tmp_path_factory, seed=11, name="other_lab")  # sim01..sim03 again: other animals
    report = _evaluate(str(other_lab), "--model", str(model_dir), "--methods", "neurpir,hand")
    assert _modes(report)["neurpir"] == ["possibly transductive", "possibly transductive", "inductive"]
    assert report["settings"]["inductive_folds"]["neurpir"] == ["sim03"]
    notes = " ".join(report["notes"])
    assert "fold sim01 is possibly transductive for the model's vectors: animal sim01 is among the training " \
           "sessions' subject ids, but none of the fold's recordings is a training session" in notes
    assert "read the fold as inductive if this is another animal" in notes
    assert not np.isnan(report["methods"][0]["pooled"]["balanced_accuracy"])

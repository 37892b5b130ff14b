"""Sharing a model: ``neurpir export`` writes a folder that loads and embeds as its source does, with a model card and
without checkpoints; ``--redact`` leaves no path or subject id in it while ``evaluate`` still recognises its training
recordings; ``inspect`` describes a model folder; a zip or a URL given as a model says what to do."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from eval_files import TINY
from test_eval_evaluate import simulated  # noqa: F401 - the fixture: 3 simulated animals x 25 neurons x 20 s
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.io import open_recordings
from nwb_neurpir.model import NeurPIR

SUBJECTS = ("sim01", "sim02")


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A tiny model trained on sim01 and sim02 (checkpoints kept), with a cell-type probe kept beside it."""
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("model")
    train(list(open_recordings([simulated / f"sub-{s}" for s in SUBJECTS], progress=False)), TINY, out_dir=folder,
          progress=False)
    annotated = tmp_path_factory.mktemp("annotated")
    npir.annotate(folder, [simulated / f"sub-{s}" for s in SUBJECTS], output_dir=annotated, progress=False)
    npir.LabelProbe("cell_type").fit([annotated]).save(folder / "probes" / "cell_type")
    return folder


def _run(*args: object) -> object:
    return CliRunner().invoke(app, [str(arg) for arg in args])


def _vectors(model: str | Path, sources: Path) -> list[np.ndarray]:
    loaded = NeurPIR.load(model)
    return [loaded.embed(recording, progress=False) for recording in open_recordings([sources], progress=False)]


def test_an_exported_model_loads_and_embeds_as_its_source(model_dir: Path, simulated: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    assert (model_dir / "checkpoints").is_dir()
    done = _run("export", model_dir, tmp_path / "shared")
    assert done.exit_code == 0, done.output
    out = tmp_path / "shared"
    assert sorted(path.name for path in out.iterdir()) == ["MODEL_CARD.md", "config.json", "manifest.json",
                                                           "model.json", "weights.safetensors"]
    assert NeurPIR.load(out).provenance().checkpoint_sha256 == NeurPIR.load(model_dir).provenance().checkpoint_sha256
    for ours, theirs in zip(_vectors(out, simulated / "sub-sim03"), _vectors(model_dir, simulated / "sub-sim03")):
        np.testing.assert_array_equal(ours, theirs)
    card = (out / "MODEL_CARD.md").read_text()
    assert f"made by nwb-neurpir {npir.__version__}" in card and "modality: spikes; bin size: 10 ms" in card
    assert "training data: 2 recordings, 50 neurons, 2 animals" in card and "animal sim01" in card
    assert "neurpir embed MODEL SOURCES" in card and "licence: not stated" in card
    again = _run("export", model_dir, tmp_path / "shared")
    assert again.exit_code == 1 and "already exists; give a new folder to export into" in again.output


def test_a_redacted_export_names_no_path_or_subject_and_evaluate_still_sees_its_training_data(
        model_dir: Path, simulated: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "public"
    npir.export_model(model_dir, out, redact=True, license="CC-BY-4.0", include_probes=True)
    written = {path: path.read_text() for path in out.rglob("*") if path.suffix in (".json", ".md")}
    assert out / "probes" / "cell_type" / "probe.json" in written
    for path, text in written.items():
        assert str(simulated) not in text and str(tmp_path.parent) not in text and "/tmp" not in text, path
        assert not any(subject in text for subject in SUBJECTS), path
    exported = NeurPIR.load(out)
    assert all(key.startswith("sha256:") for key in exported.training_data_)
    assert "licence: CC-BY-4.0" in written[out / "MODEL_CARD.md"]
    assert "2 recordings, 50 neurons, 2 animals (identifiers redacted" in written[out / "MODEL_CARD.md"]
    for ours, theirs in zip(_vectors(out, simulated / "sub-sim03"), _vectors(model_dir, simulated / "sub-sim03")):
        np.testing.assert_array_equal(ours, theirs)
    for held_out, folds in (("sim01", []), ("sim03", ["sim03"])):
        done = _run("evaluate", simulated, "--model", out, "--held-out", held_out, "--label", "cell_type",
                    "--methods", "neurpir", "--json", "--no-progress")
        assert done.exit_code == 0, done.output
        payload = json.loads(done.stdout)
        assert payload["settings"]["inductive_folds"]["neurpir"] == folds
        assert not [note for note in payload["notes"] if "names none of the fold's files" in note]  # named by hash
    npir.annotate(out, simulated / "sub-sim03", output_dir=tmp_path / "annotated", progress=False)
    (annotated,) = (tmp_path / "annotated").rglob("*.nwb")
    assert not any(name.encode() in annotated.read_bytes() for name in (*SUBJECTS, str(simulated)))
    predicted = npir.predict(out / "probes" / "cell_type", simulated / "sub-sim03", model=out,
                             output_dir=tmp_path / "predicted", progress=False)
    assert [outcome.n_neurons for outcome in predicted] == [25]


def test_inspect_describes_a_model_folder(model_dir: Path) -> None:
    done = _run("inspect", model_dir)
    assert done.exit_code == 0, done.output
    assert "NeurPIR model" in done.stdout and "modality: spikes; bin size: 10 ms" in done.stdout
    assert "checkpoints: steps" in done.stdout and "probes: cell_type" in done.stdout
    facts = json.loads(_run("inspect", model_dir, "--json").stdout)
    assert facts["bin_size_s"] == 0.01 and facts["training_data"]["n_animals"] == 2
    assert [row["subject_id"] for row in facts["training_data"]["recordings"]] == list(SUBJECTS)
    shown = repr(npir.NeurPIR.load(model_dir))
    assert "[fitted: spikes, 10 ms bins" in shown and "spikes, 10 ms bins" in repr(NeurPIR.load(model_dir))


def test_a_zipped_model_or_a_url_says_what_to_do(model_dir: Path, simulated: Path,  # noqa: F811
                                                 tmp_path: Path) -> None:
    archive = Path(shutil.make_archive(str(tmp_path / "model"), "zip", model_dir))
    assert zipfile.is_zipfile(archive)
    done = _run("embed", archive, simulated / "sub-sim03")
    assert done.exit_code == 1 and "is a zip archive, not a model folder: unzip it first" in done.output
    url = "https://example.org/models/m"
    done = _run("embed", url, simulated / "sub-sim03")
    assert done.exit_code == 1
    assert f"{url}: models are read from local folders, not URLs" in done.output


def test_a_redacted_export_of_a_fine_tuned_model_redacts_the_model_it_started_from(
        model_dir: Path, simulated: Path, tmp_path: Path) -> None:  # noqa: F811
    tuned_dir = tmp_path / "tuned"
    npir.NeurPIR.load(model_dir).set_params(max_steps=2).fit(simulated / "sub-sim03", warm_start=True,
                                                             checkpoint_dir=tuned_dir, progress=False)
    assert "sim01" in (tuned_dir / "model.json").read_text()  # the origin's training data, before redaction
    out = tmp_path / "public"
    npir.export_model(tuned_dir, out, redact=True)
    text = (out / "model.json").read_text()
    assert str(simulated) not in text and "/tmp" not in text
    assert not any(subject in text for subject in (*SUBJECTS, "sim03"))
    origin = json.loads(text)["training"]["initialized_from"]
    assert origin["sha256"] == NeurPIR.load(model_dir).checkpoint_sha256_
    assert origin["training_data"] and all(key.startswith("sha256:") for key in origin["training_data"])
    done = _run("evaluate", simulated, "--model", out, "--held-out", "sim01", "--label", "cell_type",
                "--methods", "neurpir", "--json", "--no-progress")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["settings"]["inductive_folds"]["neurpir"] == []  # seen through its origin


def test_where_a_fine_tuned_model_came_from_is_shown_wherever_it_is_described(
        model_dir: Path, simulated: Path, tmp_path: Path) -> None:  # noqa: F811
    """``inspect`` (text and --json), ``repr``, MODEL_CARD.md and report.md say which model it was fine-tuned from;
    a redacted export gives counts only."""
    tuned_dir = tmp_path / "tuned"
    npir.NeurPIR.load(model_dir).set_params(max_steps=2).fit(simulated / "sub-sim03", warm_start=True,
                                                             checkpoint_dir=tuned_dir, progress=False)
    origin = f"fine-tuned from {NeurPIR.load(model_dir).checkpoint_sha256_[:12]} ("
    said = f"{origin}{json.loads((model_dir / 'model.json').read_text())['training']['steps']} steps on 2 recordings"
    assert f"{said}, 2 animals)" in repr(npir.NeurPIR.load(tuned_dir))
    shown = _run("inspect", tuned_dir)
    assert shown.exit_code == 0 and f"origin: {said}, 2 animals)" in shown.output, shown.output
    facts = json.loads(_run("inspect", tuned_dir, "--json").stdout)["initialized_from"]
    assert [(f["n_recordings"], f["n_animals"]) for f in facts] == [(2, 2)]
    npir.export_model(tuned_dir, tmp_path / "public", redact=True)
    assert f"origin: {said})" in (tmp_path / "public" / "MODEL_CARD.md").read_text()
    done = _run("evaluate", simulated, "--model", tuned_dir, "--held-out", "sim01", "--label", "cell_type",
                "--methods", "neurpir", "--out", tmp_path / "report", "--no-plots", "--no-progress")
    assert done.exit_code == 0, done.output
    assert f"- {said}, 2 animals)" in (tmp_path / "report" / "report.md").read_text()

"""#15 for `evaluate` and `plot`: options that do nothing are refused, hand baselines need no embeddings, both
commands normalise the same way, reports name the model, figures stay readable (real files, real model)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from eval_files import TINY, set_text, simulated_folder
from hardening_support import CliForkServer, Finished
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.workflows.annotated import MovedSources, activity_source, read_annotated
from nwb_neurpir.workflows.plotting import annotated_view
from nwb_neurpir.evaluation.plots import MAX_CLASSES, top_categories
from nwb_neurpir.io import open_recordings

pytest_plugins = ["hardening_fixtures"]  # cli_server: `neurpir` commands forked from a warm interpreter


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_folder(tmp_path_factory, seed=7)


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("model")
    train(list(open_recordings([simulated], progress=False)), TINY, out_dir=folder, progress=False)
    return folder


def _annotated_into(folder: Path, simulated: Path, model_dir: Path, sidecar: bool) -> Path:
    """Every simulated file's embeddings written into a copy in ``folder``, or into sidecars there."""
    from nwb_neurpir.model import NeurPIR
    from nwb_neurpir.store import annotate_recording

    model = NeurPIR.load(model_dir)
    for recording in open_recordings([simulated], progress=False):
        annotate_recording(recording, model.embed(recording, progress=False), model.provenance(), output_dir=folder,
                           sidecar=sidecar, progress=False)
    return folder


@pytest.fixture(scope="module")
def annotated(simulated: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _annotated_into(tmp_path_factory.mktemp("annotated"), simulated, model_dir, sidecar=False)


@pytest.fixture(scope="module")
def sidecars(simulated: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _annotated_into(tmp_path_factory.mktemp("sidecars"), simulated, model_dir, sidecar=True)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny animals as spikes (``_ecephys.nwb``) and as calcium (``_ophys.nwb``), side by side."""
    from nwb_neurpir.simulate.nwb_output import write_dataset
    from nwb_neurpir.testing import tiny_population

    folder = tmp_path_factory.mktemp("mixed")
    write_dataset(folder, tiny_population(7), modality="both", progress=False)
    return folder


@pytest.fixture()
def neurpir(cli_server: CliForkServer, tmp_path: Path) -> Callable[..., Finished]:
    """Runs ``neurpir <args>`` as a process forked from the warm CLI server (no interpreter start-up per run)."""
    return lambda *args: cli_server.run(list(args), tmp_path / "outputs")


@pytest.mark.parametrize(("extra", "message"), [
    (["--max-steps", "5"], "--max-steps needs --train or --train-config"),
    (["--threads", "2"], "--threads needs --model, --train or --train-config"),
    (["--transductive"], "--transductive needs --train or --train-config"),
    (["--modality", "spikes"], "--modality (modality=) reads the recordings of --model or --train; annotated files "
                               "and hand baselines alone are read as they are: pick the neurons with --series "
                               "(series=: a PlaneSegmentation or RoiResponseSeries for calcium ROIs, a units table "
                               "for spikes; `neurpir inspect` names them)"),
    (["--folds", "3"], "--folds needs --split kfold"),
    (["--projection", "pca"], "--projection needs --out and figures"),
    (["--ablations"], "--ablations needs --train or --train-config"),
    (["--train", "--ablations", "--methods", "neurpir"],
     "--ablations adds the ablations to the default methods; with --methods name them there"),
    (["--split", "loo"], "--split must be one of animal, session, kfold, not 'loo'"),
    (["--probe", "svm"], "--probe must be one of logistic, knn, mlp, gb, not 'svm'"),
    (["--held-out", "sim09", "--methods", "hand"], "no fold holds out 'sim09'; the folds hold out sim01, sim02, sim03"),
    (["--held-out", "sim01", "--split", "kfold", "--methods", "hand"], "held-out animals need split 'animal' or "
                                                                      "'session' (k-fold mixes every animal into "
                                                                      "every fold)"),
])
def test_evaluate_refuses_options_that_do_nothing(simulated: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", *extra])
    assert result.exit_code == 1
    assert result.output == f"error: {message}\n"


def test_hand_baselines_need_no_model_or_embeddings(simulated: Path, neurpir: Callable[..., Finished]) -> None:
    shown = neurpir("evaluate", str(simulated), "--label", "cell_type", "--methods", "hand,hand:gb", "--json")
    assert shown.code == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert [m["name"] for m in payload["methods"]] == ["hand", "hand:gb"]
    assert payload["methods"][0]["pooled"]["n_scored"] == 75
    assert set(payload["timings"]) >= {"reading", "total"}
    assert payload["timings"]["total"] >= payload["timings"]["reading"]
    assert all(value == round(value, 1) for value in payload["timings"].values())
    one = neurpir("evaluate", str(simulated), "--label", "cell_type", "--methods", "hand", "--held-out", "sim02",
                  "--json")
    assert one.code == 0, one.stderr
    assert [fold["name"] for fold in json.loads(one.stdout)["folds"]] == ["sim02"]
    assert json.loads(one.stdout)["settings"]["command"].endswith("--held-out sim02 --json")
    assert json.loads(one.stdout)["methods"][0]["pooled"]["n_scored"] == 25


def test_evaluate_reads_the_hand_features_of_sidecars_from_their_sources(
        annotated: Path, sidecars: Path, neurpir: Callable[..., Finished]) -> None:
    scores = {}
    for folder in (annotated, sidecars):
        shown = neurpir("evaluate", str(folder), "--label", "cell_type", "--methods", "neurpir,hand", "--json")
        assert shown.code == 0, shown.stderr
        scores[folder.name] = [(m["name"], m["pooled"]["n_scored"], m["pooled"]["balanced_accuracy"])
                               for m in json.loads(shown.stdout)["methods"]]
    assert [name for name, _, _ in scores[sidecars.name]] == ["neurpir", "hand"]
    assert scores[sidecars.name] == scores[annotated.name]


def _without_units_column(path: Path, name: str) -> None:
    """Delete the units column ``name`` of an NWB file, as in a file that never had it."""
    import h5py

    with h5py.File(path, "a") as file:
        units = file["units"]
        del units[name]
        kept = [str(n.decode() if isinstance(n, bytes) else n) for n in units.attrs["colnames"]]
        units.attrs["colnames"] = np.array([n for n in kept if n != name], dtype=object)


def _notes(shown: Finished) -> list[str]:
    assert shown.code == 0, shown.stderr
    return json.loads(shown.stdout)["notes"]


def test_evaluate_names_the_files_it_leaves_out(annotated: Path, simulated: Path, sidecars: Path, tmp_path: Path,
                                               neurpir: Callable[..., Finished]) -> None:
    from nwb_neurpir.store import remove_embeddings

    unlabelled = Path(shutil.copytree(annotated, tmp_path / "unlabelled"))
    _without_units_column(next(unlabelled.glob("sub-sim01/*.nwb")), "cell_type")
    notes = _notes(neurpir("evaluate", str(unlabelled), "--label", "cell_type", "--methods", "neurpir,hand",
                           "--json"))
    assert any(note.startswith("1 files have no cell_type (no such column, or no value in it); their neurons are "
                               "left out as unlabelled: ") and "sub-sim01" in note for note in notes), notes
    unannotated = Path(shutil.copytree(annotated, tmp_path / "unannotated"))
    remove_embeddings(next(unannotated.glob("sub-sim02/*.nwb")), "NeurPIREmbeddings", progress=False)
    notes = _notes(neurpir("evaluate", str(unannotated), "--label", "cell_type", "--methods", "neurpir", "--json"))
    assert any(note.startswith("1 files left out: they hold no NeurPIR embeddings") and "sub-sim02" in note
               for note in notes), notes
    beside = _notes(neurpir("evaluate", str(simulated), str(sidecars), "--label", "cell_type", "--methods",
                            "neurpir", "--json"))
    assert not any("left out: they hold no NeurPIR embeddings" in note for note in beside), beside


def _sharing_an_identifier(simulated: Path, folder: Path) -> Path:
    """A copy of the simulated files in which sim02's recording has sim01's NWB identifier (as files written by one
    template script have)."""
    import h5py

    copy = Path(shutil.copytree(simulated, folder))
    first, second = (next(copy.glob(f"sub-{animal}/*.nwb")) for animal in ("sim01", "sim02"))
    with h5py.File(first, "r") as file:
        set_text(second, "identifier", file["identifier"][()].decode())
    return copy


def test_recordings_sharing_an_nwb_identifier_are_read_as_different_recordings(
        simulated: Path, model_dir: Path, annotated: Path, sidecars: Path, tmp_path: Path) -> None:
    data = _sharing_an_identifier(simulated, tmp_path / "data")
    for sidecar in (True, False):
        folder = _annotated_into(tmp_path / f"annotated-{sidecar}", data, model_dir, sidecar=sidecar)
        with pytest.warns(NWBReadWarning, match=r"sub-sim01.*: shares its NWB identifier \S+ with .*sub-sim02.*; "
                                                "they are read as different recordings"):
            table = read_annotated(sorted(map(str, folder.rglob("*.nwb"))))
        assert table.groupby("subject_id").size().to_dict() == {"sim01": 25, "sim02": 25, "sim03": 25}
    own = next(annotated.glob("sub-sim01/*.nwb"))
    copy = Path(shutil.copy(own, tmp_path / "copy.nwb"))
    for pair in ([own, next(sidecars.glob("sub-sim01/*.nwb"))], [own, copy]):  # a file and its sidecar, its copy
        with pytest.raises(NeurPIRError, match=r"hold one recording \(NWB identifier \S+, animal sim01, session .*, "
                                               r"neurons of units\): copies of one file, a file and its sidecar, or "
                                               r"two spike sortings that kept one NWB identifier\? Its neurons would "
                                               r"count twice: give only one of them"):
            read_annotated(pair)


def test_a_moved_source_is_told_from_files_sharing_its_nwb_identifier_by_animal_session_and_neurons(
        simulated: Path, model_dir: Path, tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    data = _sharing_an_identifier(simulated, tmp_path / "data")
    side = _annotated_into(tmp_path / "side", data, model_dir, sidecar=True)
    moved = Path(shutil.move(data, tmp_path / "moved"))  # the sidecars record data/... by absolute path
    second = next(side.glob("sub-sim02/*.nwb"))
    found, _ = activity_source(second, MovedSources([moved]))
    assert Path(found).resolve() == next(moved.glob("sub-sim02/*.nwb")).resolve()
    with pytest.raises(NeurPIRError, match=r"sub-sim02.*: the recording whose embeddings this sidecar holds is not "
                                           r"at .* any more, and the files given with its NWB identifier \S+ "
                                           r"\(.*sub-sim01.*\) hold other recordings \(not animal sim02, session "):
        activity_source(second, MovedSources([moved / "sub-sim01"]))
    twin = Path(shutil.copytree(moved / "sub-sim02", tmp_path / "twin"))
    with pytest.raises(NeurPIRError, match=r"2 files given match its NWB identifier \S+, animal, session and "
                                           r"neurons \(.*\); give only the moved recording among the sources$"):
        activity_source(second, MovedSources([moved, twin]))
    shown = neurpir("evaluate", str(side), str(moved), "--label", "cell_type", "--methods", "neurpir,hand", "--json")
    assert shown.code == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert [fold["name"] for fold in report["folds"]] == ["sim01", "sim02", "sim03"]
    assert not [note for note in report["notes"] if "left out" in note], report["notes"]


def test_a_moved_source_without_a_subject_is_found_from_its_sidecar(simulated: Path, model_dir: Path,
                                                                     tmp_path: Path) -> None:
    """Its sidecar names its animal as neurpir does, ``(<session id>)``; the moved file records no subject."""
    import h5py

    data = Path(shutil.copytree(simulated, tmp_path / "data"))
    source = next(data.glob("sub-sim02/*.nwb"))
    with h5py.File(source, "r+") as file:
        del file["general/subject"]
    side = _annotated_into(tmp_path / "side", data, model_dir, sidecar=True)
    moved = Path(shutil.move(data, tmp_path / "moved"))
    (sidecar,) = [path for path in side.rglob("*.nwb") if path.parent.name not in ("sub-sim01", "sub-sim03")]
    found, _ = activity_source(sidecar, MovedSources([moved]))
    assert Path(found).resolve() == (moved / source.relative_to(data)).resolve()


def _opto_csv(annotated: Path, path: Path) -> Path:
    """Labels kept outside the files, keyed by session_id and neuron_id: FS neurons PV+, the others PV-, every third
    neuron untagged (empty), and one row of a session no file holds."""
    frame = read_annotated(sorted(annotated.rglob("*.nwb")))
    table = frame[["session_id", "neuron_id"]].assign(opto=np.where(frame["cell_type"] == "FS", "PV+", "PV-"))
    table.loc[table.index % 3 == 0, "opto"] = None
    table.loc[len(table)] = ["elsewhere", 0, "PV+"]
    table.to_csv(path, index=False)
    return path


def test_labels_kept_in_a_csv_are_evaluated_and_fit_a_probe(annotated: Path, simulated: Path, model_dir: Path,
                                                            tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    labels = _opto_csv(annotated, tmp_path / "opto.csv")
    shown = neurpir("evaluate", str(annotated), "--label", "opto", "--labels", str(labels), "--methods",
                    "neurpir,hand", "--json")
    assert shown.code == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["n_labelled"] == 50 and payload["classes"] == ["PV+", "PV-"]
    assert [m["name"] for m in payload["methods"]] == ["neurpir", "hand"]
    assert shown.stderr.count(f"{labels}: 1 of its 76 rows match no neuron of the files (by session_id and "
                              "neuron_id)") == 1  # the vectors' table and the recordings are matched once
    predicted = neurpir("predict", str(model_dir), str(simulated / "sub-sim03"), "--fit-on",
                        str(annotated / "sub-sim01"), "--fit-on", str(annotated / "sub-sim02"), "--label", "opto",
                        "--labels", str(labels), "--probe-dir", str(tmp_path / "probe"), "--out",
                        str(tmp_path / "predicted"), "--json")
    assert predicted.code == 0, predicted.stderr
    (row,) = json.loads(predicted.stdout)
    assert row["status"] == "copy" and set(row["counts"]) <= {"PV+", "PV-"}
    assert row["probe"]["n_training_neurons"] == 33 and row["probe"]["n_unlabelled"] == 17
    meta = json.loads((tmp_path / "probe" / "probe.json").read_text())
    assert meta["labels_file"] == str(labels) and row["probe"]["labels_file"] == str(labels)
    assert meta["labels_file_sha256"] == hashlib.sha256(labels.read_bytes()).hexdigest()
    alone = neurpir("predict", str(model_dir), str(simulated / "sub-sim03"), "--label", "opto", "--labels",
                    str(labels))
    assert alone.code == 1 and alone.stderr == "error: --labels needs --fit-on: they label the files the probe is " \
                                               "fitted on\n"
    (tmp_path / "bad.tsv").write_text("session_id\tunit\topto\nsim01\t1\tPV+\n")
    bad = neurpir("evaluate", str(annotated), "--label", "opto", "--labels", str(tmp_path / "bad.tsv"))
    assert bad.code == 1 and bad.stderr == f"error: {tmp_path / 'bad.tsv'}: the labels table lacks neuron_id or " \
                                           "unit_name (it has session_id, unit, opto)\n"


def test_a_labels_table_with_only_a_header_is_refused_in_one_line(simulated: Path, tmp_path: Path,
                                                                 neurpir: Callable[..., Finished]) -> None:
    import pandas as pd

    import nwb_neurpir as npir

    header = tmp_path / "h.csv"
    header.write_text("session_id,neuron_id,opto\n")
    shown = neurpir("evaluate", str(simulated), "--label", "opto", "--labels", str(header), "--methods", "hand")
    assert shown.code == 1 and shown.stderr == f"error: {header}: the labels table has no rows\n"
    with pytest.raises(NeurPIRError, match="^labels table: the labels table has no rows$"):
        npir.evaluate(simulated, label="opto", methods=["hand"], progress=False, labels=pd.read_csv(header, dtype=str))


def test_a_labels_key_naming_two_recordings_is_refused_only_when_their_neuron_ids_overlap() -> None:
    import dataclasses

    import pandas as pd

    from nwb_neurpir.testing import mock_recording
    from nwb_neurpir.workflows.labels_file import read_labels, relabel_recordings

    first, other = mock_recording(seed=0, n_bins=200), mock_recording(seed=1, n_bins=200)
    second = dataclasses.replace(other, source=dataclasses.replace(other.source, identifier=first.source.identifier),
                                 neuron_ids=other.neuron_ids + 100)  # another session, one template's identifier
    labels = read_labels(pd.DataFrame({"identifier": first.source.identifier, "neuron_id": [0, 100],
                                       "opto": ["PV+", "PV-"]}), "opto")
    relabelled = relabel_recordings([first, second], labels)
    assert [r.neuron_metadata["opto"].iloc[0] for r in relabelled] == ["PV+", "PV-"]
    overlapping = dataclasses.replace(second, neuron_ids=other.neuron_ids)
    with pytest.raises(NeurPIRError, match=r"^labels table: identifier synthetic-m1-0 names 2 recordings \(.*\) whose "
                                           "neuron ids overlap; they are sessions that share an NWB identifier: name "
                                           "them by session_id"):
        relabel_recordings([first, overlapping], labels)


def test_evaluate_replaces_a_report_only_with_overwrite(simulated: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.json").write_text('{"settings": {"command": "neurpir demo"}}')
    command = ["evaluate", str(simulated), "--label", "cell_type", "--methods", "hand", "--no-plots", "--out",
               str(report)]
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 1
    assert refused.output == (f"error: {report}: already holds report.json, which this report would replace; use "
                              "--overwrite (overwrite=True) to replace them, or another --out folder\n")
    assert json.loads((report / "report.json").read_text()) == {"settings": {"command": "neurpir demo"}}
    replaced = CliRunner().invoke(app, [*command, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert [m["name"] for m in json.loads((report / "report.json").read_text())["methods"]] == ["hand"]


def test_evaluate_replaces_any_file_of_a_report_only_with_overwrite(simulated: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("my notes on the last run")
    (report / "umap.png").symlink_to("missing.png")  # a dangling link counts too
    command = ["evaluate", str(simulated), "--label", "cell_type", "--methods", "hand", "--out", str(report)]
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 1
    assert refused.output == (f"error: {report}: already holds report.md, umap.png, which this report would "
                              "replace; use --overwrite (overwrite=True) to replace them, or another --out folder\n")
    assert sorted(p.name for p in report.iterdir()) == ["report.md", "umap.png"]
    (report / "umap.png").unlink()
    refused = CliRunner().invoke(app, [*command, "--no-plots"])
    assert refused.exit_code == 1 and "already holds report.md, which" in refused.output
    (report / "umap.png").write_text("")  # a figure --no-plots does not write is not in the way
    (report / "report.md").unlink()
    done = CliRunner().invoke(app, [*command, "--no-plots"])
    assert done.exit_code == 0, done.output
    assert (report / "umap.png").read_text() == "" and (report / "report.json").is_file()


def test_evaluate_trains_with_the_threads_asked_for(simulated: Path, tmp_path: Path) -> None:
    import torch

    config = tmp_path / "tiny.json"
    config.write_text(TINY.to_json())  # num_threads 1
    before = torch.get_num_threads()
    try:
        shown = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--train-config",
                                         str(config), "--threads", "2", "--methods", "neurpir", "--held-out", "sim03",
                                         "--no-progress"])
        assert shown.exit_code == 0, shown.output
        assert torch.get_num_threads() == 2  # the count the fold's model was trained with
    finally:
        torch.set_num_threads(before)


def test_evaluate_embeds_with_the_threads_asked_for(simulated: Path, model_dir: Path, torch_threads: int) -> None:
    import torch

    shown = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(model_dir),
                                     "--threads", "1", "--methods", "neurpir", "--no-progress"])
    assert shown.exit_code == 0, shown.output
    assert torch.get_num_threads() == 1 != torch_threads


def test_evaluate_reads_the_modality_asked_for(mixed: Path, model_dir: Path, tmp_path: Path,
                                               neurpir: Callable[..., Finished]) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(TINY.to_json())
    command = ["evaluate", str(mixed), "--label", "cell_type", "--train-config", str(config), "--methods",
               "neurpir,hand", "--held-out", "sim03", "--json", "--no-progress"]
    assert "the recordings mix modalities (ophys, spikes)" in neurpir(*command).stderr
    shown = neurpir(*command, "--modality", "spikes")
    assert shown.code == 0, shown.stderr
    assert shown.stderr.count("3 files hold ophys data only, not the spikes data being read; skipped") == 1
    read = [Path(source["location"]).name for source in json.loads(shown.stdout)["settings"]["sources"]]
    assert len(read) == 3 and all(name.endswith("_ecephys.nwb") for name in read)
    refused = neurpir("evaluate", str(mixed), "--label", "cell_type", "--model", str(model_dir), "--modality", "ophys")
    assert refused.code == 1
    assert refused.stderr.strip() == (f"error: {model_dir}: --modality ophys (modality=) was asked for, but the model "
                                      "was trained on spikes data")


@pytest.mark.slow
def test_report_names_the_model(simulated: Path, model_dir: Path, tmp_path: Path) -> None:
    from nwb_neurpir.model import NeurPIR

    shown = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(model_dir),
                                     "--methods", "neurpir,hand", "--out", str(tmp_path), "--no-plots", "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.output)
    model = payload["settings"]["model"]
    assert model["path"] == str(model_dir.resolve())
    assert model["checkpoint_sha256"] == NeurPIR.load(model_dir).provenance().checkpoint_sha256
    assert model["hyperparameters"]["max_steps"] == 3 and model["package_version"]
    assert payload["settings"]["inductive_folds"]["neurpir"] == []  # the model saw every session
    assert payload["settings"]["package_version"] and payload["settings"]["created"].startswith("20")
    assert len(payload["settings"]["sources"]) == 3 and payload["settings"]["command"] is None  # not a process
    markdown = (tmp_path / "report.md").read_text()
    assert "from 3 recordings (paths and NWB identifiers in report.json under settings.sources)" in markdown
    assert model["checkpoint_sha256"] in markdown and str(model_dir.resolve()) in markdown
    assert "neurpir: inductive on 0 of 3 folds" in markdown
    assert "## Diagnostics" in markdown and "effective rank" in markdown
    diagnostics = payload["diagnostics"]
    assert diagnostics["representations"]["neurpir"]["session_identity"]["chance"] == pytest.approx(1 / 3)
    assert diagnostics["vector_plus_hand"]["hand_alone"] == pytest.approx(
        next(m for m in payload["methods"] if m["name"] == "hand")["pooled"]["balanced_accuracy"])


@pytest.mark.slow
def test_evaluate_annotate_and_predict_read_the_sources_on_the_models_bins(simulated: Path, tmp_path: Path) -> None:
    """A model trained on 20 ms bins evaluates, annotates and predicts on 20 ms bins without being told; --bin-size
    sets the grid."""
    from nwb_neurpir.model import train

    folder = tmp_path / "model-20ms"
    train(list(open_recordings([simulated], progress=False, bin_size=0.02)), TINY, out_dir=folder, progress=False)
    shown = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(folder),
                                     "--methods", "neurpir,hand", "--out", str(tmp_path / "report"), "--no-plots",
                                     "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["settings"]["bin_sizes_s"] == [0.02]
    assert "- activity read on 20 ms bins" in (tmp_path / "report" / "report.md").read_text()
    hand = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--methods", "hand",
                                    "--bin-size", "0.05", "--json"])
    assert hand.exit_code == 0, hand.output
    assert json.loads(hand.output)["settings"]["bin_sizes_s"] == [0.05]
    annotated = CliRunner().invoke(app, ["annotate", str(folder), str(simulated), "--out", str(tmp_path / "copies"),
                                         "--no-progress", "--json"])
    assert annotated.exit_code == 0, annotated.output
    assert [o["status"] for o in json.loads(annotated.stdout)] == ["copy"] * 3
    predicted = CliRunner().invoke(app, ["predict", str(folder), str(simulated / "sub-sim03"), "--fit-on",
                                         str(tmp_path / "copies" / "sub-sim01"), "--fit-on",
                                         str(tmp_path / "copies" / "sub-sim02"), "--label", "cell_type", "--out",
                                         str(tmp_path / "predicted"), "--no-progress", "--json"])
    assert predicted.exit_code == 0, predicted.output


@pytest.mark.slow
def test_plot_and_evaluate_normalise_alike(annotated: Path, tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    table = read_annotated(sorted(annotated.rglob("*.nwb")))
    view = annotated_view(table, "cell_type")
    result = evaluate(label="cell_type", embeddings=table, methods=["neurpir"], progress=False)
    assert view.normalization == result.view.normalization
    assert view.normalization["applied"] == "session"
    np.testing.assert_allclose(view.vectors, result.view.vectors)
    out = tmp_path / "map.png"
    shown = neurpir("plot", str(annotated), "--out", str(out), "--projection", "pca", "--filter",
                     "cell_type != 'FS'", "--json")
    assert shown.code == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["n_neurons"] == 60 and payload["normalization"]["applied"] == "session"
    assert "z-scored per session" in payload["title"]
    raw = neurpir("plot", str(annotated), "--out", str(out), "--projection", "pca", "--normalize", "none",
                   "--json", "--no-progress")
    assert json.loads(raw.stdout)["normalization"]["applied"] == "none" and raw.stderr == ""
    centred = neurpir("plot", str(annotated), "--out", str(out), "--projection", "pca", "--normalize", "centre",
                       "--json", "--no-progress")
    payload = json.loads(centred.stdout)
    assert payload["normalization"]["applied"] == "centre" and "centred per session" in payload["title"]


@pytest.mark.slow
def test_plot_does_not_z_score_one_class_sessions(annotated: Path, tmp_path: Path,
                                                  neurpir: Callable[..., Finished]) -> None:
    one_class = ["plot", str(annotated), "--out", str(tmp_path / "fs.png"), "--projection", "pca", "--filter",
                 "cell_type == 'FS'", "--json"]
    refused = neurpir(*one_class, "--normalize", "session")
    assert refused.code == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: --normalize session: 3 of 3 sessions (100% of the neurons) are too "
                                     "small for per-session z-scoring")
    assert refused.stderr.count("\n") == 1
    fallback = neurpir(*one_class)
    assert fallback.code == 0, fallback.stderr
    assert json.loads(fallback.stdout)["normalization"]["applied"] == "none"
    assert "warning: --normalize auto used none" in fallback.stderr


@pytest.mark.slow
def test_training_runs_say_what_they_train(simulated: Path, tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(TINY.to_json())
    shown = neurpir("evaluate", str(simulated), "--label", "cell_type", "--train-config", str(config),
                     "--methods", "neurpir-no-context,hand", "--progress")
    assert shown.code == 0, shown.stderr
    assert "training 3 models (1 NeurPIR methods x 3 training sets) of up to 3 steps each" in shown.stderr
    assert "fold 2/3 (sim02): training neurpir-no-context on 2 recordings" in shown.stderr


@pytest.mark.slow
def test_train_trains_the_configured_model_and_the_ablations_only_when_asked(
        simulated: Path, tmp_path: Path, neurpir: Callable[..., Finished]) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(TINY.to_json())
    trained = {}
    for extra in ([], ["--ablations"]):
        shown = neurpir("evaluate", str(simulated), "--label", "cell_type", "--train-config", str(config), "--json",
                         *extra)
        assert shown.code == 0, shown.stderr
        payload = json.loads(shown.stdout)
        trained[tuple(extra)] = ([m["name"] for m in payload["methods"]],
                                 {fold: sorted(models) for fold, models in payload["settings"]["fold_models"].items()})
    names, models = trained[()]
    assert [name for name in names if name.startswith("neurpir")] == ["neurpir", "neurpir-neighbours", "neurpir+hand"]
    assert models == {fold: ["neurpir"] for fold in ("sim01", "sim02", "sim03")}
    names, models = trained[("--ablations",)]
    ablations = ["neurpir-fixed-length", "neurpir-no-context", "neurpir-untrained"]
    assert set(ablations) < set(names)
    assert models == {fold: sorted(["neurpir", *ablations]) for fold in ("sim01", "sim02", "sim03")}


def test_help_shows_defaults_and_the_shared_options() -> None:
    runner = CliRunner()
    for command in ("evaluate", "plot"):
        text = " ".join(runner.invoke(app, [command, "--help"], terminal_width=200).output.split())
        for option in ("--normalize", "--progress / --no-progress", "--json", "--filter"):
            assert option in text, (command, option)
        assert ("--cache-dir" in text) == (command == "evaluate")  # plot reads local annotated files only
        assert "[default: auto]" in text
    evaluate_help = " ".join(runner.invoke(app, ["evaluate", "--help"], terminal_width=200).output.split())
    assert "[default: the config's]" in evaluate_help and "[default: 5]" in evaluate_help


def test_many_labels_show_the_most_frequent_and_other() -> None:
    labels = np.array([f"area{i % 62:02d}" for i in range(62 * 3)] + ["area00"] * 10)
    shown = top_categories(labels)
    assert np.unique(shown).size == MAX_CLASSES + 1
    assert "area00" in shown and "other (50 values)" in shown

"""End to end on a tiny simulated set (real simulator, NWB files, reader, model, store): evaluate, report, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from eval_files import TINY, simulated_folder

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation import evaluate, format_table, write_report
from nwb_neurpir.io import open_recordings
from nwb_neurpir.recording import Recording

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_folder(tmp_path_factory, seed=5)


@pytest.fixture(scope="module")
def recordings(simulated: Path) -> list:
    return list(open_recordings([simulated], progress=False, keep_spike_times=True))


@pytest.mark.slow
def test_inductive_evaluation_report_end_to_end(recordings: list, tmp_path: Path) -> None:
    result = evaluate(recordings, label="cell_type", config=TINY, progress=False,
                      methods=["neurpir", "neurpir-untrained", "hand", "hand:gb", "hand-pca"])
    assert [fold.name for fold in result.folds] == ["sim01", "sim02", "sim03"]
    for fold in result.folds:
        assert fold.test_counts == {name: 5 for name in ("CH", "FS", "IB", "LTS", "RS")}
        assert fold.chance == pytest.approx(0.2)
        assert fold.training_data and len(fold.training_data) == 2
        held_out = [r.source.identifier for r in recordings if r.subject_id == fold.name]
        assert not set(held_out) & set(fold.training_data)
    assert [m.method.name for m in result.methods] == ["neurpir", "neurpir-untrained", "hand", "hand:gb", "hand-pca"]
    assert result.method("neurpir").mode == "inductive"
    assert result.method("hand").mode == "none"
    assert all(len(m.scores) == 3 for m in result.methods)
    assert result.method("hand").balanced_accuracy.mean > 0.4
    table = format_table(result)
    assert "neurpir-untrained" in table and "chance" in table and "best baseline" in table

    paths = write_report(result, tmp_path / "report", projection="pca")  # UMAP: numba compiles for a minute
    report = json.loads(paths["json"].read_text())
    assert report["split"] == "animal" and report["classes"] == ["CH", "FS", "IB", "LTS", "RS"]
    assert report["methods"][0]["modes"] == ["inductive"] * 3
    assert len(report["methods"][0]["folds"]) == 3 and "per_class" in report["methods"][0]["folds"][0]
    assert report["comparison"]["best_baseline"] in ("hand", "hand:gb", "hand-pca")
    assert report["settings"]["config"] == TINY.hyperparameters()  # like provenance: no runtime settings
    assert "num_threads" not in report["settings"]["config"]
    markdown = paths["markdown"].read_text()
    assert "| neurpir | inductive |" in markdown and "![umap](umap.png)" in markdown
    for name in ("umap", "confusion"):
        assert paths[name].read_bytes()[:8] == PNG_MAGIC


def test_label_errors_are_clear(recordings: list, tmp_path: Path) -> None:
    with pytest.raises(NeurPIRError, match="no recording has a neuron column 'brain_area'; available: .*cell_type"):
        evaluate(recordings, label="brain_area", methods=["hand"], progress=False)
    grouping = tmp_path / "one.yaml"
    grouping.write_text("fast: [FS]\n")
    with pytest.raises(NeurPIRError, match="only 'fast' after grouping"):
        evaluate(recordings, label="cell_type", grouping=grouping, methods=["hand"], progress=False)
    with pytest.raises(NeurPIRError, match="not available with these inputs"):
        evaluate(recordings, label="cell_type", methods=["neurpir"], progress=False)
    with pytest.raises(NeurPIRError, match="unknown probe"):
        evaluate(recordings, label="cell_type", methods=["hand:svm"], progress=False)
    with pytest.raises(NeurPIRError, match="inductive training needs split"):
        evaluate(recordings, label="cell_type", config=TINY, split="kfold", protocol="inductive", progress=False)


def test_given_embeddings_provenance_and_kfold(recordings: list) -> None:
    rng = np.random.default_rng(0)
    codes = {name: i for i, name in enumerate(("CH", "FS", "IB", "LTS", "RS"))}
    informative = [np.eye(5)[[codes[t] for t in r.neuron_metadata["cell_type"]]] + rng.normal(0, 0.3, (r.n_neurons, 5))
                   for r in recordings]
    informative[0][0] = np.nan
    result = evaluate(recordings, label="cell_type", embeddings=informative, methods=["neurpir", "hand"],
                      embeddings_training_data=[recordings[0].source.identifier], progress=False)
    assert result.dropped == {"<no embedding>": 1} and result.n_labelled == 74
    assert result.method("neurpir").balanced_accuracy.mean > 0.9
    assert result.method("neurpir").modes == ["transductive", "inductive", "inductive"]
    kfold = evaluate(recordings, label="cell_type", embeddings=informative, split="kfold", n_splits=3,
                     methods=["neurpir:knn"], progress=False)
    assert len(kfold.folds) == 3 and kfold.method("neurpir:knn").balanced_accuracy.mean > 0.9


@pytest.fixture(scope="module")
def model_dir(recordings: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("model")
    train(recordings, TINY, out_dir=folder, progress=False)
    return folder


@pytest.mark.slow
def test_cli_with_a_model_folder_and_with_training(simulated: Path, model_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    given = runner.invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(model_dir),
                                "--methods", "neurpir", "--json"])
    assert given.exit_code == 0, given.output
    assert json.loads(given.output)["methods"][0]["modes"] == ["transductive"] * 3
    config = tmp_path / "tiny.json"
    config.write_text(TINY.to_json())
    trained = runner.invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--train-config", str(config),
                                  "--max-steps", "2", "--methods", "neurpir-no-context,hand:knn", "--split", "session",
                                  "--json"])
    assert trained.exit_code == 0, trained.output
    payload = json.loads(trained.output)
    assert payload["settings"]["config"]["max_steps"] == 2 and payload["split"] == "session"
    assert [m["modes"] for m in payload["methods"]] == [["inductive"] * 3, ["none"] * 3]
    both = runner.invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--model", str(model_dir),
                               "--train"])
    assert both.exit_code == 1 and "not both" in both.output


@pytest.mark.slow
def test_cli_evaluates_and_plots_annotated_files(recordings: list, model_dir: Path, tmp_path: Path) -> None:
    from nwb_neurpir.model import NeurPIR
    from nwb_neurpir.store import annotate_recording

    model = NeurPIR.load(model_dir)
    annotated = tmp_path / "annotated"
    for recording in recordings:
        annotate_recording(recording, model.embed(recording, progress=False), model.provenance(),
                           output_dir=annotated, progress=False)
    runner = CliRunner()
    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", str(annotated), "--label", "cell_type", "--methods", "neurpir,hand",
                                 "--out", str(out), "--projection", "pca", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [m["name"] for m in payload["methods"]] == ["neurpir", "hand"]
    assert payload["methods"][0]["modes"] == ["transductive"] * 3
    assert (out / "umap.png").read_bytes()[:8] == PNG_MAGIC and (out / "report.md").exists()

    plot = runner.invoke(app, ["plot", str(annotated), "--out", str(tmp_path / "map.png"), "--projection", "pca"])
    assert plot.exit_code == 0, plot.output
    assert "75 neurons" in plot.output and (tmp_path / "map.png").read_bytes()[:8] == PNG_MAGIC

    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [x\n")
    failed = runner.invoke(app, ["evaluate", str(annotated), "--label", "cell_type", "--grouping", str(bad)])
    assert failed.exit_code == 1
    assert failed.output.startswith(f"error: {bad}: cannot parse grouping file") and failed.output.count("\n") == 1
    missing = runner.invoke(app, ["plot", str(annotated), "--label", "brain_area"])
    assert missing.exit_code == 1 and "no column 'brain_area'" in missing.output


@pytest.mark.slow
def test_hand_features_of_annotated_files_use_the_models_grid(simulated: Path, model_dir: Path,
                                                               tmp_path: Path) -> None:
    from nwb_neurpir.model import NeurPIR
    from nwb_neurpir.store import annotate_recording

    model = NeurPIR.load(model_dir)
    model.bin_size_ = 0.02  # as if trained with --bin-size 0.02
    annotated = tmp_path / "annotated"
    for recording in open_recordings([simulated], progress=False, bin_size=0.02):
        annotate_recording(recording, model.embed(recording, progress=False), model.provenance(),
                           output_dir=annotated, progress=False)

    def hand_scores(*options: str) -> list[float]:
        result = CliRunner().invoke(app, ["evaluate", str(annotated), "--label", "cell_type", "--methods",
                                          "neurpir,hand", "--json", *options])
        assert result.exit_code == 0, result.output
        return [fold["balanced_accuracy"] for fold in json.loads(result.output)["methods"][1]["folds"]]

    assert hand_scores() == hand_scores("--bin-size", "0.02") != hand_scores("--bin-size", "0.01")


def test_one_held_out_fold_reports_no_spread(recordings: list, tmp_path: Path) -> None:
    result = evaluate(recordings, label="cell_type", methods=["hand"], held_out=["sim02"], progress=False)
    assert "± n/a" in format_table(result) and "± 0.000" not in format_table(result)
    paths = write_report(result, tmp_path, plots=False)
    assert json.loads(paths["json"].read_text())["methods"][0]["balanced_accuracy"]["std"] is None
    markdown = paths["markdown"].read_text()
    assert "± n/a |" in markdown and "sample standard deviation (ddof = 1)" in markdown


def test_the_confusion_figure_draws_every_method(recordings: list) -> None:
    from nwb_neurpir.evaluation.plots import confusion_figure

    names = ["neurpir", "neurpir:knn", "neurpir:mlp", "neurpir-neighbours", "neurpir+hand", "hand", "hand:knn",
             "hand-pca", "hand-pca:knn"]
    vectors = [np.random.default_rng(0).normal(size=(r.n_neurons, 4)) for r in recordings]
    result = evaluate(recordings, label="cell_type", embeddings=vectors, methods=names, normalize="none",
                      progress=False)
    figure = confusion_figure(result)
    titles = [axis.get_title().split("\n")[0].split(" (")[0] for axis in figure.axes if axis.images]
    assert titles == names  # all 9, not the first 8


def test_predictions_csv_names_every_scored_neuron(recordings: list, tmp_path: Path) -> None:
    import pandas as pd

    vectors = [np.random.default_rng(1).normal(size=(r.n_neurons, 4)) for r in recordings]
    result = evaluate(recordings, label="cell_type", embeddings=vectors, methods=["neurpir", "hand"],
                      progress=False)
    paths = write_report(result, tmp_path, plots=False)
    assert paths["predictions"] == tmp_path / "predictions.csv"
    table = pd.read_csv(paths["predictions"], dtype=str)
    assert list(table.columns) == ["subject", "session", "source", "neuron_table", "neuron_id", "fold", "method",
                                   "true", "predicted"]
    assert len(table) == 2 * 75 and set(table["method"]) == {"neurpir", "hand"}
    assert (table["fold"] == table["subject"]).all()  # leave-one-animal-out: each neuron predicted by its own fold
    for recording in recordings:
        truth = dict(zip(map(str, recording.neuron_ids), recording.neuron_metadata["cell_type"]))
        mine = table[table["subject"] == recording.subject_id]
        assert set(mine["source"]) == {str(Path(recording.source.location).resolve())}
        assert sorted(set(mine["neuron_id"])) == sorted(truth)
        assert (mine["true"] == mine["neuron_id"].map(truth)).all()
    hand = result.method("hand").stacked()["y_pred"]
    assert (table[table["method"] == "hand"]["predicted"].to_numpy() == hand).all()
    markdown = paths["markdown"].read_text()
    assert "200 shuffles (p = (1 + k) / (N + 1)" in markdown and "`predictions.csv`" in markdown


def test_unavailable_methods_list_what_is_available_and_what_needs_training(recordings: list) -> None:
    vectors = [np.zeros((r.n_neurons, 2)) for r in recordings]
    with pytest.raises(NeurPIRError, match=r"available: neurpir, hand, hand-pca, neurpir\+hand, neurpir-neighbours; "
                                           r"neurpir-no-context, neurpir-fixed-length, neurpir-untrained are trained "
                                           r"per fold: they need --train$"):
        evaluate(recordings, label="cell_type", embeddings=vectors, methods=["neurpir-untrained"], progress=False)


def test_the_report_names_the_software_and_how_the_model_was_trained(recordings: list, model_dir: Path,
                                                                     tmp_path: Path) -> None:
    from importlib import metadata

    from nwb_neurpir.model import NeurPIR

    result = evaluate(recordings, label="cell_type", model=NeurPIR.load(model_dir), methods=["neurpir"],
                      progress=False)
    paths = write_report(result, tmp_path, plots=False)
    settings = json.loads(paths["json"].read_text())["settings"]
    assert settings["software"]["torch"] == metadata.version("torch")  # the code that evaluated
    assert settings["software"]["scikit-learn"] == metadata.version("scikit-learn")
    run = settings["model"]["hyperparameters"]["training"]["runs"][0]  # the model's own training run
    assert (run["threads"], run["device"], run["world_size"]) == (TINY.num_threads, "cpu", 1)
    assert run["software"]["torch"] == metadata.version("torch")
    markdown = paths["markdown"].read_text()
    assert f"- training run: steps 0-{TINY.max_steps} of max_steps {TINY.max_steps}, 1 thread(s) on cpu" in markdown
    assert f"torch {metadata.version('torch')}" in markdown
    unrecorded = {"start_step": 0, "end_step": 2, "max_steps": 2, "threads": None, "device": None, "world_size": None,
                  "software": {"nwb-neurpir": "an earlier release"}}  # steps of a release before training.runs
    settings["model"]["hyperparameters"]["training"]["runs"].insert(0, unrecorded)
    result.settings["model"] = settings["model"]
    earlier = write_report(result, tmp_path / "earlier", plots=False)["markdown"].read_text()
    assert ("- training run: steps 0-2 of max_steps 2, by an earlier release (threads, device, processes and "
            "software not recorded)\n") in earlier


def test_files_without_a_subject_id_are_animals_of_their_own(simulated: Path, tmp_path: Path) -> None:
    import shutil

    from eval_files import set_text

    data = Path(shutil.copytree(simulated, tmp_path / "data"))
    first, second, third = sorted(data.rglob("*.nwb"))
    set_text(first, "general/subject/subject_id", " sim01 ")  # surrounding whitespace is not part of the id
    set_text(second, "general/subject/subject_id", "SIM-01")   # one animal spelled two ways, or two animals?
    set_text(third, "general/subject/subject_id", None)
    with pytest.warns(UserWarning, match="counts as an animal of its own, named \\(.+\\) after its session id"):
        recordings = list(open_recordings([data], progress=False, keep_spike_times=True))
    result = evaluate(recordings, label="cell_type", methods=["hand"], progress=False)
    third_session = recordings[2].session_id
    assert [fold.name for fold in result.folds] == ["sim01", "SIM-01", f"({third_session})"]
    assert any(f"animal of its own, named by its session id: ({third_session})" in note for note in result.notes)
    assert any("'SIM-01' and 'sim01' differ only by case, punctuation, whitespace or character width" in note
               for note in result.notes)
    assert evaluate(recordings, label="cell_type", methods=["hand"], held_out=[f"({third_session})"],
                    progress=False).folds[0].test_counts == result.folds[2].test_counts


MARKDOWN_LABELS = {"RS": "CA1|CA3", "FS": "*SST*", "IB": "line\nbreak", "CH": "tab\there", "LTS": "<b>PV_x</b>"}
"""Labels that, written raw into a markdown table, add a column, break a row, italicise, or vanish as HTML."""


def test_report_md_tables_show_labels_and_ids_as_they_are(simulated: Path, tmp_path: Path) -> None:
    import re
    import shutil

    import h5py
    from eval_files import add_unit_column, set_text

    data = Path(shutil.copytree(simulated, tmp_path / "data"))
    for index, path in enumerate(sorted(data.rglob("*.nwb"))):
        with h5py.File(path, "r") as file:
            types = [value.decode() for value in file["units/cell_type"][:]]
        add_unit_column(path, "area", [MARKDOWN_LABELS[value] for value in types])
        set_text(path, "general/subject/subject_id", f"m|{index}")
    result = evaluate(list(open_recordings([data], progress=False)), label="area", methods=["hand"], progress=False)
    markdown = write_report(result, tmp_path / "report", plots=False)["markdown"].read_text()
    tables = re.findall(r"(?m)^(\|.*\|)\n\|(?:---\|)+\n((?:\|.*\n)+)", markdown)
    assert len(tables) >= 3
    for header, rows in tables:  # every row as many cells as its header: no pipe of a label makes a column
        cells = len(re.split(r"(?<!\\)\|", header))
        assert [len(re.split(r"(?<!\\)\|", row)) for row in rows.splitlines()] == [cells] * len(rows.splitlines())
    for shown in ("| CA1\\|CA3 |", "| \\*SST\\* |", "| line\\nbreak |", "| tab\\there |",
                  "| \\<b\\>PV\\_x\\</b\\> |", "| m\\|0 |"):
        assert shown in markdown
    assert "\t" not in markdown
    # outside the tables too: a note naming a label, the folds a method is inductive on, the dropped labels
    result.notes.append("class <b>PV_x</b> has | few neurons")
    result.settings["inductive_folds"] = {"neurpir": ["São<b>|x"]}
    result.dropped = {"*odd*": 3}
    markdown = write_report(result, tmp_path / "again", plots=False)["markdown"].read_text()
    for shown in ("- class \\<b\\>PV\\_x\\</b\\> has \\| few neurons", "(São\\<b\\>\\|x)", "\\*odd\\* (3)"):
        assert shown in markdown
    prose = re.sub(r"(?s)```.*?```", "", markdown)  # code blocks show their text as written
    assert "<b>" not in prose and "*odd*" not in prose


def _second_sorting(recording: Recording) -> Recording:
    """The same session spike-sorted again: its own NWB identifier and unit ids, the same spikes."""
    source = dataclasses.replace(recording.source, identifier=f"{recording.source.identifier}-ms5")
    return dataclasses.replace(recording, source=source, neuron_ids=recording.neuron_ids + 1000)


def test_split_session_holds_out_every_sorting_of_the_session(recordings: list) -> None:
    second = _second_sorting(recordings[0])
    sorted_twice = [*recordings, second]
    first_session = f"{recordings[0].subject_id}/{recordings[0].session_id}"
    result = evaluate(sorted_twice, label="cell_type", config=TINY, split="session", methods=["neurpir", "hand"],
                      progress=False)
    assert [fold.name for fold in result.folds] == [f"{r.subject_id}/{r.session_id}" for r in recordings]
    held_out = result.folds[0]
    assert held_out.name == first_session and sum(held_out.test_counts.values()) == 2 * recordings[0].n_neurons
    assert not {recordings[0].source.identifier, second.source.identifier} & set(held_out.training_data)
    assert set(result.folds[1].training_data) >= {recordings[0].source.identifier, second.source.identifier}
    # embeddings of a model trained on the second sorting only: the session was seen, whichever sorting is tested
    vectors = [np.random.default_rng(0).normal(size=(r.n_neurons, 4)) for r in sorted_twice]
    given = evaluate(sorted_twice, label="cell_type", embeddings=vectors, split="session", methods=["neurpir"],
                     embeddings_training_data=[second.source.identifier], progress=False)
    assert given.method("neurpir").modes == ["transductive", "inductive", "inductive"]


def test_one_recording_given_twice_is_refused_whatever_reads_it(simulated: Path, recordings: list,
                                                                 tmp_path: Path) -> None:
    import shutil

    copy = dataclasses.replace(recordings[0], source=dataclasses.replace(recordings[0].source, location="copy.nwb"))
    with pytest.raises(NeurPIRError, match="hold one recording .*: give only one of them"):
        evaluate([*recordings, copy], label="cell_type", methods=["hand"], progress=False)
    own = next(simulated.glob("sub-sim01/*.nwb"))
    copied = Path(shutil.copy(own, tmp_path / "copy.nwb"))
    refused = CliRunner().invoke(app, ["evaluate", str(simulated), str(copied), "--label", "cell_type", "--methods",
                                       "hand", "--no-progress"])
    assert refused.exit_code == 1
    assert f"error: {own} and {copied} hold one recording (NWB identifier" in " ".join(refused.output.split())


def test_reads_of_one_file_that_keep_disjoint_neurons_are_not_one_recording_twice(recordings: list) -> None:
    first = recordings[0]
    halves = [first.select_neurons(np.arange(first.n_neurons) < first.n_neurons // 2),
              first.select_neurons(np.arange(first.n_neurons) >= first.n_neurons // 2)]
    result = evaluate([*halves, *recordings[1:]], label="cell_type", methods=["hand"], progress=False)
    assert result.n_neurons == sum(r.n_neurons for r in recordings)
    overlapping = first.select_neurons(np.arange(first.n_neurons) >= first.n_neurons // 4)
    with pytest.raises(NeurPIRError, match="neurons would count twice"):
        evaluate([*halves[:1], overlapping, *recordings[1:]], label="cell_type", methods=["hand"], progress=False)


def test_the_report_records_every_probes_exact_settings(recordings: list, tmp_path: Path) -> None:
    import sklearn

    embeddings = [np.random.default_rng(i).normal(size=(r.n_neurons, 4)) for i, r in enumerate(recordings)]
    result = evaluate(recordings, label="cell_type", embeddings=embeddings, seed=7, progress=False,
                      methods=["neurpir", "hand", "hand:mlp", "hand:gb", "hand-pca"])
    paths = write_report(result, tmp_path, plots=False)
    probes = json.loads(paths["json"].read_text())["settings"]["probes"]
    assert list(probes) == ["logistic", "mlp", "gb", "logistic+pca10"]
    assert probes["logistic"]["methods"] == ["neurpir", "hand"] and probes["logistic"]["sample_weight"] is None
    scaler, logistic = probes["logistic"]["steps"]
    assert scaler["class"] == "StandardScaler" and scaler["params"]["with_mean"] is True
    assert logistic["class"] == "LogisticRegression"
    assert {key: logistic["params"][key] for key in ("C", "max_iter", "class_weight")} == \
        {"C": 1.0, "max_iter": 2000, "class_weight": "balanced"}
    mlp = probes["mlp"]["steps"][-1]["params"]
    assert (mlp["hidden_layer_sizes"], mlp["alpha"], mlp["early_stopping"], mlp["max_iter"], mlp["random_state"]) == \
        ([64], 1e-3, True, 300, 7)
    assert probes["mlp"]["sample_weight"] == "balanced"
    gb = probes["gb"]["steps"][-1]["params"]
    assert (gb["learning_rate"], gb["max_iter"], gb["class_weight"], gb["random_state"]) == (0.05, 200, "balanced", 7)
    assert [step["class"] for step in probes["logistic+pca10"]["steps"]] == ["StandardScaler", "PCA",
                                                                             "LogisticRegression"]
    assert probes["logistic+pca10"]["steps"][1]["params"]["n_components"] == 10
    assert all(probe["scikit-learn"] == sklearn.__version__ for probe in probes.values())
    markdown = paths["markdown"].read_text()
    assert (f"Probes (scikit-learn {sklearn.__version__};" in markdown and
            "- mlp (hand:mlp): StandardScaler() → MLPClassifier(alpha=0.001, early_stopping=True, "
            "hidden_layer_sizes=[64], max_iter=300, random_state=7), balanced sample weights" in markdown)


@pytest.mark.slow
def test_the_report_records_the_threads_and_device_the_fold_models_trained_with(simulated: Path,
                                                                                tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({**TINY.to_dict(), "num_threads": 1}))
    out = tmp_path / "report"
    done = CliRunner().invoke(app, ["evaluate", str(simulated), "--label", "cell_type", "--train-config", str(config),
                                    "--max-steps", "2", "--methods", "neurpir", "--held-out", "sim01", "--no-plots",
                                    "--out", str(out)])
    assert done.exit_code == 0, done.output
    settings = json.loads((out / "report.json").read_text())["settings"]
    assert "num_threads" not in settings["config"]  # a hyperparameter record, like a model's config.json
    runtime = settings["runtime"]
    assert (runtime["num_threads"], runtime["threads"], runtime["device"], runtime["torch_device"]) == \
        (1, 1, "auto", "cpu")
    assert ("- fold models trained with 1 thread(s) on cpu (num_threads 1, device auto; report.json "
            "settings.runtime)") in (out / "report.md").read_text()

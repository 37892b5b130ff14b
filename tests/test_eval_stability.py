"""Cross-session stability of tracked units (``evaluate --match-column``): is a neuron's nearest vector in another
recording of its animal the same neuron? Real simulated files copied as a second day, a tracked column written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from eval_files import TINY, add_unit_column, set_text, simulated_folder
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.evaluate import EvaluationWarning
from nwb_neurpir.evaluation.stability import TrackedRecording, measure_stability, tracked_values
from nwb_neurpir.io import open_recordings

N_NEURONS = 25
"""Neurons per simulated file (``tiny_population``)."""


def _two_days(simulated: Path, folder: Path, shuffle_day2: bool) -> Path:
    """Each simulated file as day 1 and, copied, as day 2 (another session and NWB identifier) of its animal, with a
    ``tracked_unit`` column naming the same neuron alike on both days (on day 2 shuffled when ``shuffle_day2``)."""
    rng = np.random.default_rng(0)
    for path in sorted(simulated.rglob("*.nwb")):
        day1 = folder / path.relative_to(simulated)
        day1.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, day1)
        day2 = day1.with_name(day1.name.replace(".nwb", "_day2.nwb"))
        shutil.copy(path, day2)
        set_text(day2, "session_id", f"{day1.stem}-day2")
        set_text(day2, "identifier", f"{day1.stem}-day2")
        units = [f"u{index}" for index in range(N_NEURONS)]
        add_unit_column(day1, "tracked_unit", units)
        add_unit_column(day2, "tracked_unit", list(rng.permutation(units)) if shuffle_day2 else units)
    return folder


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_folder(tmp_path_factory, seed=11)


@pytest.fixture(scope="module")
def same_neurons(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _two_days(simulated, tmp_path_factory.mktemp("same"), shuffle_day2=False)


@pytest.fixture(scope="module")
def shuffled(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _two_days(simulated, tmp_path_factory.mktemp("shuffled"), shuffle_day2=True)


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("model")
    train(list(open_recordings([simulated], progress=False)), TINY, out_dir=folder, progress=False)
    return folder


def test_identical_vectors_find_their_partner_and_unrelated_ones_score_chance() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 6))
    ids = tracked_values([f"n{i}" for i in range(40)])
    day1, day2 = TrackedRecording("m1", "m1/d1", ids), TrackedRecording("m1", "m1/d2", ids[::-1])
    same = measure_stability("tracked_unit", [day1, day2], {"v": [vectors, vectors[::-1]]}).summary("v")
    assert same["n_queries"] == 80 and same["top1"] == 1.0 and same["median_rank"] == 1.0
    assert same["cosine_partner"] == pytest.approx(1.0) and same["top1_chance"] == pytest.approx(1 / 40)
    unrelated = measure_stability("tracked_unit", [day1, day2],
                                  {"v": [vectors, rng.normal(size=(40, 6))]}).summary("v")
    assert unrelated["top1"] < 0.15
    assert 10 <= unrelated["median_rank"] <= 30
    other_animal = TrackedRecording("m2", "m2/d2", ids)
    apart = measure_stability("tracked_unit", [day1, other_animal], {"v": [vectors, vectors]})
    assert apart.summary("v") == {"n_queries": 0}
    assert apart.notes == ["no neuron has a partner by tracked_unit in another file of its animal: nothing to measure"]


def test_shared_empty_and_missing_values_are_skipped_and_ties_count_against() -> None:
    ids = tracked_values(["a", "b", -1, -1, None, float("nan"), "", 7.0])
    assert ids.tolist() == ["a", "b", "-1", "-1", "", "", "", "7"]
    vectors = np.eye(8)
    day1 = TrackedRecording("m", "m/1", ids)
    day2 = TrackedRecording("m", "m/2", tracked_values(["a", "b", -1, -1, "x", "y", "z", 7]))
    result = measure_stability("tracked_unit", [day1, day2], {"v": [vectors, vectors]})
    assert result.summary("v")["n_queries"] == 6          # a, b and 7, both ways; the two -1 neurons name no one
    assert result.notes[0].startswith("4 neurons share their tracked_unit value with another neuron of the same file")
    collapsed = measure_stability("tracked_unit", [day1, day2], {"v": [np.ones((8, 3)), np.ones((8, 3))]})
    assert collapsed.summary("v")["top1"] == 0.0           # every neuron alike: the partner is not the nearest
    missing = vectors.copy()
    missing[0] = np.nan                                    # neuron a has no vector on day 2
    assert measure_stability("tracked_unit", [day1, day2], {"v": [vectors, missing]}).summary("v")["n_queries"] == 4


def test_evaluate_without_a_label_measures_the_stability_of_neurpir_and_hand_features(
        same_neurons: Path, shuffled: Path, model_dir: Path, tmp_path: Path) -> None:
    same = npir.evaluate(same_neurons, match_column="tracked_unit", model=model_dir, progress=False)
    assert same.label is None and same.methods == []
    assert list(same.stability.retrievals) == ["neurpir", "hand"]
    for method in ("neurpir", "hand"):
        summary = same.stability.summary(method)
        assert summary["n_queries"] == 3 * 2 * N_NEURONS      # 3 animals, 2 ordered pairs of days, every neuron
        assert summary["top1"] == 1.0 and summary["median_rank"] == 1.0
        assert summary["top1_chance"] == pytest.approx(1 / N_NEURONS)
        assert set(same.stability.per_animal(method)) == {"sim01", "sim02", "sim03"}
    assert "top-1 neurpir 1.000" in repr(same)
    annotated = tmp_path / "annotated"
    npir.annotate(model_dir, same_neurons, output_dir=annotated, progress=False)
    stored = npir.evaluate(annotated, match_column="tracked_unit", methods="neurpir", progress=False)  # the table
    assert stored.stability.summary("neurpir") == same.stability.summary("neurpir")
    mixed = npir.evaluate(shuffled, match_column="tracked_unit", methods="hand", progress=False)
    assert list(mixed.stability.retrievals) == ["hand"]
    assert mixed.stability.summary("hand")["top1"] < 0.2        # chance 0.04; the same neurons found 1.0 above


def test_the_hand_features_stability_counts_only_the_neurons_with_a_vector(same_neurons: Path) -> None:
    from nwb_neurpir.evaluation import evaluate

    recordings = list(open_recordings([same_neurons], progress=False))
    vectors = [np.random.default_rng(0).normal(size=(recording.n_neurons, 4)) for recording in recordings]
    for matrix in vectors:
        matrix[:5] = np.nan  # units u0-u4, on both days, have no vector: the hand features leave them out too
    result = evaluate(recordings, match_column="tracked_unit", embeddings=vectors, methods=["hand"], progress=False)
    assert result.stability.summary("hand")["n_queries"] == 3 * 2 * (N_NEURONS - 5)


@pytest.mark.slow
def test_evaluate_with_a_label_adds_the_stability_of_fold_trained_models(same_neurons: Path) -> None:
    result = npir.evaluate(same_neurons, label="cell_type", match_column="tracked_unit",
                           model=npir.NeurPIR(**TINY.to_dict()), methods=["neurpir", "hand"], progress=False)
    assert [m.method.name for m in result.methods] == ["neurpir", "hand"]
    for method in ("neurpir", "hand"):
        summary = result.stability.summary(method)
        assert summary["n_queries"] == 3 * 2 * N_NEURONS and summary["top1"] == 1.0
    assert result.to_dict()["stability"]["methods"]["neurpir"]["pooled"]["top1"] == 1.0
    with pytest.warns(EvaluationWarning, match="trained on every recording"):
        once = npir.evaluate(same_neurons, label="cell_type", match_column="tracked_unit",
                             model=npir.NeurPIR(**TINY.to_dict()), methods=["neurpir"], transductive=True,
                             progress=False)
    assert once.stability.summary("neurpir") == {"n_queries": 0}
    assert [note[:60] for note in once.notes if "tracked_unit" in note or "transductive" in note] == \
        ["neurpir: every fold's model was trained on every recording ("]


def test_neurpir_evaluate_match_column_writes_the_stability_report(same_neurons: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    shown = CliRunner().invoke(app, ["evaluate", str(same_neurons), "--match-column", "tracked_unit", "--methods",
                                     "hand", "--out", str(out), "--no-progress"])
    assert shown.exit_code == 0, shown.output
    assert ["hand", "all", "150", "1.000", "0.040", "1", "13", "1.000"] in [line.split()[:8]
                                                                       for line in shown.output.splitlines()]
    markdown = (out / "report.md").read_text()
    assert "## Stability across recordings (tracked_unit)" in markdown
    assert "| hand | sim02 | 50 | 1.000 | 0.040 | 1 | 13 |" in markdown
    payload = json.loads((out / "report.json").read_text())
    assert payload["stability"]["methods"]["hand"]["per_pair"][0]["top1"] == 1.0
    assert payload["figures"] == {"stability": "stability.png"} and (out / "stability.png").stat().st_size > 0
    assert not (out / "predictions.csv").exists()
    quiet = CliRunner().invoke(app, ["evaluate", str(same_neurons), "--match-column", "tracked_unit", "--methods",
                                     "hand", "--out", str(tmp_path / "quiet"), "--no-plots", "--no-progress"])
    assert quiet.exit_code == 0 and not (tmp_path / "quiet" / "stability.png").exists()


def test_a_file_without_the_match_column_is_named(simulated: Path, same_neurons: Path, tmp_path: Path) -> None:
    one = next(simulated.rglob("*.nwb"))
    folder = shutil.copytree(same_neurons, tmp_path / "data")
    shutil.copy(one, folder / "untracked.nwb")
    set_text(folder / "untracked.nwb", "session_id", "untracked")
    set_text(folder / "untracked.nwb", "identifier", "untracked")
    shown = CliRunner().invoke(app, ["evaluate", str(folder), "--match-column", "tracked_unit", "--methods", "hand",
                                     "--no-progress"])
    assert shown.exit_code == 1
    assert shown.output.startswith(f"error: {folder / 'untracked.nwb'}: has no neuron column 'tracked_unit' "
                                   "(--match-column); available: ")
    assert shown.output.count("\n") == 1


@pytest.mark.parametrize(("options", "message"), [
    ({}, "nothing to evaluate: give a label to probe (--label) or a column of units tracked across recordings "
         "(--match-column), or both"),
    ({"match_column": "tracked_unit", "model": "untrained"}, "--train trains one model per fold of the --label "
                                                             "probe; without --label give --model or annotated files"),
    ({"match_column": "tracked_unit", "grouping": "x.yaml"}, "--grouping needs --label (the stability of "
                                                             "--match-column is reported for every animal)"),
])
def test_what_an_evaluation_without_a_label_refuses(same_neurons: Path, options: dict, message: str) -> None:
    if options.get("model") == "untrained":
        options = {**options, "model": npir.NeurPIR(**TINY.to_dict())}
    with pytest.raises(NeurPIRError) as raised:
        npir.evaluate(same_neurons, methods="hand", progress=False, **options)
    assert raised.value.one_line() == message


@pytest.mark.parametrize(("extra", "message"), [
    (["--split", "kfold"], "--split shapes the probes of --label; with --match-column alone no probe runs"),
    (["--seed", "3"], "--seed shapes the probes of --label; with --match-column alone no probe runs"),
    (["--labels", "opto.csv"], "--labels (labels=) gives the values of --label (label=); name the label column too"),
    (["--held-out", "sim01"], "--held-out needs --label (the stability of --match-column is reported for every "
                              "animal)"),
])
def test_neurpir_evaluate_refuses_probe_options_without_a_label(same_neurons: Path, extra: list[str],
                                                                message: str) -> None:
    shown = CliRunner().invoke(app, ["evaluate", str(same_neurons), "--match-column", "tracked_unit", "--methods",
                                     "hand", "--no-progress", *extra])
    assert shown.exit_code == 1
    assert shown.output == f"error: {message}\n"

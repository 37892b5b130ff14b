"""``neurpir evaluate --vectors NAME=PATH`` / ``npir.evaluate(vectors=...)``: other methods' per-neuron vectors scored
beside the hand features on the same folds, matched to neurons by key (real simulated NWB files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.features import feature_matrix
from nwb_neurpir.evaluation.results import EvaluationResult
from nwb_neurpir.io import open_recordings
from nwb_neurpir.simulate.nwb_output import write_dataset
from nwb_neurpir.testing import tiny_population


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vectors")
    write_dataset(folder, tiny_population(7), modality="spikes", progress=False)
    return folder


@pytest.fixture(scope="module")
def hand_copy(data: Path) -> pd.DataFrame:
    """The package's own hand features of every neuron, as a vectors table keyed by NWB identifier."""
    recordings = list(open_recordings([data], progress=False, keep_spike_times=True))
    matrices, _ = feature_matrix(recordings)
    return pd.concat([pd.DataFrame(matrix, columns=[f"v{i}" for i in range(matrix.shape[1])]).assign(
        identifier=r.source.identifier, neuron_id=r.neuron_ids) for r, matrix in zip(recordings, matrices)],
        ignore_index=True)


def _scores(result: EvaluationResult, name: str) -> list[float]:
    return [score.balanced_accuracy for score in result.method(name).scores]


def _evaluate(data: Path, vectors: dict, methods: list[str] | None = None) -> EvaluationResult:
    return npir.evaluate(data, label="cell_type", vectors=vectors, methods=methods, progress=False)


def test_hand_copy_scores_as_hand_and_row_order_does_not_matter(data: Path, hand_copy: pd.DataFrame) -> None:
    shuffled = hand_copy.sample(frac=1, random_state=3)
    result = _evaluate(data, {"copy": hand_copy, "shuffled": shuffled})
    names = [m.method.name for m in result.methods]
    assert names[:2] == ["copy", "shuffled"] and "copy+hand" in names and "hand" in names
    assert _scores(result, "copy") == _scores(result, "hand") == _scores(result, "shuffled")
    assert result.method("copy").description.startswith("external vectors copy (copy table)")
    assert result.n_labelled == 75 and not result.dropped


def test_cli_vectors_file_with_probes_and_fusion(data: Path, hand_copy: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "mine.tsv"
    hand_copy.to_csv(path, sep="\t", index=False)
    outcome = CliRunner().invoke(app, ["evaluate", str(data), "--label", "cell_type", "--vectors", f"mine={path}",
                                       "--methods", "mine,mine:gb,mine+hand,hand", "--no-progress", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert '"mine:gb"' in outcome.output and f"external vectors mine ({path})" in outcome.output


def test_npz_file_and_csv_keyed_by_file_name(data: Path, hand_copy: pd.DataFrame, tmp_path: Path) -> None:
    npz = tmp_path / "mine.npz"
    np.savez(npz, identifier=hand_copy["identifier"].to_numpy(str), neuron_id=hand_copy["neuron_id"].to_numpy(),
             vectors=hand_copy.filter(like="v").to_numpy())
    files = {r.source.identifier: Path(r.source.location).name for r in open_recordings([data], progress=False)}
    csv = tmp_path / "mine.csv"
    hand_copy.assign(file=hand_copy["identifier"].map(files)).drop(columns="identifier").to_csv(csv, index=False)
    result = _evaluate(data, {"npz": npz, "csv": csv}, ["npz", "csv", "hand"])
    assert _scores(result, "npz") == _scores(result, "hand") == _scores(result, "csv")


def test_random_vectors_score_near_chance(data: Path, hand_copy: pd.DataFrame) -> None:
    noise = hand_copy[["identifier", "neuron_id"]].assign(
        **{f"r{i}": np.random.default_rng(0).normal(size=len(hand_copy)) for i in range(8)})
    result = _evaluate(data, {"noise": noise}, ["noise"])
    assert abs(result.method("noise").balanced_accuracy.mean - 0.2) < 0.15


def test_neurons_missing_from_the_table_leave_every_method_with_a_note(data: Path, hand_copy: pd.DataFrame) -> None:
    part = hand_copy.drop(index=range(5))
    with pytest.warns(UserWarning, match="copy has no vector for some neurons of 1 session"):
        result = _evaluate(data, {"copy": part}, ["copy", "hand"])
    assert result.dropped == {"<no copy vector>": 5} and result.n_labelled == 70
    assert sum(f.n_scored for f in result.folds) == 70
    rows = {name: np.concatenate([p.rows for p in result.method(name).predictions]) for name in ("copy", "hand")}
    assert np.array_equal(rows["copy"], rows["hand"]) and len(rows["hand"]) == 70


def test_rows_of_recordings_not_evaluated_are_ignored_with_a_warning(data: Path, hand_copy: pd.DataFrame,
                                                                     tmp_path: Path) -> None:
    """A table of more recordings than are evaluated (``neurpir embed`` over all, ``evaluate`` over some) scores the
    evaluated ones; a warning counts the rows left out."""
    files = sorted(data.rglob("*.nwb"))
    kept = {r.source.identifier for r in open_recordings(files[1:], progress=False)}
    npz = tmp_path / "all.npz"
    np.savez(npz, identifier=hand_copy["identifier"].to_numpy(str), neuron_id=hand_copy["neuron_id"].to_numpy(),
             vectors=hand_copy.filter(like="v").to_numpy())
    left_out = int((~hand_copy["identifier"].isin(kept)).sum())
    with pytest.warns(UserWarning, match=f"all.npz: {left_out} of its {len(hand_copy)} rows are of recordings not "
                                         "evaluated; they are ignored"):
        result = npir.evaluate(files[1:], label="cell_type", vectors={"all": npz}, methods=["all", "hand"],
                               progress=False)
    assert 0 < left_out < len(hand_copy) and _scores(result, "all") == _scores(result, "hand")


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.assign(identifier="nowhere"),
     "row 1: identifier nowhere is not among the evaluated recordings, nor is any other row's"),
    (lambda t: t.assign(neuron_id=t["neuron_id"].where(t.index != 2, 9999)),
     "row 3: neuron 9999 is not a neuron of"),
    (lambda t: pd.concat([t, t.iloc[[7]]], ignore_index=True), "row 76: neuron .* is listed twice \\(also in row 8\\)"),
    (lambda t: t.assign(v3=t["v3"].where(t.index != 6, np.nan)), "row 7: its vector has .* values, not"),
    (lambda t: t.assign(v3=t["v3"].where(t.index != 6, np.inf)), "row 7: non-finite value in column v3"),
    (lambda t: t.assign(v3=t["v3"].astype(object).where(t.index != 1, "x")), "row 2: column v3 holds 'x', not a"),
    (lambda t: t.drop(columns="neuron_id"), "the vectors table lacks neuron_id"),
])
def test_refusals_name_the_table_and_row(data: Path, hand_copy: pd.DataFrame, change, message: str) -> None:
    with pytest.raises(NeurPIRError, match=f"mine table.*{message}"):
        _evaluate(data, {"mine": change(hand_copy.copy())})


@pytest.mark.parametrize("name", ["hand", "neurpir+hand", "a+b", "neurpirx", "x:gb"])
def test_names_clashing_with_built_in_methods_are_refused(data: Path, hand_copy: pd.DataFrame, name: str) -> None:
    with pytest.raises(NeurPIRError, match="is not usable"):
        _evaluate(data, {name: hand_copy})


def test_cli_refuses_bad_files_and_specs(data: Path, tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text("{}")
    for spec, message in ((f"mine={tmp_path / 'v.json'}", "read from .csv, .tsv, .parquet or .npz"),
                          ("mine", "give NAME=PATH")):
        outcome = CliRunner().invoke(app, ["evaluate", str(data), "--label", "cell_type", "--vectors", spec,
                                           "--no-progress"])
        assert outcome.exit_code != 0 and message in outcome.output, outcome.output


def test_scored_beside_neurpir_trained_per_fold(data: Path, hand_copy: pd.DataFrame) -> None:
    from nwb_neurpir.evaluation import evaluate
    from nwb_neurpir.testing import tiny_config
    from nwb_neurpir.workflows.vectors_file import matched_vectors, read_vectors

    recordings = list(open_recordings([data], progress=False, keep_spike_times=True))
    vectors = matched_vectors(read_vectors({"copy": hand_copy.iloc[::-1]}), recordings)
    result = evaluate(recordings, label="cell_type", config=tiny_config(), vectors=vectors, progress=False)
    names = [m.method.name for m in result.methods]
    assert names[:2] == ["neurpir", "copy"] and "copy+hand" in names and "neurpir+hand" in names
    assert _scores(result, "copy") == _scores(result, "hand")
    assert "copy" not in result.settings["inductive_folds"] and result.method("copy").mode == "unknown"

"""#18: evaluation on sparse, one-class sessions does not lie (real simulated NWB files read by the real reader).

Each "session" below is one simulated file read with a unit filter that keeps the neurons of one cell type and given a
session id of its own, so every session holds 5 neurons of a single class, as in identified-cell datasets (a few
tagged cells per session).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from eval_files import simulated_folder

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation import evaluate, format_table, write_report
from nwb_neurpir.evaluation.comparison import compare
from nwb_neurpir.evaluation.methods import Method
from nwb_neurpir.evaluation.normalization import MIN_SESSION_NEURONS, choose_normalization
from nwb_neurpir.evaluation.metrics import score_fold
from nwb_neurpir.evaluation.results import FoldPredictions, MethodResult
from nwb_neurpir.io import open_recording
from nwb_neurpir.recording import Recording

TYPES = ("CH", "FS", "IB", "LTS", "RS")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return sorted(simulated_folder(tmp_path_factory, seed=5, name="sparse").rglob("*.nwb"))


def _one_class_sessions(files: list[Path], types_per_file: list[tuple[str, ...]]) -> list:
    """One recording per (file, type), a session of its own (``<session id>-<type>``): each holds only that type's
    neurons."""
    return [_one_type(path, kind) for path, kinds in zip(files, types_per_file) for kind in kinds]


def _one_type(path: Path, kind: str) -> Recording:
    recording = open_recording(path, keep_spike_times=True, unit_filter=f"cell_type == '{kind}'")
    return dataclasses.replace(recording, session_id=f"{recording.session_id}-{kind}")


@pytest.fixture(scope="module")
def sparse(files: list[Path]) -> list:
    return _one_class_sessions(files, [TYPES] * len(files))


def test_session_normalisation_refuses_one_class_sessions_and_auto_falls_back(sparse: list) -> None:
    assert all(r.neuron_metadata["cell_type"].nunique() == 1 and r.n_neurons == 5 for r in sparse)
    with pytest.raises(NeurPIRError, match=r"--normalize session: 15 of 15 sessions \(100% of the neurons\) are too "
                                           r"small for per-session z-scoring.*; use --normalize auto or none"):
        evaluate(sparse, label="cell_type", methods=["hand"], normalize="session", progress=False)
    with pytest.warns(UserWarning, match="--normalize auto used none"):
        result = evaluate(sparse, label="cell_type", methods=["hand"], progress=False)
    assert result.settings["normalization"]["applied"] == "none"
    assert any("--normalize auto used none" in note for note in result.notes)
    assert "--normalize auto used none" in format_table(result)
    # Without the fallback, z-scoring 5 same-class neurons erases the class: the probe is at chance.
    assert result.method("hand").pooled.balanced_accuracy > 0.5


def test_centring_subtracts_each_sessions_mean_and_keeps_the_spread() -> None:
    rng = np.random.default_rng(0)
    keys = np.repeat(["a", "b", "tiny"], [40, 30, 3])
    x = rng.normal(size=(73, 4)) * [1.0, 5.0, 0.1, 2.0] + np.where(keys == "b", 10.0, 0.0)[:, None]
    normalization = choose_normalization("centre", keys)
    assert (normalization.applied, normalization.fallback_sessions) == ("centre", ("tiny",))
    out = normalization.apply(x, keys)
    for key in ("a", "b"):
        np.testing.assert_allclose(out[keys == key].mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(out[keys == key].std(axis=0), x[keys == key].std(axis=0))
    np.testing.assert_allclose(out[keys == "tiny"], (x - x.mean(axis=0))[keys == "tiny"])
    z_scored = choose_normalization("session", keys).apply(x, keys)
    np.testing.assert_allclose(z_scored[keys == "a"].std(axis=0), 1.0)
    assert "centred with the statistics of all neurons" in normalization.note


def test_each_session_is_normalised_with_the_statistics_of_all_its_neurons(files: list[Path]) -> None:
    recordings = [open_recording(path) for path in files]
    rng = np.random.default_rng(1)
    vectors = [rng.normal(size=(r.n_neurons, 3)) * [1.0, 3.0, 0.5] + index for index, r in enumerate(recordings)]
    for recording in recordings:  # only RS and FS neurons keep a label: the others are in the sessions unlabelled
        kept = recording.neuron_metadata["cell_type"].isin(["RS", "FS"])
        recording.neuron_metadata["cell_type"] = recording.neuron_metadata["cell_type"].where(kept, None)
    result = evaluate(recordings, label="cell_type", embeddings=vectors, methods=["neurpir"], progress=False)
    expected = []
    for recording, matrix in zip(recordings, vectors):
        labelled = recording.neuron_metadata["cell_type"].notna().to_numpy()
        expected.append(((matrix - matrix.mean(axis=0)) / matrix.std(axis=0))[labelled])
    assert result.n_labelled < result.n_neurons
    np.testing.assert_allclose(result.view.vectors, np.concatenate(expected))


def test_a_few_labelled_neurons_among_many_are_normalised_within_their_session(files: list[Path]) -> None:
    recordings = [open_recording(path) for path in files]
    vectors = [np.random.default_rng(2).normal(size=(r.n_neurons, 3)) + index for index, r in enumerate(recordings)]
    identified = []
    for recording in recordings:  # one identified neuron of each of three types per session, as in opto-tagging
        types = recording.neuron_metadata["cell_type"]
        first = np.isin(np.arange(len(types)), [np.flatnonzero(types == kind)[0] for kind in ("RS", "FS", "IB")])
        recording.neuron_metadata["cell_type"] = types.where(first, None)
        identified.append(first)
    assert all(r.n_neurons >= 3 + MIN_SESSION_NEURONS for r in recordings)
    result = evaluate(recordings, label="cell_type", embeddings=vectors, methods=["neurpir"], progress=False)
    assert result.settings["normalization"]["applied"] == "session"
    assert result.settings["normalization"]["fallback_sessions"] == []
    pooled, per_fold = result.notes  # only that its classes are small: 3 identified neurons each, 1 per fold
    assert pooled.startswith("cell_type FS (3), IB (3), RS (3): fewer than 5 labelled neurons")
    assert per_fold.startswith("cell_type classes with fewer than 5 test neurons in a fold: fold sim01 FS (1), ")
    expected = [((m - m.mean(axis=0)) / m.std(axis=0))[rows] for m, rows in zip(vectors, identified)]
    np.testing.assert_allclose(result.view.vectors, np.concatenate(expected))


def test_labels_never_change_how_a_session_is_normalised(files: list[Path]) -> None:
    """The same neurons and vectors, once with the first session's 10 neurons labelled FS and RS, once all FS: its
    neurons are z-scored alike (normalisation is label-free); a note says what z-scoring does to a one-class
    session."""
    def run(relabel: bool) -> object:
        recordings = [open_recording(files[0], unit_filter="cell_type in ['FS', 'RS']"),
                      *[open_recording(path) for path in files[1:]]]
        if relabel:
            recordings[0].neuron_metadata["cell_type"] = "FS"
        vectors = [np.random.default_rng(index).normal(size=(r.n_neurons, 3)) + index
                   for index, r in enumerate(recordings)]
        return evaluate(recordings, label="cell_type", embeddings=vectors, methods=["neurpir"], progress=False)

    two_classes, one_class = run(relabel=False), run(relabel=True)
    assert one_class.settings["normalization"] == two_classes.settings["normalization"]
    assert one_class.settings["normalization"]["fallback_sessions"] == []
    np.testing.assert_allclose(one_class.view.vectors, two_classes.view.vectors)
    (note,) = [note for note in one_class.notes if "single cell_type" in note]
    assert note.startswith("1 of 3 sessions (17% of the labelled neurons) hold labelled neurons of a single "
                           "cell_type (e.g. sim01/sim01s01): z-scored per session, they lose")
    assert not any("single cell_type" in note for note in two_classes.notes)


def test_a_few_one_class_sessions_fall_back_to_the_statistics_of_all_neurons(files: list[Path]) -> None:
    recordings = [open_recording(path, keep_spike_times=True) for path in files[1:]]
    recordings += _one_class_sessions(files[:1], [("FS",)])
    with pytest.warns(UserWarning, match=r"--normalize session: 1 of 3 sessions \(9% of the neurons\).*statistics "
                                         "of all neurons instead"):
        result = evaluate(recordings, label="cell_type", methods=["hand"], normalize="session", progress=False)
    normalization = result.settings["normalization"]
    assert normalization["applied"] == "session" and normalization["fallback_sessions"] == ["sim01/sim01s01-FS"]

    keys = np.repeat(["a", "b", "c"], [10, 10, 3])
    x = np.random.default_rng(0).normal(5.0, 2.0, (23, 4))
    applied = choose_normalization("auto", keys).apply(x, keys)
    np.testing.assert_allclose(applied[:10].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(applied[20:], ((x - x.mean(axis=0)) / x.std(axis=0))[20:])


def test_chance_comes_from_the_training_classes(sparse: list) -> None:
    result = evaluate(sparse, label="cell_type", methods=["hand"], split="session", normalize="none",
                      progress=False)
    assert len(result.folds) == 15
    assert all(fold.chance == pytest.approx(0.2) for fold in result.folds)  # not 1 / (one class in the test)
    assert result.method("hand").pooled.chance == pytest.approx(0.2)
    permuted, p_value = result.method("hand").permutation
    assert 0.0 < permuted < 0.5 and 0.0 < p_value <= 1.0


def test_a_fold_whose_training_neurons_hold_one_class_is_left_out_with_a_note(files: list[Path]) -> None:
    recordings = _one_class_sessions(files, [("FS", "RS"), ("RS",), ("RS",)])
    with pytest.warns(UserWarning, match="fold sim01 is unscorable: its training neurons are all cell_type RS"):
        result = evaluate(recordings, label="cell_type", methods=["hand"], normalize="none", progress=False)
    sim01 = next(fold for fold in result.folds if fold.name == "sim01")
    assert not sim01.scorable and sim01.unscorable_because == "training neurons all RS"
    assert "UNSCORABLE (training neurons all RS)" in format_table(result)
    hand = result.method("hand")
    assert hand.scores[0] is None and [p.fold for p in hand.predictions] == ["sim02", "sim03"]


def test_no_scorable_fold_is_an_error_naming_the_classes(files: list[Path]) -> None:
    recordings = _one_class_sessions(files, [("FS",), ("RS",)])
    with pytest.raises(NeurPIRError, match=r"no fold can be scored \(sim01: cell_type training neurons all RS; "
                                           r"sim02: cell_type training neurons all FS\).*try --split kfold"):
        evaluate(recordings, label="cell_type", methods=["hand"], normalize="none", progress=False)


def test_folds_whose_class_is_not_in_training_are_unscorable(files: list[Path], tmp_path: Path) -> None:
    recordings = _one_class_sessions(files, [("FS",), ("RS", "IB"), ("RS", "IB")])
    with pytest.warns(UserWarning, match="fold sim01 is unscorable"):
        result = evaluate(recordings, label="cell_type", methods=["hand"], normalize="none", progress=False)
    sim01 = next(fold for fold in result.folds if fold.name == "sim01")
    assert not sim01.scorable and sim01.unscorable_classes == ("FS",)
    hand = result.method("hand")
    assert hand.scores[0] is None and len(hand.scored) == 2
    assert hand.n_scored == 20 and "sim01" not in {p.fold for p in hand.predictions}
    assert hand.balanced_accuracy.values == tuple(s.balanced_accuracy for s in hand.scored)
    report = json.loads(write_report(result, tmp_path, plots=False)["json"].read_text())
    assert report["unscorable_folds"] == ["sim01"] and report["folds"][0]["scorable"] is False
    assert "unscorable" in (tmp_path / "report.md").read_text()
    assert any(note.startswith("fold sim02: no test neuron of cell_type FS; its balanced accuracy averages")
               for note in result.notes)  # why its per-fold score and the pooled one can rank methods differently


def test_a_fold_lacking_a_training_class_says_what_chance_is_without_it(files: list[Path], tmp_path: Path) -> None:
    recordings = _one_class_sessions(files, [("FS", "RS", "IB"), ("RS", "IB"), ("FS", "RS", "IB")])
    with pytest.warns(UserWarning, match="fold sim02: no test neuron of cell_type FS"):
        result = evaluate(recordings, label="cell_type", methods=["hand"], normalize="none", progress=False)
    assert next(fold for fold in result.folds if fold.name == "sim02").chance == pytest.approx(1 / 3)  # unchanged
    note = ("fold sim02: chance 0.333 is 1/3 over the 3 classes of the training animals; a probe that never "
            "predicts the class this fold lacks (FS) has chance 1/2 (0.500)")
    paths = write_report(result, tmp_path, plots=False)
    assert f"- {note}\n" in paths["markdown"].read_text() and f"note: {note}" in format_table(result)
    assert note in json.loads(paths["json"].read_text())["notes"]
    assert not any(line.startswith(("- fold sim01: chance", "- fold sim03: chance"))
                   for line in paths["markdown"].read_text().splitlines())


def test_headline_is_the_pooled_out_of_fold_score(sparse: list) -> None:
    result = evaluate(sparse, label="cell_type", methods=["hand"], split="session", normalize="none",
                      progress=False)
    hand = result.method("hand")
    y_true = np.concatenate([p.y_true for p in hand.predictions])
    y_pred = np.concatenate([p.y_pred for p in hand.predictions])
    assert hand.n_scored == 75 == y_true.size
    assert hand.pooled.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    table = format_table(result)
    assert "pooled bal. acc." in table and "per-fold mean ± std" in table and "n scored" in table
    assert f"{hand.pooled.balanced_accuracy:.3f}" in table


def _constant_result(name: str, representation: str, folds: dict[str, tuple[list[str], list[str]]]) -> MethodResult:
    classes = ("A", "B")
    result = MethodResult(method=Method(name, representation, "logistic"), description=name, classes=classes)
    first_row = 0
    for fold, (y_true, y_pred) in folds.items():
        result.scores.append(score_fold(y_true, y_pred, classes, 2))
        rows = np.arange(first_row, first_row + len(y_true))
        result.predictions.append(FoldPredictions(fold, rows, np.array(y_true), np.array(y_pred), 2))
        first_row += len(y_true)
    return result


def _compare(primary: MethodResult, baseline: MethodResult, sessions_per_fold: int = 1) -> dict:
    """``compare`` with each fold an animal of ``sessions_per_fold`` sessions (its neurons dealt out in turn)."""
    subjects = np.concatenate([[p.fold] * p.y_true.size for p in primary.predictions])
    sessions = np.concatenate([[f"{p.fold}/s{i % sessions_per_fold}" for i in range(p.y_true.size)]
                               for p in primary.predictions])
    return compare(primary, baseline, subjects, sessions)


def test_a_constant_predictor_or_fold_noise_never_wins() -> None:
    truth = {"f1": (["A"] * 6 + ["B"] * 4, None), "f2": (["A"] * 3 + ["B"] * 7, None)}
    constant = _constant_result("neurpir", "neurpir", {f: (t, ["A"] * len(t)) for f, (t, _) in truth.items()})
    poor = _constant_result("hand", "hand", {"f1": (truth["f1"][0], ["B"] * 5 + ["A"] * 5),
                                             "f2": (truth["f2"][0], ["B"] * 5 + ["A"] * 5)})
    assert constant.pooled.balanced_accuracy > poor.pooled.balanced_accuracy
    verdict = _compare(constant, poor)
    assert verdict["winner"] is None
    assert "neurpir predicts a single class (A) for every neuron" in verdict["verdict"]

    good = _constant_result("neurpir", "neurpir", {"f1": (truth["f1"][0], truth["f1"][0]),
                                                   "f2": (truth["f2"][0], truth["f2"][0][:-2] + ["A", "A"])})
    noisy = _constant_result("hand", "hand", {"f1": (truth["f1"][0], truth["f1"][0][:-1] + ["A"]),
                                              "f2": (truth["f2"][0], truth["f2"][0])})
    close = _compare(good, noisy)
    assert close["winner"] is None and "no verdict: 2 sessions with a difference are too few" in close["verdict"]


def _fold_truth(n_folds: int, size: int = 50) -> dict[str, list[str]]:
    return {f"f{i}": ["A"] * (size // 2) + ["B"] * (size // 2) for i in range(n_folds)}


def _with_errors(truth: dict[str, list[str]], wrong: int) -> dict[str, tuple[list[str], list[str]]]:
    """Per fold: the true labels and predictions with the first ``wrong`` A and last ``wrong`` B flipped."""
    flip = {"A": "B", "B": "A"}
    return {fold: (t, [flip[v] if i < wrong or i >= len(t) - wrong else v for i, v in enumerate(t)])
            for fold, t in truth.items()}


def test_a_steady_small_gain_over_folds_is_no_winner_without_a_paired_test() -> None:
    truth = _fold_truth(4)  # the baseline gets one more neuron per fold right: per-fold gains all -0.02, spread 0
    primary = _constant_result("neurpir", "neurpir", _with_errors(truth, 6))
    baseline = _constant_result("hand", "hand", {f: (t, p[:-1] + [t[-1]]) for f, (t, p) in
                                                 _with_errors(truth, 6).items()})
    verdict = _compare(primary, baseline)
    assert verdict["per_fold_gain"]["values"] == pytest.approx([-0.02] * 4)
    assert verdict["winner"] is None and verdict["test"]["p_value"] > 0.05
    assert verdict["neuron_test"]["p_value"] == pytest.approx(0.12, abs=0.005)
    assert "neuron-level p = 0.124 ± 0.003 (secondary: neurons of one animal are not independent)" \
        in verdict["verdict"]
    assert "hand better on 4 of 4 animals, 4 of 4 sessions" in verdict["verdict"]
    assert "no verdict: 4 sessions with a difference are too few for the session-level test to reach p ≤ 0.05 " \
        "(smallest possible p 0.12)" in verdict["verdict"]


def test_a_clear_gain_wins_on_a_single_held_out_fold_of_many_sessions() -> None:
    truth = _fold_truth(1, size=100)
    primary = _constant_result("neurpir", "neurpir", _with_errors(truth, 2))
    baseline = _constant_result("hand", "hand", _with_errors(truth, 20))
    verdict = _compare(primary, baseline, sessions_per_fold=10)
    assert verdict["winner"] == "neurpir" and verdict["test"]["p_value"] == pytest.approx(2 / 2 ** 10)
    assert verdict["per_fold_gain"]["std"] is None
    assert ("neurpir better on 1 of 1 animals, 10 of 10 sessions (paired sign-flip test over sessions: p = 0.002 "
            "(exact, all 2^10 sign patterns)); neurpir is better; neuron-level p ≤ 0.0001") in verdict["verdict"]
    assert _compare(primary, baseline)["winner"] is None  # the same neurons as one session: no verdict


def test_the_verdict_says_when_folds_mix_protocols() -> None:
    truth = _fold_truth(3)
    primary = _constant_result("neurpir", "neurpir", _with_errors(truth, 2))
    primary.modes = ["transductive", "inductive", "inductive"]
    verdict = _compare(primary, _constant_result("hand", "hand", _with_errors(truth, 10)))
    assert verdict["verdict"].endswith("note: the compared folds mix transductive (f0) and inductive (f1, f2) ones")


def test_the_hand_features_effective_rank_does_not_depend_on_their_units() -> None:
    from nwb_neurpir.evaluation.diagnostics import effective_rank
    from nwb_neurpir.evaluation.probes import standardize_per_session

    features = np.random.default_rng(0).normal(size=(200, 12))
    in_other_units = features * np.geomspace(1e-3, 1e3, 12)  # a rate in Hz beside a fraction beside an ISI in ms
    assert effective_rank(in_other_units) < 2 < 10 < effective_rank(features)
    one_session = np.zeros(200)  # the diagnostics z-score the hand features' columns over all neurons
    assert effective_rank(standardize_per_session(in_other_units, one_session)) == pytest.approx(
        effective_rank(standardize_per_session(features, one_session)))


def test_raw_labels_named_like_a_group_but_outside_it_are_noted(sparse: list) -> None:
    from nwb_neurpir.evaluation.grouping import LabelGrouping

    grouping = LabelGrouping("subareas", {"FS": ("LTS",), "RS": ("IB", "CH")})  # as TH holds LP, LD ... but not TH
    result = evaluate(sparse, label="cell_type", grouping=grouping, methods=["hand"], normalize="none",
                      progress=False)
    assert "15 neurons whose cell_type is 'FS' itself are dropped: group FS of grouping subareas holds only LTS" \
        in result.notes
    assert any(note.startswith("15 neurons whose cell_type is 'RS' itself") for note in result.notes)


def test_every_grouping_notes_the_values_it_drops(sparse: list) -> None:
    from nwb_neurpir.evaluation.grouping import LabelGrouping

    grouping = LabelGrouping("two", {"fast": ("FS",), "regular": ("RS",)})  # no group is named like a raw value
    result = evaluate(sparse, label="cell_type", grouping=grouping, methods=["hand"], normalize="none",
                      progress=False)
    assert "grouping two drops 45 neurons whose cell_type is in no group: CH 15, IB 15, LTS 15" in result.notes
    many = LabelGrouping("one-each", {"fast": ("FS",), "slow": ("LTS",)})
    counts = {f"type{i}": 8 - i for i in range(7)}
    assert _notes_of_drops(many, counts) == ["grouping one-each drops 35 neurons whose cell_type is in no group: "
                                             "type0 8, type1 7, type2 6, type3 5, type4 4, and 2 more values "
                                             "(5 neurons)"]  # largest first; missing labels are not the grouping's


def _notes_of_drops(grouping: object, dropped: dict[str, int]) -> list[str]:
    from nwb_neurpir.evaluation.evaluate import _ungrouped_notes

    return _ungrouped_notes(grouping, {"<missing>": 3, **dropped, "<no embedding>": 1}, "cell_type")


def test_labelled_neurons_without_activity_are_noted(sparse: list) -> None:
    import dataclasses

    silent = [dataclasses.replace(sparse[0], activity=np.zeros_like(sparse[0].activity)), *sparse[1:]]
    result = evaluate(silent, label="cell_type", methods=["hand"], normalize="none", progress=False)
    assert "5 of the 75 labelled neurons have no activity in the observed time (units without spikes, kept as " \
           "all-zero rows); no representation can tell them apart" in result.notes
    assert not any("no activity" in note for note in evaluate(sparse, label="cell_type", methods=["hand"],
                                                               normalize="none", progress=False).notes)

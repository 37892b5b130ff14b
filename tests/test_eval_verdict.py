"""The verdict of NeurPIR against the best baseline rests on the held-out animals and their sessions, not on neurons.

Constructed predictions (every session a block of neurons of two classes, each method wrong on a chosen number of
each) check the test and the rules; simulated NWB files check what ``evaluate`` reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nwb_neurpir.evaluation import evaluate, format_table, write_report
from nwb_neurpir.evaluation.comparison import choose_baseline, compare
from nwb_neurpir.evaluation.methods import Method
from nwb_neurpir.evaluation.metrics import monte_carlo_p_text, score_fold
from nwb_neurpir.evaluation.replication import sign_flip_test
from nwb_neurpir.evaluation.results import FoldPredictions, MethodResult

Session = tuple[str, str, int, int, int]
"""(animal, session, neurons per class, errors of the first method per class, errors of the second per class)."""


def _block(n_a: int, n_b: int, wrong_a: int, wrong_b: int) -> tuple[list[str], list[str]]:
    """True and predicted labels of ``n_a`` A and ``n_b`` B neurons, the first ``wrong_a`` A and ``wrong_b`` B wrong."""
    return (["A"] * n_a + ["B"] * n_b,
            ["B"] * wrong_a + ["A"] * (n_a - wrong_a) + ["A"] * wrong_b + ["B"] * (n_b - wrong_b))


def _predictions(spec: list[Session], which: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Subjects, sessions, true and predicted labels of every neuron (``which`` 0: first method, 1: second)."""
    parts = []
    for subject, session, n, *errors in spec:
        y_true, y_pred = _block(n, n, errors[which], errors[which])
        parts.append(pd.DataFrame({"subject": subject, "session": f"{subject}/{session}", "true": y_true,
                                   "pred": y_pred}))
    frame = pd.concat(parts, ignore_index=True)
    return tuple(frame[c].to_numpy().astype(str) for c in ("subject", "session", "true", "pred"))


def _result(name: str, representation: str, subjects: np.ndarray, y_true: np.ndarray,
            y_pred: np.ndarray) -> MethodResult:
    """A method's result with one fold per animal (held out in turn)."""
    result = MethodResult(method=Method(name, representation, "logistic"), description=name, classes=("A", "B"))
    for animal in dict.fromkeys(subjects.tolist()):
        rows = np.flatnonzero(subjects == animal)
        result.scores.append(score_fold(y_true[rows], y_pred[rows], ("A", "B"), 2))
        result.predictions.append(FoldPredictions(animal, rows, y_true[rows], y_pred[rows], 2))
        result.modes.append("inductive")
    return result


def _method(name: str, representation: str, spec: list[Session], which: int) -> MethodResult:
    subjects, _, y_true, y_pred = _predictions(spec, which)
    return _result(name, representation, subjects, y_true, y_pred)


def _verdict(spec: list[Session]) -> dict:
    subjects, sessions, _, _ = _predictions(spec, 0)
    return compare(_method("neurpir", "neurpir", spec, 0), _method("hand", "hand", spec, 1), subjects, sessions)


def test_sign_flip_test_is_exact_for_few_sessions_and_drawn_for_many() -> None:
    exact = sign_flip_test([0.1, 0.2, 0.3, -0.05, 0.0])  # the zero gain is the same under either sign: 4 units
    assert exact.exact and exact.n_units == 4 and exact.n_patterns == 16 and exact.smallest_p == pytest.approx(1 / 8)
    assert exact.p_value == pytest.approx(4 / 16)  # the observed sum 0.55 and 0.65 (-0.05 flipped), and negated
    assert exact.monte_carlo_error is None and exact.text() == "p = 0.25 (exact, all 2^4 sign patterns)"
    assert sign_flip_test([0.1] * 9).p_value == pytest.approx(2 / 512)
    drawn = sign_flip_test([0.1] * 12 + [-0.1] * 8, n_shuffles=20_000)
    assert not drawn.exact and drawn.n_patterns == 20_000
    assert drawn.p_value == pytest.approx(0.503, abs=0.02)  # P(|Binomial(20, 1/2) - 10| >= 2)
    assert drawn.monte_carlo_error == pytest.approx(np.sqrt(drawn.p_value * (1 - drawn.p_value) / 20_000))
    assert drawn.text().endswith("± 0.004 (20000 random sign patterns)")


def test_monte_carlo_p_says_its_floor_and_its_error() -> None:
    assert monte_carlo_p_text(1 / 201, 200) == "p ≤ 0.005"
    assert monte_carlo_p_text(0.0556, 10_000) == "p = 0.0556 ± 0.002"


def test_many_neurons_of_one_session_do_not_make_a_winner() -> None:
    spec = [("m1", "big", 500, 50, 200),  # neurpir far better on one large session...
            *[(animal, f"s{i}", 10, 3, 2) for animal in ("m1", "m2", "m3") for i in range(3)]]  # ...worse elsewhere
    verdict = _verdict(spec)
    assert verdict["neuron_test"]["p_value"] < 0.001  # over neurons neurpir "wins"
    assert verdict["balanced_accuracy_gain"] > 0.1
    assert verdict["leader"] == "hand" and verdict["winner"] is None
    assert verdict["agreement"]["sessions"] == {"better": 9, "worse": 1, "tied": 0, "n": 10}
    assert verdict["test"]["exact"] and verdict["test"]["p_value"] > 0.05
    assert "hand better on 2 of 3 animals, 9 of 10 sessions" in verdict["verdict"]
    assert "no clear difference: the session-level test finds no difference (p > 0.05); animal m1 (+" \
        in verdict["verdict"]
    assert "neuron-level p ≤ 0.0001 (secondary: neurons of one animal are not independent)" in verdict["verdict"]


def test_an_animal_going_the_other_way_blocks_the_verdict() -> None:
    consistent = [(animal, f"s{i}", 10, 1, 3) for animal in ("m1", "m2", "m3") for i in range(3)]
    verdict = _verdict(consistent)
    assert verdict["winner"] == "neurpir" and verdict["test"]["p_value"] == pytest.approx(2 / 512)
    assert "neurpir better on 3 of 3 animals, 9 of 9 sessions" in verdict["verdict"]
    assert [g["gain"] for g in verdict["per_animal"]] == pytest.approx([0.2] * 3)
    assert verdict["per_session"][0] == {"name": "m1/s0", "subject": "m1", "gain": pytest.approx(0.2),
                                         "first": 0.9, "second": 0.7, "n_neurons": 20}
    # as on Steinmetz: better on most sessions, but one held-out animal (m3) on the whole goes the other way
    spec = [*consistent[:6], ("m3", "s0", 10, 1, 3), ("m3", "s1", 80, 6, 2), ("m3", "s2", 10, 1, 2)]
    verdict = _verdict(spec)
    assert verdict["test"]["p_value"] < 0.05 and verdict["winner"] is None
    assert verdict["agreement"]["animals"] == {"better": 2, "worse": 1, "tied": 0, "n": 3}
    assert "neurpir better on 2 of 3 animals, 8 of 9 sessions" in verdict["verdict"]
    assert "no clear difference: animal m3 (-0.010) goes the other way" in verdict["verdict"]


def test_too_few_sessions_give_no_verdict() -> None:
    verdict = _verdict([(animal, "s0", 50, 0, 25) for animal in ("m1", "m2", "m3")])
    assert verdict["winner"] is None and verdict["too_few_sessions"]
    assert verdict["neuron_test"]["p_value"] < 0.001
    assert ("no verdict: 3 sessions with a difference are too few for the session-level test to reach p ≤ 0.05 "
            "(smallest possible p 0.25)") in verdict["verdict"]


def test_one_session_with_a_difference_is_too_few() -> None:
    verdict = _verdict([("m1", "s0", 50, 0, 25), *[(animal, "s0", 50, 5, 5) for animal in ("m2", "m3")]])
    assert verdict["winner"] is None and verdict["test"]["n_units"] == 1
    assert ("no verdict: 1 session with a difference is too few for the session-level test to reach p ≤ 0.05 "
            "(smallest possible p 1)") in verdict["verdict"]


def test_the_best_baseline_is_chosen_per_fold_and_a_different_pooled_ranking_is_said() -> None:
    animals = {"m1": (50, 10), "m2": (50, 10), "m3": (10, 100)}  # m3 holds most of the B neurons
    hand = {"m1": (10, 2), "m2": (10, 2), "m3": (2, 20)}  # recall 0.8 everywhere
    gb = {"m1": (0, 0), "m2": (0, 0), "m3": (0, 50)}  # perfect on m1 and m2, half the B neurons of m3 wrong
    subjects = np.repeat(list(animals), [sum(n) for n in animals.values()])
    sessions = np.char.add(subjects, "/s0")

    def arrays(errors: dict) -> tuple[np.ndarray, np.ndarray]:
        pairs = [_block(*animals[a], *errors[a]) for a in animals]
        return tuple(np.concatenate([pair[i] for pair in pairs]).astype(str) for i in (0, 1))

    y_true, hand_pred = arrays(hand)
    hand_result = _result("hand", "hand", subjects, y_true, hand_pred)
    gb_result = _result("hand:gb", "hand", subjects, y_true, arrays(gb)[1])
    assert gb_result.balanced_accuracy.mean == pytest.approx((1 + 1 + 0.75) / 3)
    assert hand_result.balanced_accuracy.mean == pytest.approx(0.8) == hand_result.pooled.balanced_accuracy
    assert gb_result.pooled.balanced_accuracy < 0.8
    best, note = choose_baseline([hand_result, gb_result])
    assert best is gb_result
    assert note == ("chosen by mean over folds, 0.917 against 0.800; pooled balanced accuracy ranks hand first, "
                    "0.800 against 0.792")
    assert choose_baseline([hand_result]) == (hand_result, None)
    verdict = compare(_result("neurpir", "neurpir", subjects, y_true, hand_pred), gb_result, subjects, sessions, note)
    assert verdict["verdict"].startswith(f"neurpir vs best baseline hand:gb ({note}): ")
    assert verdict["best_baseline"] == "hand:gb" and verdict["baseline_note"] == note


@pytest.fixture(scope="module")
def nine_sessions(tmp_path_factory: pytest.TempPathFactory) -> list:
    """3 simulated animals x 3 sessions x 25 neurons (5 per cell type) x 20 s, as NWB files read back."""
    from nwb_neurpir.io import open_recordings
    from nwb_neurpir.simulate import SimulationConfig
    from nwb_neurpir.simulate.nwb_output import write_dataset

    folder = tmp_path_factory.mktemp("nine")
    write_dataset(folder, SimulationConfig(n_animals=3, sessions_per_animal=3, n_neurons=25, duration_s=20.0, seed=3),
                  modality="spikes", progress=False)
    return list(open_recordings([folder], progress=False, keep_spike_times=True))


def _telling_vectors(recordings: list, noise: float) -> list[np.ndarray]:
    """Per recording, vectors that tell the cell type (a one-hot code) through Gaussian noise."""
    rng = np.random.default_rng(0)
    kinds = ("CH", "FS", "IB", "LTS", "RS")
    return [np.eye(len(kinds))[[kinds.index(k) for k in r.neuron_metadata["cell_type"]]]
            + noise * rng.normal(size=(r.n_neurons, len(kinds))) for r in recordings]


def test_evaluate_reports_the_verdict_over_animals_and_sessions(nine_sessions: list, tmp_path: Path) -> None:
    result = evaluate(nine_sessions, label="cell_type", embeddings=_telling_vectors(nine_sessions, 0.05),
                      methods=["neurpir", "hand"], normalize="none", progress=False)
    comparison = result.comparison()
    assert [g["name"] for g in comparison["per_animal"]] == ["sim01", "sim02", "sim03"]
    assert len(comparison["per_session"]) == 9 and comparison["test"]["exact"]
    assert comparison["winner"] == "neurpir" and comparison["test"]["p_value"] == pytest.approx(2 / 512)
    assert "neurpir better on 3 of 3 animals, 9 of 9 sessions (paired sign-flip test over sessions: p = 0.0039 " \
           "(exact, all 2^9 sign patterns)); neurpir is better; neuron-level p ≤ 0.0001" in comparison["verdict"]
    table = format_table(result)
    assert comparison["verdict"] in table and "(p ≤ 0.005)" in table and "(p 0.005)" not in table
    paths = write_report(result, tmp_path, plots=False)
    report = json.loads(paths["json"].read_text())["comparison"]
    assert report["test"]["name"] == "paired sign-flip test over sessions" and report["test"]["n_units"] == 9
    assert report["neuron_test"]["name"] == "paired permutation test over neurons"
    assert report["agreement"]["animals"]["better"] == 3 and report["per_session"][0]["subject"] == "sim01"
    markdown = paths["markdown"].read_text()
    assert "## neurpir vs best baseline hand" in markdown and "| session | sim01/" in markdown
    assert "`f1_score(average=\"macro\")`" in markdown
    assert "recorded_session" not in paths["predictions"].read_text().splitlines()[0]


def test_evaluate_on_three_sessions_gives_no_verdict(nine_sessions: list) -> None:
    first = [r for r in nine_sessions if r.session_id.endswith("s01")]
    result = evaluate(first, label="cell_type", embeddings=_telling_vectors(first, 0.05),
                      methods=["neurpir", "hand"], normalize="none", progress=False)
    assert len({r.subject_id for r in first}) == 3 == len(first)
    comparison = result.comparison()
    assert comparison["winner"] is None and comparison["neuron_test"]["p_value"] < 0.01
    assert "no verdict: 3 sessions with a difference are too few" in comparison["verdict"]

"""Folds: leave-one-animal-out never shares an animal; session and k-fold splits; impossible splits are clear."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.splits import make_folds, only_held_out


def _neurons(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    subjects = rng.choice(["m1", "m2", "m3", "m4"], n)
    sessions = np.char.add(np.char.add(subjects, "/s"), rng.integers(0, 3, n).astype(str))
    labels = rng.choice(["A", "B", "C"], n)
    return subjects, sessions, labels


@pytest.mark.parametrize("seed", range(5))
def test_leave_one_animal_out_never_shares_an_animal(seed: int) -> None:
    subjects, sessions, labels = _neurons(seed)
    folds = make_folds(subjects, sessions, labels, "animal")
    assert [fold.name for fold in folds] == list(dict.fromkeys(subjects.tolist()))
    for fold in folds:
        assert not set(subjects[fold.train]) & set(subjects[fold.test])
        assert set(subjects[fold.test]) == set(fold.held_out_subjects) == {fold.name}
        assert fold.animal_disjoint
        assert np.union1d(fold.train, fold.test).size == subjects.size
    assert np.sort(np.concatenate([fold.test for fold in folds])).tolist() == list(range(subjects.size))


def test_leave_one_session_out_keeps_other_sessions_of_the_animal() -> None:
    subjects, sessions, labels = _neurons()
    folds = make_folds(subjects, sessions, labels, "session")
    assert len(folds) == np.unique(sessions).size
    for fold in folds:
        assert set(sessions[fold.test]) == {fold.name}
        assert fold.name not in set(sessions[fold.train])
        assert not fold.animal_disjoint


def test_kfold_is_stratified_within_animals() -> None:
    subjects, sessions, labels = _neurons()
    folds = make_folds(subjects, sessions, labels, "kfold", n_splits=4, seed=1)
    assert len(folds) == 4
    assert np.sort(np.concatenate([fold.test for fold in folds])).tolist() == list(range(subjects.size))
    for fold in folds:
        for subject in ("m1", "m2", "m3", "m4"):
            share = np.mean(subjects[fold.test] == subject) / np.mean(subjects == subject)
            assert 0.8 < share < 1.2


def test_impossible_splits_raise_clear_errors() -> None:
    subjects, sessions, labels = _neurons()
    with pytest.raises(NeurPIRError, match="at least two animals"):
        make_folds(np.full(10, "m1"), sessions[:10], labels[:10], "animal")
    with pytest.raises(NeurPIRError, match="unknown split"):
        make_folds(subjects, sessions, labels, "random")
    with pytest.raises(NeurPIRError, match="at least 2 folds"):
        make_folds(subjects, sessions, labels, "kfold", n_splits=1)


def test_a_fold_whose_training_neurons_hold_one_class_is_made_not_refused() -> None:
    subjects, sessions, labels = _neurons()
    one_class_elsewhere = np.where(subjects == "m1", labels, "A")
    folds = make_folds(subjects, sessions, one_class_elsewhere, "animal")
    m1 = next(fold for fold in folds if fold.name == "m1")
    assert set(one_class_elsewhere[m1.train]) == {"A"} and len(folds) == np.unique(subjects).size


def test_only_the_folds_of_the_animals_asked_for_are_kept() -> None:
    subjects, sessions, labels = _neurons()
    folds = make_folds(subjects, sessions, labels, "animal")
    assert [fold.name for fold in only_held_out(folds, ["m3"])] == ["m3"]
    by_session = make_folds(subjects, sessions, labels, "session")
    assert {fold.name for fold in only_held_out(by_session, ["m2"])} == {f"m2/s{i}" for i in range(3)}
    assert [fold.name for fold in only_held_out(by_session, ["m2/s1"])] == ["m2/s1"]
    with pytest.raises(NeurPIRError, match="no fold holds out 'm9'; the folds hold out m"):
        only_held_out(folds, ["m3", "m9"])


def test_leave_one_session_out_holds_out_every_recording_of_the_session() -> None:
    keys = np.array(["m1/s1", "m1/s1#2", "m1/s2", "m2/s1"]).repeat(5)
    sessions = np.array(["m1/s1", "m1/s1", "m1/s2", "m2/s1"]).repeat(5)
    subjects, labels = np.char.partition(sessions, "/")[:, 0], np.tile(["A", "B"], 10)
    folds = make_folds(subjects, keys, labels, "session", sessions=sessions)
    assert [fold.name for fold in folds] == ["m1/s1", "m1/s2", "m2/s1"]
    assert folds[0].held_out_sessions == ("m1/s1", "m1/s1#2") and folds[0].test.tolist() == list(range(10))

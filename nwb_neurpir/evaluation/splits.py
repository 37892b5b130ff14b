"""Train/test folds over neurons that answer "does it generalise to an animal (or session) never seen?".

* ``animal`` (default): leave one animal (``subject_id``) out; no animal is ever on both sides. An animal is a file's
  ``/general/subject/subject_id``; a file without one is an animal of its own, ``(<session id>)``
  (``nwb_neurpir.io.identity``), and ``animal_notes`` says so.
* ``session``: leave one session out; other sessions of the same animal stay in training. Every recording of the
  held-out session (two spike sortings of it) is held out with it.
* ``kfold``: stratified k-fold with every animal's neurons spread over the folds (train and test share animals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.identity import is_stand_in, similar_subjects
from nwb_neurpir.unicode_forms import nfc

__all__ = ["SPLITS", "Fold", "Split", "animal_notes", "make_folds", "only_held_out"]

Split = Literal["animal", "session", "kfold"]
SPLITS: tuple[str, ...] = ("animal", "session", "kfold")


@dataclass(frozen=True)
class Fold:
    """One train/test partition of the labelled neurons (indices into the evaluation's neuron table)."""

    name: str
    """The held-out animal (``animal``), session (``session``) or ``fold<n>`` (``kfold``)."""
    train: np.ndarray
    test: np.ndarray
    held_out_subjects: tuple[str, ...]
    """Animals whose neurons are in ``test``."""
    held_out_sessions: tuple[str, ...]
    """Session keys (as given to ``make_folds``) whose neurons are in ``test``."""
    animal_disjoint: bool
    """True when no test animal contributes a training neuron."""
    split: str
    """How the folds were made: ``animal``, ``session`` or ``kfold``."""


def make_folds(
    subject_ids: Sequence[str],
    session_keys: Sequence[str],
    labels: Sequence[str],
    split: Split = "animal",
    n_splits: int = 5,
    seed: int = 0,
    sessions: Sequence[str] | None = None,
) -> list[Fold]:
    """Folds over neurons given each neuron's animal, session key (unique across animals: one per recording) and
    class. ``sessions`` (default: the session keys) names the session each neuron was recorded in, one name for
    every recording of it: ``session`` holds out each session whole, so no recording of it stays in training.

    Raises NeurPIRError when the split is impossible (one animal only, too few neurons for k folds...); a fold
    whose training neurons hold a single class is returned (``results.describe_fold`` says it cannot be scored).
    """
    subjects = np.asarray(subject_ids, dtype=str)
    keys = np.asarray(session_keys, dtype=str)
    recorded_in = keys if sessions is None else np.asarray(sessions, dtype=str)
    labels = np.asarray(labels, dtype=str)
    if not subjects.size == keys.size == recorded_in.size == labels.size:
        raise ValueError("subject_ids, session_keys, sessions and labels must have the same length")
    if split == "animal":
        folds = _leave_one_out(subjects, subjects, keys, split)
    elif split == "session":
        folds = _leave_one_out(recorded_in, subjects, keys, split)
    elif split == "kfold":
        folds = _stratified_kfold(subjects, keys, labels, n_splits, seed)
    else:
        raise NeurPIRError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return folds


def animal_notes(subject_ids: Sequence[str]) -> list[str]:
    """What a reader of leave-one-animal-out scores must know about the animals: files without a subject id (each
    an animal of its own) and subject ids that differ only by case, punctuation, whitespace or character width
    (perhaps one animal on both sides of a fold)."""
    subjects = list(dict.fromkeys(str(subject) for subject in subject_ids))
    notes = []
    stand_ins = [subject for subject in subjects if is_stand_in(subject)]
    if stand_ins:
        notes.append(f"{len(stand_ins)} recording(s) have no general/subject/subject_id; each counts as an animal of "
                     f"its own, named by its session id: {', '.join(stand_ins)}; if some are one animal, it is on "
                     "both sides of a fold and the scores are optimistic")
    for group in similar_subjects(subjects):
        notes.append(f"subject ids {' and '.join(repr(subject) for subject in group)} differ only by case, "
                     "punctuation, whitespace or character width and count as different animals; if they are one, it "
                     "is on both sides of a fold (correct general/subject/subject_id in the files)")
    return notes


def only_held_out(folds: list[Fold], names: Sequence[str]) -> list[Fold]:
    """The folds that hold out one of ``names`` (an animal, or a fold's own name: a session under ``session``),
    for scoring only the animals a model never saw; a name no fold holds out is a ``NeurPIRError``. Names are
    compared in Unicode normal form C (``Zürich-m3`` typed with a precomposed ``ü`` names the animal a file spells
    with a combining accent)."""
    wanted = {nfc(name) for name in names}
    kept = [fold for fold in folds if {nfc(name) for name in (fold.name, *fold.held_out_subjects)} & wanted]
    known = {nfc(name) for fold in folds for name in (fold.name, *fold.held_out_subjects)}
    unknown = [name for name in names if nfc(name) not in known]
    if unknown:
        raise NeurPIRError(f"no fold holds out {unknown[0]!r}; the folds hold out "
                           f"{', '.join(fold.name for fold in folds)}")
    return kept


def _leave_one_out(keys: np.ndarray, subjects: np.ndarray, sessions: np.ndarray, unit: Split) -> list[Fold]:
    values = list(dict.fromkeys(keys.tolist()))
    if len(values) < 2:
        found = f"all come from {unit} {values[0]}" if values else "there are none"
        raise NeurPIRError(f"leave-one-{unit}-out needs labelled neurons from at least two {unit}s; they {found}"
                           if values else f"leave-one-{unit}-out needs labelled neurons; {found}")
    folds = []
    for value in values:
        test = np.flatnonzero(keys == value)
        train = np.flatnonzero(keys != value)
        test_subjects = tuple(dict.fromkeys(subjects[test].tolist()))
        disjoint = not set(test_subjects) & set(subjects[train].tolist())
        folds.append(Fold(name=value, train=train, test=test, held_out_subjects=test_subjects,
                          held_out_sessions=tuple(dict.fromkeys(sessions[test].tolist())), animal_disjoint=disjoint,
                          split=unit))
    return folds


def _stratified_kfold(subjects: np.ndarray, sessions: np.ndarray, labels: np.ndarray, n_splits: int,
                      seed: int) -> list[Fold]:
    from sklearn.model_selection import StratifiedKFold

    if n_splits < 2:
        raise NeurPIRError(f"k-fold needs at least 2 folds, got {n_splits}")
    strata = np.char.add(np.char.add(subjects, "|"), labels)
    _, stratum_codes, stratum_counts = np.unique(strata, return_inverse=True, return_counts=True)
    if stratum_counts.max() < n_splits:
        raise NeurPIRError(f"k-fold with {n_splits} folds needs at least {n_splits} neurons of some class in some "
                           "animal")
    # Strata (animal x class) smaller than n_splits are merged into their animal so StratifiedKFold stays valid.
    rare = stratum_counts[stratum_codes] < n_splits
    strata = np.where(rare, np.char.add(subjects, "|<rare>"), strata)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = []
    for index, (train, test) in enumerate(splitter.split(np.zeros(labels.size), strata)):
        folds.append(Fold(name=f"fold{index + 1}", train=train, test=test,
                          held_out_subjects=tuple(dict.fromkeys(subjects[test].tolist())),
                          held_out_sessions=tuple(dict.fromkeys(sessions[test].tolist())), animal_disjoint=False,
                          split="kfold"))
    return folds

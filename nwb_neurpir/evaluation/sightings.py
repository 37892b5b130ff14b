"""Folds whose test recordings a given model was trained on although its training data names none of their files:
re-exported files keep the activity but get another NWB identifier, the name a model records. A fold is then
transductive when a test recording holds the very activity of a training session (``recording_fingerprint`` equal to
the ``activity_sha256`` model.json records). When animals are held out and a held-out animal's subject id is among the
training sessions' ones but no recording matches by identifier or activity, the fold is ``possibly transductive``:
subject ids such as ``M1`` recur across labs, so it may be another animal (inductive) or the same one recorded again
(transductive)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.splits import Fold
    from nwb_neurpir.model import NeurPIR
    from nwb_neurpir.recording import Recording

__all__ = ["POSSIBLY_TRANSDUCTIVE", "unnamed_sightings"]

POSSIBLY_TRANSDUCTIVE = "possibly transductive"
"""The mode of a fold whose held-out animal shares its subject id alone with a training session."""


def unnamed_sightings(model: NeurPIR, recordings: Sequence[Recording], keys: Sequence[str],
                      folds: Sequence[Fold]) -> dict[str, tuple[str, str]]:
    """Fold name -> (mode, why): ``transductive`` when the model saw its test recordings' activity, else
    ``POSSIBLY_TRANSDUCTIVE`` when it saw a held-out animal's subject id only (``keys``: each recording's session
    key, as the folds name them), for the folds none of whose test recordings the model's training data names (those
    are transductive already). The training sessions include those of the models a fine-tuned model started from
    (``NeurPIR.seen_sessions``). Only recordings of a training session's shape are hashed."""
    from nwb_neurpir.model.sessions import hashed_key, session_key

    trained = model.seen_sessions()
    named = set(model.seen_data())
    found = {}
    for fold in folds:
        tested = [(recording, key) for recording, key in zip(recordings, keys) if key in fold.held_out_sessions]
        if any({session_key(recording), hashed_key(session_key(recording))} & named for recording, _ in tested):
            continue
        copies, animals = _copies(tested, trained), _animals(fold, trained)
        if copies:
            found[fold.name] = ("transductive", "; ".join(copies + animals))
        elif animals:
            found[fold.name] = (POSSIBLY_TRANSDUCTIVE, "; ".join(animals))
    return found


def _copies(tested: list[tuple[Recording, str]], trained: list[dict[str, Any]]) -> list[str]:
    """``<session> holds the activity of training session <key> (<location>)`` for each tested recording (with its
    session key) whose activity fingerprint is a training session's."""
    from nwb_neurpir.model.sessions import recording_fingerprint

    shapes = {(session.get("n_neurons"), session.get("n_bins")) for session in trained}
    said = []
    for recording, key in tested:
        if (recording.n_neurons, recording.n_bins) not in shapes:
            continue
        sha = recording_fingerprint(recording)["activity_sha256"]
        for session in trained:
            if session.get("activity_sha256") == sha:
                where = f" ({session['location']})" if session.get("location") else ""
                said.append(f"{key} holds the activity of training session "
                            f"{session.get('key')}{where}")
    return said


def _animals(fold: Fold, trained: list[dict[str, Any]]) -> list[str]:
    """``animal <id> is among the training sessions' subject ids`` for each animal a leave-one-animal-out fold holds
    out that the model was trained on."""
    if fold.split != "animal":
        return []
    subjects = {str(session.get("subject_id")) for session in trained}
    return [f"animal {animal} is among the training sessions' subject ids" for animal in fold.held_out_subjects
            if animal in subjects]

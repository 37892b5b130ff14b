"""Notes on what each fold's score rests on: chance without the classes a fold lacks, test classes of a handful of
neurons, and probes that predicted one class for a whole fold. ``evaluate`` adds them to the result's ``notes``, the
one list every output (terminal, report.md, report.json, ``--json``) prints."""

from __future__ import annotations

from collections.abc import Sequence

from nwb_neurpir.evaluation.metrics import FEW_NEURONS
from nwb_neurpir.evaluation.results import FoldInfo, MethodResult

__all__ = ["fold_notes"]


def fold_notes(folds: Sequence[FoldInfo], methods: Sequence[MethodResult], label: str, split: str) -> list[str]:
    """Every note on the scorable ``folds`` and the ``methods``' predictions on them."""
    training = {"animal": "animals", "session": "sessions"}.get(split, "neurons")
    scorable = [fold for fold in folds if fold.scorable]
    few = _few_test_neurons_note(scorable, label)
    return [*[_chance_note(fold, training) for fold in scorable if fold.untested_classes], *([few] if few else []),
            *filter(None, (_single_class_note(method) for method in methods))]


def _chance_note(fold: FoldInfo, training: str) -> str:
    """What chance is for a probe that never predicts the training classes ``fold``'s test neurons lack."""
    k, lacking = len(fold.training_classes), fold.untested_classes
    return (f"fold {fold.name}: chance {fold.chance:.3f} is 1/{k} over the {k} classes of the training {training}; "
            f"a probe that never predicts the class{'es' * (len(lacking) > 1)} this fold lacks "
            f"({', '.join(lacking)}) has chance 1/{k - len(lacking)} ({1 / (k - len(lacking)):.3f})")


def _few_test_neurons_note(folds: Sequence[FoldInfo], label: str) -> str | None:
    """One line naming every (fold, class) whose test neurons number 1 to ``FEW_NEURONS - 1``, or None."""
    few = [f"fold {fold.name} {name} ({count})" for fold in folds for name, count in fold.test_counts.items()
           if 0 < count < FEW_NEURONS and name in fold.training_classes]
    if not few:
        return None
    return (f"{label} classes with fewer than {FEW_NEURONS} test neurons in a fold: {', '.join(few)}; such a "
            "class's recall, and the fold's balanced accuracy that averages it, rests on those few neurons")


def _single_class_note(method: MethodResult) -> str | None:
    """A note naming the folds where ``method`` predicted one class for every test neuron though its probe could
    choose between two or more, or None."""
    constant = [f"{p.fold} ({p.y_pred[0]})" for p in method.predictions
                if p.n_choices >= 2 and len(p.y_pred) and len(set(p.y_pred.tolist())) == 1]
    if not constant:
        return None
    return (f"{method.method.name} predicted a single class for every test neuron of fold{'s' * (len(constant) > 1)} "
            f"{', '.join(constant)}; its score there measures no separation of the classes")

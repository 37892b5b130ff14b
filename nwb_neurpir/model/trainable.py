"""Which recordings training can use: the loss compares neurons within a recording, so a recording needs two."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.recording import Recording

__all__ = ["MIN_NEURONS", "trainable_recordings"]

MIN_NEURONS = 2
"""Neurons a recording needs to be trained on, and that each recording keeps for training after the hold-out."""

_WHY = f"a recording needs at least {MIN_NEURONS} to be trained on: the loss compares neurons within a recording"


def trainable_recordings(recordings: Sequence[Recording]) -> list[Recording]:
    """The recordings with at least ``MIN_NEURONS`` neurons, in order; each other one is left out with a warning
    naming it. When none has that many, a ``NeurPIRError`` naming them."""
    kept = [r for r in recordings if r.n_neurons >= MIN_NEURONS]
    small = [r for r in recordings if r.n_neurons < MIN_NEURONS]
    if not kept and len(small) == 1:
        raise NeurPIRError(f"{_neurons(small[0])}, too few to train on ({_WHY})", small[0].source.label())
    if not kept:
        named = ", ".join(f"{r.source.label()} ({_neurons(r)})" for r in small[:3])
        more = f" and {len(small) - 3} more" if len(small) > 3 else ""
        raise NeurPIRError(f"no recording has enough neurons to train on ({_WHY}): {named}{more}")
    for recording in small:
        warnings.warn(f"{recording.source.label()}: {_neurons(recording)}, left out of training ({_WHY})",
                      stacklevel=3)
    return kept


def _neurons(recording: Recording) -> str:
    """``1 neuron`` (``passing the filter`` when one chose them)."""
    count = recording.n_neurons
    passing = " passing the filter" if recording.unit_filter else ""
    return f"{count} neuron{'' if count == 1 else 's'}{passing}"

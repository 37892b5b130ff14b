"""Per-neuron vectors of another method, given per recording (``evaluate(..., vectors=[GivenVectors...])``; read
from a table by ``nwb_neurpir.workflows.vectors_file``): scored beside NeurPIR and the hand features on the same
folds, as ``NAME``, ``NAME:PROBE`` and ``NAME+hand``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["GivenVectors", "check_name"]


@dataclass(frozen=True)
class GivenVectors:
    """One method's vectors: its name, what the report calls it, and per recording an (n_neurons, dim) matrix in
    the recording's neuron order (NaN rows for neurons it has no vector for)."""

    name: str
    description: str
    per_recording: list[np.ndarray]
    checkpoint_sha256: str = ""
    """The checksum of the model that made the vectors, when known."""
    training_data: tuple[str, ...] | None = None
    """The recordings (``session_key``) that model was trained on, when known: each fold is then inductive or
    transductive for the vectors; None: ``unknown``."""


def check_name(name: str) -> None:
    """Refuse a method name that is a built-in one, looks like one, or holds what separates method names."""
    from nwb_neurpir.evaluation.methods import REPRESENTATIONS

    if not name or any(c in name for c in "+:,= ") or name in REPRESENTATIONS or name.startswith(("neurpir", "hand")):
        raise NeurPIRError(f"--vectors name {name!r} is not usable: pick a name without + : , = or spaces that is "
                           "not a built-in method and starts with neither neurpir nor hand")

"""Per-session z-scoring of representations before a probe or a UMAP, and when it must not be used.

Z-scoring every column within a session removes session-wide offsets (rate scale, indicator brightness), but it
needs sessions whose neurons are many and varied: within a session of 1-6 neurons of one class it erases exactly
the class information the probe is asked to find. A session is *unfit* when it has fewer than
``MIN_SESSION_NEURONS`` neurons, or (when labels are known, as in an evaluation) all its labelled neurons share one
class. The label check only decides the preprocessing of all neurons alike; it never looks at a fold's split.

``auto`` (the default) z-scores per session when every session is fit and otherwise uses none, saying so;
``session`` refuses to run on unfit sessions; ``none`` leaves the vectors as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.probes import standardize_per_session

__all__ = ["MIN_SESSION_NEURONS", "NORMALIZATIONS", "Normalization", "choose_normalization", "unfit_sessions"]

NORMALIZATIONS = ("auto", "session", "none")
MIN_SESSION_NEURONS = 8


@dataclass(frozen=True)
class Normalization:
    """What was asked, what is applied, and why (``note`` is None when nothing needs saying)."""

    requested: str
    applied: str
    note: str | None = None

    def apply(self, x: np.ndarray, session_keys: np.ndarray) -> np.ndarray:
        return standardize_per_session(x, session_keys) if self.applied == "session" else x

    def to_dict(self) -> dict[str, str | None]:
        return {"requested": self.requested, "applied": self.applied, "note": self.note}


def unfit_sessions(session_keys: np.ndarray, labels: np.ndarray | None = None) -> dict[str, str]:
    """Session key -> why per-session z-scoring would be degenerate there."""
    session_keys = np.asarray(session_keys, dtype=str)
    unfit = {}
    for key in dict.fromkeys(session_keys.tolist()):
        rows = session_keys == key
        if rows.sum() < MIN_SESSION_NEURONS:
            unfit[key] = f"{int(rows.sum())} neurons"
        elif labels is not None and np.unique(np.asarray(labels)[rows]).size < 2:
            unfit[key] = "a single class"
    return unfit


def choose_normalization(requested: str, session_keys: np.ndarray, labels: np.ndarray | None = None) -> Normalization:
    """The normalisation to apply for ``requested`` (``auto``, ``session`` or ``none``) on these sessions."""
    if requested not in NORMALIZATIONS:
        raise NeurPIRError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}, not {requested!r}")
    if requested == "none":
        return Normalization(requested, "none")
    unfit = unfit_sessions(session_keys, labels)
    if not unfit:
        return Normalization(requested, "session")
    n_sessions = len(set(np.asarray(session_keys, dtype=str).tolist()))
    example = ", ".join(f"{key} ({why})" for key, why in list(unfit.items())[:3])
    problem = (f"{len(unfit)} of {n_sessions} sessions are too small or single-class for per-session z-scoring "
               f"(fewer than {MIN_SESSION_NEURONS} neurons or one class, e.g. {example}); it would erase the label")
    if requested == "session":
        raise NeurPIRError(f"--normalize session: {problem}; use --normalize auto or none")
    return Normalization(requested, "none", f"--normalize auto used none: {problem}")

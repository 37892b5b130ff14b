"""Per-session z-scoring (or centring) of representations before a probe or a UMAP, and where it must not be used.

Z-scoring every column within a session removes session-wide offsets (rate scale, indicator brightness), but it
needs sessions whose neurons are many and varied: within a session of 1-6 neurons of one class it erases exactly
the class information the probe is asked to find. A session is *unfit* when it has fewer than
``MIN_SESSION_NEURONS`` neurons, or (when labels are known, as in an evaluation) all its labelled neurons share one
class and fewer than ``MIN_SESSION_NEURONS`` other neurons share its statistics. The label check only decides the
preprocessing of a whole session; it never looks at a fold's split.

The statistics of a session come from all its neurons, labelled or not, when they are known (``apply``'s
``population``): which neurons carry a label must not shift the others' normalised vectors, and a session that
holds a few labelled (e.g. identified) neurons among many others is normalised on its own.

Unfit sessions are never z-scored on their own: they are z-scored with the statistics of all neurons instead, and
a note says which. ``auto`` (the default) does this whatever their share (when every session is unfit this is the
same as ``none``); ``session`` refuses when unfit sessions hold more than ``MAX_UNFIT_SHARE`` of the neurons (the
scores would mostly measure the fallback, not what was asked); ``none`` leaves the vectors as they are. ``centre``
is ``session`` without the scaling: each session's mean is subtracted and every column keeps its spread (a session
that holds few regions has a small spread along a region direction, which z-scoring would inflate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.probes import standardize_per_session

__all__ = ["MAX_UNFIT_SHARE", "MIN_SESSION_NEURONS", "NORMALIZATIONS", "Normalization", "choose_normalization",
           "unfit_sessions"]

NORMALIZATIONS = ("auto", "session", "centre", "none")
MIN_SESSION_NEURONS = 8
MAX_UNFIT_SHARE = 0.25
PAST = {"session": "z-scored", "centre": "centred"}


@dataclass(frozen=True)
class Normalization:
    """What was asked, what is applied (``session``, ``centre`` or ``none``), which sessions fell back to the
    statistics of all neurons, and why (``note`` is None when nothing needs saying)."""

    requested: str
    applied: str
    fallback_sessions: tuple[str, ...] = ()
    note: str | None = None

    def apply(self, x: np.ndarray, session_keys: np.ndarray,
              population: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``x`` normalised per session; ``population`` (vectors, session keys) holds every neuron of the sessions,
        labelled or not, whose statistics are then used (default: the rows of ``x``)."""
        if self.applied == "none":
            return x
        scale = self.applied == "session"
        session_keys = np.asarray(session_keys, dtype=str)
        if population is not None:
            population = (population[0], np.asarray(population[1], dtype=str))
        out = standardize_per_session(x, session_keys, scale, population)
        fallback = np.isin(session_keys, self.fallback_sessions)
        if fallback.any():
            everyone = None if population is None else (population[0], np.zeros(len(population[0])))
            out[fallback] = standardize_per_session(x, np.zeros(len(x)), scale, everyone)[fallback]
        return out

    @property
    def description(self) -> str:
        """How the vectors were normalised, as a title suffix ("" when they were not)."""
        return f", {PAST[self.applied]} per session" if self.applied in PAST else ""

    def to_dict(self) -> dict[str, object]:
        return {"requested": self.requested, "applied": self.applied,
                "fallback_sessions": list(self.fallback_sessions), "note": self.note}


def unfit_sessions(session_keys: np.ndarray, labels: np.ndarray | None = None,
                   population_keys: np.ndarray | None = None) -> dict[str, str]:
    """Session key -> why per-session z-scoring would be degenerate there. ``population_keys``: the session key of
    every neuron whose statistics normalise the sessions (labelled or not; default: the rows of ``session_keys``).
    A session of one labelled class is fit when at least ``MIN_SESSION_NEURONS`` other neurons share its statistics."""
    session_keys = np.asarray(session_keys, dtype=str)
    population_keys = session_keys if population_keys is None else np.asarray(population_keys, dtype=str)
    unfit = {}
    for key in dict.fromkeys(session_keys.tolist()):
        rows = session_keys == key
        total = int((population_keys == key).sum()) or int(rows.sum())
        if total < MIN_SESSION_NEURONS:
            unfit[key] = f"{total} neurons"
        elif (labels is not None and np.unique(np.asarray(labels)[rows]).size < 2
              and total - int(rows.sum()) < MIN_SESSION_NEURONS):
            unfit[key] = "a single class"
    return unfit


def choose_normalization(requested: str, session_keys: np.ndarray, labels: np.ndarray | None = None,
                         population_keys: np.ndarray | None = None) -> Normalization:
    """The normalisation to apply for ``requested`` (``auto``, ``session``, ``centre`` or ``none``) on these
    sessions (``population_keys`` as in :func:`unfit_sessions`)."""
    if requested not in NORMALIZATIONS:
        raise NeurPIRError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}, not {requested!r}")
    if requested == "none":
        return Normalization(requested, "none")
    unfit = unfit_sessions(session_keys, labels, population_keys)
    per_session = "centre" if requested == "centre" else "session"
    what = "centring" if per_session == "centre" else "z-scoring"
    if not unfit:
        return Normalization(requested, per_session)
    session_keys = np.asarray(session_keys, dtype=str)
    share = float(np.isin(session_keys, list(unfit)).mean())
    example = ", ".join(f"{key} ({why})" for key, why in list(unfit.items())[:3])
    problem = (f"{len(unfit)} of {len(set(session_keys.tolist()))} sessions ({share:.0%} of the neurons) are too "
               f"small or single-class for per-session {what} (fewer than {MIN_SESSION_NEURONS} neurons or one "
               f"class, e.g. {example})")
    if requested in ("session", "centre") and share > MAX_UNFIT_SHARE:
        raise NeurPIRError(f"--normalize {requested}: {problem}; it would erase the label there; use --normalize auto "
                           "or none")
    if len(unfit) == len(set(session_keys.tolist())):
        return Normalization(requested, "none", tuple(unfit), f"--normalize {requested} used none: {problem}")
    return Normalization(requested, per_session, tuple(unfit),
                         f"--normalize {requested}: {problem}; those were {PAST[per_session]} with the statistics "
                         "of all neurons instead")

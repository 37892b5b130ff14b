"""Per-session z-scoring (or centring) of representations before a probe or a UMAP, and where it must not be used.

Z-scoring every column within a session removes session-wide offsets (rate scale, indicator brightness), but it
needs sessions of many neurons: within a session of 1-6 neurons it erases what tells them apart. A session is
*unfit* when it has fewer than ``MIN_SESSION_NEURONS`` neurons. Normalisation is label-free: which sessions are unfit,
and every statistic, come from the neurons alone, never from their labels (a test neuron's label must not shape its
own vector). A session whose labelled neurons all share one class (few other neurons beside them) loses that class
to per-session normalisation, as it loses any offset its neurons share; ``one_class_note`` says so, and changes
nothing.

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
           "one_class_note", "unfit_sessions"]

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


def unfit_sessions(session_keys: np.ndarray, population_keys: np.ndarray | None = None) -> dict[str, str]:
    """Session key -> why per-session z-scoring would be degenerate there (too few neurons). ``population_keys``:
    the session key of every neuron whose statistics normalise the sessions (labelled or not; default: the rows of
    ``session_keys``)."""
    session_keys = np.asarray(session_keys, dtype=str)
    population_keys = session_keys if population_keys is None else np.asarray(population_keys, dtype=str)
    unfit = {}
    for key in dict.fromkeys(session_keys.tolist()):
        total = int((population_keys == key).sum()) or int((session_keys == key).sum())
        if total < MIN_SESSION_NEURONS:
            unfit[key] = f"{total} neurons"
    return unfit


def choose_normalization(requested: str, session_keys: np.ndarray,
                         population_keys: np.ndarray | None = None) -> Normalization:
    """The normalisation to apply for ``requested`` (``auto``, ``session``, ``centre`` or ``none``) on these
    sessions (``population_keys`` as in :func:`unfit_sessions`); label-free."""
    if requested not in NORMALIZATIONS:
        raise NeurPIRError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}, not {requested!r}")
    if requested == "none":
        return Normalization(requested, "none")
    unfit = unfit_sessions(session_keys, population_keys)
    per_session = "centre" if requested == "centre" else "session"
    what = "centring" if per_session == "centre" else "z-scoring"
    if not unfit:
        return Normalization(requested, per_session)
    session_keys = np.asarray(session_keys, dtype=str)
    share = float(np.isin(session_keys, list(unfit)).mean())
    example = ", ".join(f"{key} ({why})" for key, why in list(unfit.items())[:3])
    problem = (f"{len(unfit)} of {len(set(session_keys.tolist()))} sessions ({share:.0%} of the neurons) are too "
               f"small for per-session {what} (fewer than {MIN_SESSION_NEURONS} neurons, e.g. {example})")
    if requested in ("session", "centre") and share > MAX_UNFIT_SHARE:
        raise NeurPIRError(f"--normalize {requested}: {problem}; it would erase what tells their neurons apart; use "
                           "--normalize auto or none")
    if len(unfit) == len(set(session_keys.tolist())):
        return Normalization(requested, "none", tuple(unfit), f"--normalize {requested} used none: {problem}")
    return Normalization(requested, per_session, tuple(unfit),
                         f"--normalize {requested}: {problem}; those were {PAST[per_session]} with the statistics "
                         "of all neurons instead")


def one_class_note(normalization: Normalization, session_keys: np.ndarray, labels: np.ndarray, label: str,
                   population_keys: np.ndarray | None = None) -> str | None:
    """A note when sessions normalised on their own hold labelled neurons of one class only, with fewer than
    ``MIN_SESSION_NEURONS`` other neurons beside them (``population_keys`` as in :func:`unfit_sessions`): their
    normalisation removes what their neurons share, their class with it. The labels change nothing; None when there
    is nothing to say."""
    if normalization.applied == "none":
        return None
    session_keys, labels = np.asarray(session_keys, dtype=str), np.asarray(labels, dtype=str)
    population_keys = session_keys if population_keys is None else np.asarray(population_keys, dtype=str)
    one_class = [key for key in dict.fromkeys(session_keys.tolist()) if key not in normalization.fallback_sessions
                 and np.unique(labels[session_keys == key]).size == 1
                 and (population_keys == key).sum() - (session_keys == key).sum() < MIN_SESSION_NEURONS]
    if not one_class:
        return None
    share = float(np.isin(session_keys, one_class).mean())
    return (f"{len(one_class)} of {len(set(session_keys.tolist()))} sessions ({share:.0%} of the labelled neurons) "
            f"hold labelled neurons of a single {label} (e.g. {', '.join(one_class[:3])}): "
            f"{PAST[normalization.applied]} per session, they lose what their neurons share, their class with it, "
            "and a probe may not find it there; normalisation never reads the labels (--normalize none keeps what "
            "sessions share)")

"""Cross-session stability of per-neuron vectors: is a tracked neuron's nearest vector on another day its own?

A chronic lab tracks units across the recordings of one animal (a neuron-table column such as ``tracked_unit``,
UnitMatch-style: the same value is the same neuron in every file of the animal). For each ordered pair of recordings
of one animal, every neuron of the first with a partner in the second looks up its nearest vector (cosine
similarity) among *all* neurons of the second: ``top1`` is the share whose nearest is the partner, ``rank`` where
the partner comes (1 = nearest; ties counted against it), beside the chance levels of a vector that says nothing of
the neuron. Vectors are z-scored per recording over all its neurons first, as the probes read them. Label-free: only
the tracked column is read.

A value shared by several neurons of one recording (``-1`` for "not tracked", a unit split in two) names no single
neuron there: those neurons are skipped, as are neurons with an empty value and neurons without a vector.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.evaluation.probes import standardize_per_session
from nwb_neurpir.unicode_forms import nfc

__all__ = ["Retrieval", "StabilityResult", "TrackedRecording", "measure_stability", "retrieve", "tracked_values"]


def tracked_values(values: Sequence[Any]) -> np.ndarray:
    """A tracked column as text, one per neuron: ``""`` for missing values (None, NaN, blank); whole numbers
    without a decimal part (``3.0`` -> ``"3"``), so an integer column and its float copy name the same neuron; text
    stripped and in Unicode normal form C."""
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append("")
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            out.append(str(int(value)))
        elif isinstance(value, bytes):
            out.append(nfc(value.decode("utf-8", "replace").strip()))
        else:
            out.append(nfc(str(value).strip()))
    return np.asarray(out, dtype=object).astype(str)


@dataclass(frozen=True)
class TrackedRecording:
    """One recording's neurons: its animal, its session key, and per neuron the tracked value (``""``: none)."""

    subject: str
    session: str
    tracked: np.ndarray

    def identities(self) -> np.ndarray:
        """Per neuron, its tracked value when it names that neuron alone in this recording, else ``""``."""
        values, counts = np.unique(self.tracked, return_counts=True)
        shared = values[counts > 1]
        return np.where(np.isin(self.tracked, shared), "", self.tracked)

    @property
    def n_shared(self) -> int:
        """Neurons whose non-empty value another neuron of this recording also has (skipped)."""
        return int(((self.identities() == "") & (self.tracked != "")).sum())


@dataclass(frozen=True)
class Retrieval:
    """The partners of one recording's neurons looked up among another recording's neurons (one animal)."""

    subject: str
    query_session: str
    target_session: str
    ranks: np.ndarray
    """Per query neuron, where its partner comes among the target's neurons by cosine similarity (1 = nearest)."""
    n_candidates: int
    """The target's neurons with a vector: the ones the partner is looked up among."""
    partner_cosine: np.ndarray
    """Per query neuron, the cosine similarity to its partner."""
    other_cosine: np.ndarray
    """Per query neuron, the mean cosine similarity to the target's other neurons."""


def _unit_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows hold a vector (some finite value), and those rows z-scored over the recording, then scaled to unit
    length (a row of zeros stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    present = np.isfinite(vectors).any(axis=1)
    z = standardize_per_session(vectors[present], np.zeros(int(present.sum())))
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return present, z / np.where(norms > 0, norms, 1.0)


def retrieve(query: TrackedRecording, query_vectors: np.ndarray, target: TrackedRecording,
             target_vectors: np.ndarray) -> Retrieval | None:
    """Look up each tracked neuron of ``query`` among the neurons of ``target``; None when they share none."""
    query_present, query_unit = _unit_rows(query_vectors)
    target_present, target_unit = _unit_rows(target_vectors)
    query_ids, target_ids = query.identities()[query_present], target.identities()[target_present]
    column_of = {value: column for column, value in enumerate(target_ids) if value}
    rows = np.array([row for row, value in enumerate(query_ids) if value in column_of], dtype=np.int64)
    if rows.size == 0 or len(target_ids) < 2:
        return None
    columns = np.array([column_of[value] for value in query_ids[rows]], dtype=np.int64)
    similarity = query_unit[rows] @ target_unit.T
    partner = similarity[np.arange(rows.size), columns]
    ranks = (similarity >= partner[:, None]).sum(axis=1)
    other = (similarity.sum(axis=1) - partner) / (len(target_ids) - 1)
    return Retrieval(subject=query.subject, query_session=query.session, target_session=target.session,
                     ranks=ranks, n_candidates=len(target_ids), partner_cosine=partner, other_cosine=other)


def _summary(retrievals: Sequence[Retrieval]) -> dict[str, float | int]:
    """Top-1, median rank and cosine similarities of the pooled queries, with their chance levels."""
    if not retrievals:
        return {"n_queries": 0}
    ranks = np.concatenate([r.ranks for r in retrievals])
    candidates = np.concatenate([np.full(r.ranks.size, r.n_candidates) for r in retrievals])
    return {"n_queries": int(ranks.size), "top1": float((ranks == 1).mean()),
            "top1_chance": float((1.0 / candidates).mean()), "median_rank": float(np.median(ranks)),
            "median_rank_chance": float(np.median((candidates + 1) / 2.0)),
            "median_candidates": float(np.median(candidates)),
            "cosine_partner": float(np.concatenate([r.partner_cosine for r in retrievals]).mean()),
            "cosine_other": float(np.concatenate([r.other_cosine for r in retrievals]).mean())}


@dataclass
class StabilityResult:
    """Per method (representation), the retrievals of every ordered pair of one animal's recordings."""

    match_column: str
    retrievals: dict[str, list[Retrieval]]
    notes: list[str] = field(default_factory=list)

    def summary(self, method: str) -> dict[str, float | int]:
        """Every query of ``method`` pooled (every neuron of every pair weighs the same)."""
        return _summary(self.retrievals[method])

    def per_animal(self, method: str) -> dict[str, dict[str, float | int]]:
        """``summary`` per animal."""
        subjects = dict.fromkeys(r.subject for r in self.retrievals[method])
        return {subject: _summary([r for r in self.retrievals[method] if r.subject == subject])
                for subject in subjects}

    def per_pair(self, method: str) -> list[dict[str, Any]]:
        """``summary`` per ordered pair of recordings (query -> target)."""
        return [{"subject": r.subject, "query": r.query_session, "target": r.target_session, **_summary([r])}
                for r in self.retrievals[method]]

    def table(self) -> pd.DataFrame:
        """One row per method and animal (``all`` first): the ``summary`` numbers."""
        rows = [{"method": method, "subject": "all", **self.summary(method)} for method in self.retrievals]
        rows += [{"method": method, "subject": subject, **numbers} for method in self.retrievals
                 for subject, numbers in self.per_animal(method).items()]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"match_column": self.match_column, "notes": self.notes,
                "methods": {method: {"pooled": self.summary(method), "per_animal": self.per_animal(method),
                                     "per_pair": self.per_pair(method)} for method in self.retrievals}}


def measure_stability(match_column: str, recordings: Sequence[TrackedRecording],
                      vectors: dict[str, Sequence[np.ndarray | None]]) -> StabilityResult:
    """Retrievals of every method in ``vectors`` (per recording, its (n_neurons, dim) matrix in the order of
    ``recordings``; None where a method has no vectors for it) over every ordered pair of recordings of one animal."""
    retrievals: dict[str, list[Retrieval]] = {}
    for method, matrices in vectors.items():
        found = []
        for (a, query), (b, target) in itertools.permutations(enumerate(recordings), 2):
            if query.subject != target.subject or matrices[a] is None or matrices[b] is None:
                continue
            retrieval = retrieve(query, matrices[a], target, matrices[b])
            if retrieval is not None:
                found.append(retrieval)
        retrievals[method] = found
    return StabilityResult(match_column=match_column, retrievals=retrievals, notes=_notes(match_column, recordings))


def _has_partners(recordings: Sequence[TrackedRecording]) -> bool:
    """Whether some neuron's value names a neuron in another recording of its animal."""
    return any(a.subject == b.subject and bool(set(a.identities()) & set(b.identities()) - {""})
               for a, b in itertools.combinations(recordings, 2))


def _notes(match_column: str, recordings: Sequence[TrackedRecording]) -> list[str]:
    """What the reader must know: neurons skipped for a shared value, and no partner anywhere."""
    notes = []
    shared = sum(recording.n_shared for recording in recordings)
    if shared:
        notes.append(f"{shared} neurons share their {match_column} value with another neuron of the same file "
                     "(e.g. -1 for untracked, or a split unit): they name no single neuron and are skipped")
    if not _has_partners(recordings):
        notes.append(f"no neuron has a partner by {match_column} in another file of its animal: nothing to measure")
    return notes

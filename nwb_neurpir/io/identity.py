"""Who a file's neurons are: the animal and session of an NWB file, read by one function for every path (the
reader's ``Recording`` and the table of annotated files), and the neuron-table columns whose names the package
gives its own identity columns.

An animal is the file's ``/general/subject/subject_id`` (surrounding whitespace removed, in Unicode normal form C as
every compared text: ``unicode_forms``); one file is one animal.
A file without one counts as an animal of its own, named by its session id in parentheses, ``(<session id>)``:
pooling every such file into one nameless animal would put different animals on one side of a split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import h5py
import pandas as pd

from nwb_neurpir.io.h5_tables import stripped_text
from nwb_neurpir.io.read_warnings import warn_about
from nwb_neurpir.unicode_forms import loose_form, nfc

__all__ = ["IDENTITY_COLUMNS", "FileIdentity", "clear_of_identity", "identity_renames", "is_stand_in", "read_identity",
           "similar_subjects", "stand_in"]

IDENTITY_COLUMNS = ("subject_id", "session_id", "neuron_id", "neuron_table", "embedding", "silent", "identifier",
                    "file")
"""Columns the package adds to a neuron's own (tables of embeddings, ``transform``'s frame)."""
CLASH_PREFIX = "unit_"
"""Prefix of a neuron-table column named like one of ``IDENTITY_COLUMNS`` (``subject_id`` -> ``unit_subject_id``)."""


@dataclass(frozen=True)
class FileIdentity:
    """The animal, session and NWB identifier of one file."""

    subject_id: str
    """``/general/subject/subject_id``, else ``(<session id>)``: an animal of its own."""
    session_id: str
    """``/general/session_id``, else the NWB identifier."""
    identifier: str


def read_identity(nwb: h5py.File, label: str, session_fallback: str = "") -> FileIdentity:
    """The file's identity, stripped of surrounding whitespace, its subject and session ids in Unicode normal form C
    (a session of one animal saved on macOS names the same animal); a file without a subject id is warned about once
    and named as an animal of its own. A file without a session id gets ``session_fallback`` (a sidecar of an earlier
    release: its source's), else its NWB identifier."""
    identifier = stripped_text(nwb, "identifier")
    session_id = nfc(stripped_text(nwb, "general/session_id") or session_fallback or identifier)
    subject_id = nfc(stripped_text(nwb, "general/subject/subject_id"))
    if not subject_id:
        subject_id = stand_in(session_id)
        _warn(label, f"no general/subject/subject_id; the recording counts as an animal of its own, named "
                     f"{subject_id} after its session id")
    return FileIdentity(subject_id=subject_id, session_id=session_id, identifier=identifier)


def stand_in(session_id: str) -> str:
    """``(<session id>)``: the subject id that names the animal of a file without one."""
    return f"({session_id})"


def is_stand_in(subject_id: str) -> bool:
    """Whether ``subject_id`` is the ``(<session id>)`` that names the animal of a file without a subject id."""
    return subject_id.startswith("(") and subject_id.endswith(")")


def similar_subjects(subject_ids: Iterable[str]) -> list[list[str]]:
    """Groups of distinct subject ids that differ only by case, punctuation, whitespace or character width (``SIM01``,
    ``sim-01``, full-width ``ＳＩＭ０１``): perhaps one animal spelled two ways, which splits by animal would put on
    both sides."""
    groups: dict[str, list[str]] = {}
    for subject in dict.fromkeys(subject_ids):
        groups.setdefault(re.sub(r"[\W_]+", "", loose_form(subject)), []).append(subject)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def clear_of_identity(metadata: pd.DataFrame, label: str) -> pd.DataFrame:
    """The neuron table's columns with those named like an identity column renamed ``unit_<name>`` (warned about
    once per file), so the file's own values stay reachable (``--label unit_subject_id``)."""
    return metadata.rename(columns=identity_renames(metadata.columns, label))


def identity_renames(columns: Iterable[str], label: str) -> dict[str, str]:
    """Name -> ``unit_<name>`` for the ``columns`` of a file's neuron table named like an identity column, with a
    warning (once per file) saying what the package means by each name."""
    clashing = [name for name in columns if name in IDENTITY_COLUMNS]
    renamed = {name: f"{CLASH_PREFIX}{name}" for name in clashing}
    if renamed:
        meanings = "; ".join(f"{name}: {_MEANINGS[name]}" for name in clashing)
        _warn(label, f"the neuron table's column(s) {', '.join(clashing)} are read as {', '.join(renamed.values())}: "
                     f"the package gives those names to its own columns ({meanings})")
    return renamed


_MEANINGS = {"subject_id": "the file's animal, its general/subject/subject_id (one file is one animal)",
             "session_id": "the file's session, its general/session_id", "identifier": "the file's NWB identifier",
             "neuron_id": "the neuron's id in its table", "neuron_table": "the table the neuron is read from",
             "file": "the file the neuron is read from", "embedding": "the neuron's NeurPIR vector",
             "silent": "whether the neuron has no activity in the time read (its vector says nothing about it)"}
"""What the package means by each of ``IDENTITY_COLUMNS``, for the warning that renames a file's own column."""


def _warn(label: str, message: str) -> None:
    """``warn_about`` from this one place, so that reading the same file twice (its recording and its
    embeddings) gives the warning once."""
    warn_about(label, message)

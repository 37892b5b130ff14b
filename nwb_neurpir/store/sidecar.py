"""``write_sidecar``: a small NWB file holding the embeddings of a source that cannot be changed (a DANDI asset, a
read-only file): the embeddings, the neuron ids with label columns to join back, and the source's identity."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.file_names import NAME_BYTES, name_bytes, name_part
from nwb_neurpir.io.h5_tables import scalar_text, stored_outside
from nwb_neurpir.io.identity import is_stand_in, stand_in
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.recording import SourceInfo, path_text
from nwb_neurpir.redaction import redact_url
from nwb_neurpir.store.atomic import new_folders, staged_replace
from nwb_neurpir.store.checks import checked_embeddings, checked_name, checked_silent, locate_neurons, reads_back_as
from nwb_neurpir.store.containers import embeddings_table, label_table, model_container, source_container
from nwb_neurpir.store.read import list_predictions, read_embeddings, source_labels
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, DEFAULT_NAME, MODULE_DESCRIPTION

__all__ = ["disambiguated", "sidecar_of_other_source", "sidecar_path", "write_sidecar"]

_SUBJECT_TEXT_FIELDS = ("subject_id", "species", "sex", "age")
"""What a sidecar copies of its source's subject: its id (evaluate's animal), species, sex and age (what DANDI requires
of every file, so a folder of sidecars uploads). Not its free-text description, date of birth, genotype or strain,
nor the source's experimenters, institution or lab: a sidecar is made to share vectors without the source, so it
names the source without what else the source says about its subject."""
_DANDI_UNSAFE = re.compile(r"[_*\\/<>:|\"'?%@;,.\s\x00-\x1f\x7f]")
"""What DANDI does not allow in the value of a name entity (``sub-<value>``), and control characters."""
_LAYOUT_BYTES = len("sub-_ses-_desc-_obj-12345678.nwb")
"""The bytes of a sidecar's name around its subject, session and description (``disambiguated``'s part too)."""
_PART_BYTES = (NAME_BYTES - _LAYOUT_BYTES) // 3
"""The most bytes a sidecar's subject or description takes in its name."""


@dataclass(frozen=True)
class _SourceFacts:
    """What a sidecar records about its source: identity, session start, neuron table and labels."""

    source: SourceInfo
    session_start_time: datetime
    neuron_table: str
    labels: pd.DataFrame
    subject: dict[str, str]
    session_id: str | None


def sidecar_path(source: SourceInfo, name: str, folder: str | Path, subject_id: str | None = None,
                 session_id: str | None = None) -> Path:
    """``<folder>/sub-<subject>/sub-<subject>_ses-<session>_desc-<name>.nwb``: DANDI's layout, so a folder of sidecars
    can be uploaded as a derived dataset. Subject and session default to those of a local source file (the session
    else the source's identifier or file stem); a source without a subject id is named by its session, as its animal
    is (``(<session id>)``). An id's own leading ``sub-`` or ``ses-`` is not doubled, characters DANDI does not
    allow in a value become ``-``, and values too long for a file name are shortened to a prefix and a hash
    (``file_names.name_part``; subject and description alike in every sidecar, the session fills the rest)."""
    location = source.asset_path or (urlparse(source.location).path if "://" in source.location else source.location)
    if source.is_local and not (subject_id and session_id):
        subject_id, session_id = _file_identity(Path(source.location), subject_id, session_id)
    session = session_id or source.identifier or Path(location).stem or source.asset_id or "source"
    recorded = _recorded_subject(subject_id)
    subject = _dandi_value(recorded, "sub-", _PART_BYTES) if recorded else _dandi_value(session, "ses-", _PART_BYTES)
    desc = _dandi_value(name, limit=_PART_BYTES)
    session = _dandi_value(session, "ses-", NAME_BYTES - _LAYOUT_BYTES - name_bytes(subject) - name_bytes(desc))
    return Path(folder) / f"sub-{subject}" / f"sub-{subject}_ses-{session}_desc-{desc}.nwb"


def disambiguated(path: Path, source: SourceInfo) -> Path:
    """``path`` with DANDI's ``_obj-<hash>`` entity naming ``source``, for two sources with one subject and session;
    after ``_desc-``, in the order of DANDI's layout (so that ``dandi organize`` keeps the name)."""
    digest = hashlib.sha256((source.asset_id or _recorded_location(source)).encode()).hexdigest()[:8]
    return path.with_name(f"{path.stem}_obj-{digest}.nwb")


def sidecar_of_other_source(path: Path, source: SourceInfo) -> bool:
    """True when ``path`` is an existing sidecar (or any NWB file) that does not hold the embeddings of ``source``."""
    if not path.exists():
        return False
    try:
        recorded = read_embeddings(path).attrs.get("source", {})
    except NeurPIRError:
        return True
    if source.asset_id:
        return recorded.get("asset_id") != source.asset_id
    return redact_url(recorded.get("location", "")) not in (_recorded_location(source), source.location)


def _recorded_location(source: SourceInfo) -> str:
    """Where a sidecar says its source is: a local file's absolute path (so that it can be found from any working
    folder; a name that is not UTF-8 as ``path_text`` writes it), else the URL without its credentials (one object
    under a fresh signature is the same source)."""
    return path_text(str(Path(source.location).resolve())) if source.is_local else redact_url(source.location)


def _recorded_subject(subject_id: str | None) -> str:
    """The subject id a source file records: not the ``(<session id>)`` that names the animal of a file without
    one."""
    text = (subject_id or "").strip()
    return "" if is_stand_in(text) else text


def _dandi_value(text: str, entity: str = "", limit: int = NAME_BYTES) -> str:
    """``text`` as the value of a DANDI name entity: without a leading ``entity`` (``sub-``, ``ses-``) that would
    double it, each character DANDI does not allow (and control characters) as ``-``, at most ``limit`` bytes;
    ``unknown`` when nothing is left."""
    return name_part(text.strip().removeprefix(entity), _DANDI_UNSAFE, limit) or "unknown"


def _file_identity(path: Path, subject_id: str | None, session_id: str | None) -> tuple[str | None, str | None]:
    """Subject and session id of a local NWB file (the session falls back to its identifier)."""
    with open_nwb(path) as file:
        subject_id = subject_id or scalar_text(file, "general/subject/subject_id")
        session_id = session_id or scalar_text(file, "general/session_id") or scalar_text(file, "identifier")
    return subject_id, session_id


def write_sidecar(
    out_path: str | Path,
    source: SourceInfo,
    neuron_ids: Sequence[int] | np.ndarray,
    embeddings: np.ndarray,
    provenance: ModelProvenance,
    label_columns: pd.DataFrame | None = None,
    *,
    neuron_table: str | None = None,
    session_start_time: datetime | str | None = None,
    subject_id: str | None = None,
    session_id: str | None = None,
    name: str = DEFAULT_NAME,
    module: str = DEFAULT_MODULE,
    overwrite: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    silent: Sequence[bool] | np.ndarray | None = None,
) -> Path:
    """Write a new NWB file at ``out_path`` with the embeddings of ``source``'s neurons; returns ``out_path``.

    ``label_columns`` has one row per neuron (same order as ``neuron_ids``); its one-value-per-row columns are copied.
    For a local source, what is not given (labels, neuron table, session start, identifier) is read from the file,
    and its subject id, species, sex, age and session id are copied (nothing else of its subject, nor its experimenters,
    institution or lab; the session start time is kept because NWB requires one); a remote source needs
    ``neuron_table`` and ``session_start_time`` (and gets a subject from ``subject_id``, its session id from
    ``session_id``). An existing ``out_path`` is replaced only with ``overwrite``, and not when it holds predictions
    (replacing the embeddings they were made from would drop them). ``silent`` marks the neurons without activity, as
    in ``write_embeddings``.
    """
    target = Path(out_path)
    ids, vectors = checked_embeddings(neuron_ids, embeddings, source.label())
    marks = checked_silent(silent, ids.size, source.label())
    checked_name(name, "embeddings", target)
    checked_name(module, "processing module", target)
    facts = _source_facts(source, ids, label_columns, neuron_table, session_start_time, subject_id, session_id)
    with new_folders(target.parent, source.label(), "its sidecar"), staged_replace(target, lock_timeout) as staging:
        if target.exists() and not overwrite:
            raise NeurPIRError("sidecar file already exists; use --overwrite (overwrite=True) to replace it",
                               source=target)
        if target.exists() and (predictions := list_predictions(target)):
            raise NeurPIRError(f"holds predictions ({', '.join(predictions)}) made from the embeddings --overwrite "
                               "would replace, which would drop them; move the file aside or write the new "
                               "embeddings under another --name", source=target)
        if source.is_local:  # it holds the source's labels and ids: no more readable than the source
            staging.permissions_of(Path(source.location))
        work = staging.new_temp()
        _write(work, facts, ids, vectors, marks, provenance, name, module)
        if not reads_back_as(read_embeddings(work, name=f"{module}/{name}"), ids, vectors, marks):
            raise NeurPIRError("the sidecar read back differs from what was written; nothing was saved", source=target)
        staging.commit(work)
    return target


def _source_facts(source: SourceInfo, ids: np.ndarray, labels: pd.DataFrame | None, neuron_table: str | None,
                  session_start_time: datetime | str | None, subject_id: str | None,
                  session_id: str | None) -> _SourceFacts:
    """What the sidecar records about its source: given by the caller, else read from a local source file."""
    label = source.label()
    if labels is not None and len(labels) != ids.size:
        raise NeurPIRError(f"label columns have {len(labels)} rows but {ids.size} neuron ids were given", source=label)
    subject = {"subject_id": subject_id} if _recorded_subject(subject_id) else {}
    if source.is_local:
        with open_nwb(source.location) as file:
            neuron_table, rows = locate_neurons(file, ids, neuron_table, label)
            if labels is None:
                labels = source_labels(file[neuron_table], int(file[neuron_table]["id"].shape[0]), label).iloc[rows]
            session_start_time = session_start_time or scalar_text(file, "session_start_time")
            source = replace(source, identifier=source.identifier or scalar_text(file, "identifier") or "")
            subject = _subject_fields(file) or subject
            session_id = scalar_text(file, "general/session_id") or session_id
    if neuron_table is None or session_start_time is None:
        raise NeurPIRError("a sidecar of a remote file needs its neuron table and session start time", source=label)
    subject = _with_subject_id(subject, (session_id or "").strip() or source.identifier.strip())
    source = replace(source, location=_recorded_location(source))
    start = session_start_time if isinstance(session_start_time, datetime) else datetime.fromisoformat(
        str(session_start_time))
    frame = labels.reset_index(drop=True) if labels is not None else pd.DataFrame(index=range(ids.size))
    return _SourceFacts(source, start, neuron_table.strip("/"), frame, subject, session_id)


def _write(work: Path, facts: _SourceFacts, ids: np.ndarray, vectors: np.ndarray, silent: np.ndarray | None,
           provenance: ModelProvenance, name: str, module: str) -> None:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject

    nwbfile = NWBFile(
        session_description=(f"NeurPIR embeddings of the neurons of {_source_name(facts.source)}; a sidecar file: "
                             "the recording itself stays in that source file."),
        identifier=str(uuid.uuid4()),
        session_id=facts.session_id,
        session_start_time=facts.session_start_time,
        subject=Subject(**facts.subject),
    )
    processing = nwbfile.create_processing_module(module, MODULE_DESCRIPTION)
    neurons = label_table(f"{name}_neurons", ids, facts.labels, facts.neuron_table)
    model = model_container(provenance, name)
    source = source_container(facts.source, facts.neuron_table)
    for container in (neurons, model, source):
        processing.add(container)
    processing.add(embeddings_table(name, ids, np.arange(ids.size), vectors, neurons, model, source_file=source,
                                    silent=silent))
    with NWBHDF5IO(str(work), "w") as io:
        io.write(nwbfile)


def _with_subject_id(subject: dict[str, str], session_id: str) -> dict[str, str]:
    """``subject`` (the source's) when it has an id; else with the ``(<session id>)`` that names the animal of a
    source without one (one subject per such source, as neurpir reads them) and, unless recorded, unknown sex."""
    if _recorded_subject(subject.get("subject_id")):
        return subject
    description = "The source records no subject id; NeurPIR names its animal after the session id."
    return {"sex": "U", "description": description, **subject, "subject_id": stand_in(session_id)}


def _source_name(source: SourceInfo) -> str:
    """The source as a sidecar's session description names it: a local file by its name (not its absolute path, which
    ``NeurPIRSource`` alone records), a DANDI asset by its dandiset and path, a URL without its credentials."""
    return Path(source.location).name if source.is_local else source.label()


def _subject_fields(file: h5py.File) -> dict[str, str]:
    """The text fields of the source's subject (``general/subject``), to copy into the sidecar."""
    subject = file.get("general/subject")
    if not isinstance(subject, h5py.Group) or stored_outside(subject, file):
        return {}
    return {key: text for key in _SUBJECT_TEXT_FIELDS if (text := scalar_text(subject, key)) is not None}

"""``write_sidecar``: a small NWB file holding the embeddings of a source that cannot be changed (a DANDI asset, a
read-only file): the embeddings, the neuron ids with label columns to join back, and the source's identity."""

from __future__ import annotations

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
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.recording import SourceInfo
from nwb_neurpir.store.atomic import staged_replace
from nwb_neurpir.store.checks import checked_embeddings, checked_name, locate_neurons, open_nwb_hdf5
from nwb_neurpir.store.containers import embeddings_table, label_table, model_container, source_container
from nwb_neurpir.store.read import read_embeddings, source_labels
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, DEFAULT_NAME, MODULE_DESCRIPTION

__all__ = ["sidecar_path", "write_sidecar"]

_SUBJECT_TEXT_FIELDS = ("subject_id", "species", "sex", "age", "description", "genotype", "strain")


@dataclass(frozen=True)
class _SourceFacts:
    """What a sidecar records about its source: identity, session start, neuron table and labels."""

    source: SourceInfo
    session_start_time: datetime
    neuron_table: str
    labels: pd.DataFrame
    subject: dict[str, str]


def sidecar_path(source: SourceInfo, name: str, folder: str | Path) -> Path:
    """``<folder>/<source file stem>.<name>.nwb``."""
    location = source.asset_path or (urlparse(source.location).path if "://" in source.location else source.location)
    stem = Path(location).stem or (source.asset_id or "source")
    return Path(folder) / f"{stem}.{name}.nwb"


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
    name: str = DEFAULT_NAME,
    module: str = DEFAULT_MODULE,
    overwrite: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Path:
    """Write a new NWB file at ``out_path`` with the embeddings of ``source``'s neurons; returns ``out_path``.

    ``label_columns`` has one row per neuron (same order as ``neuron_ids``); its one-value-per-row columns are copied.
    For a local source, what is not given (labels, neuron table, session start, identifier) is read from the file,
    and its subject is copied; a remote source needs ``neuron_table`` and ``session_start_time`` (and gets a subject
    from ``subject_id``). An existing ``out_path`` is replaced only with ``overwrite``.
    """
    target = Path(out_path)
    ids, vectors = checked_embeddings(neuron_ids, embeddings, source.label())
    checked_name(name, "embeddings", target)
    checked_name(module, "processing module", target)
    facts = _source_facts(source, ids, label_columns, neuron_table, session_start_time, subject_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged_replace(target, lock_timeout) as staging:
        if target.exists() and not overwrite:
            raise NeurPIRError("sidecar file already exists; pass overwrite to replace it", source=target)
        work = staging.new_temp()
        _write(work, facts, ids, vectors, provenance, name, module)
        frame = read_embeddings(work, name=f"{module}/{name}")
        if not np.array_equal(frame["neuron_id"].to_numpy(), ids) or not np.array_equal(
                np.stack(frame["embedding"].to_numpy()), vectors):
            raise NeurPIRError("the sidecar read back differs from what was written; nothing was saved", source=target)
        staging.commit(work)
    return target


def _source_facts(source: SourceInfo, ids: np.ndarray, labels: pd.DataFrame | None, neuron_table: str | None,
                  session_start_time: datetime | str | None, subject_id: str | None) -> _SourceFacts:
    """What the sidecar records about its source: given by the caller, else read from a local source file."""
    label = source.label()
    if labels is not None and len(labels) != ids.size:
        raise NeurPIRError(f"label columns have {len(labels)} rows but {ids.size} neuron ids were given", source=label)
    subject = {"subject_id": subject_id} if subject_id else {}
    if source.is_local:
        with open_nwb_hdf5(Path(source.location)) as file:
            neuron_table, rows = locate_neurons(file, ids, neuron_table, label)
            if labels is None:
                labels = source_labels(file[neuron_table], int(file[neuron_table]["id"].shape[0]), label).iloc[rows]
            session_start_time = session_start_time or _text_dataset(file, "session_start_time")
            source = replace(source, identifier=source.identifier or _text_dataset(file, "identifier"))
            subject = _subject_fields(file) or subject
    if neuron_table is None or session_start_time is None:
        raise NeurPIRError("a sidecar of a remote file needs its neuron table and session start time", source=label)
    start = session_start_time if isinstance(session_start_time, datetime) else datetime.fromisoformat(
        str(session_start_time))
    frame = labels.reset_index(drop=True) if labels is not None else pd.DataFrame(index=range(ids.size))
    return _SourceFacts(source, start, neuron_table.strip("/"), frame, subject)


def _write(work: Path, facts: _SourceFacts, ids: np.ndarray, vectors: np.ndarray, provenance: ModelProvenance,
           name: str, module: str) -> None:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject

    nwbfile = NWBFile(
        session_description=(f"NeurPIR embeddings of the neurons of {facts.source.label()}; a sidecar file: the "
                             "recording itself stays in that source file."),
        identifier=str(uuid.uuid4()),
        session_start_time=facts.session_start_time,
        subject=Subject(**facts.subject) if facts.subject else None,
    )
    processing = nwbfile.create_processing_module(module, MODULE_DESCRIPTION)
    neurons = label_table(f"{name}_neurons", ids, facts.labels, facts.neuron_table)
    model = model_container(provenance, name)
    source = source_container(facts.source, facts.neuron_table)
    for container in (neurons, model, source):
        processing.add(container)
    processing.add(embeddings_table(name, ids, np.arange(ids.size), vectors, neurons, model, source_file=source))
    with NWBHDF5IO(str(work), "w") as io:
        io.write(nwbfile)


def _subject_fields(file: h5py.File) -> dict[str, str]:
    """The text fields of the source's subject (``general/subject``), to copy into the sidecar."""
    subject = file.get("general/subject")
    if not isinstance(subject, h5py.Group):
        return {}
    return {key: _text_dataset(subject, key) for key in _SUBJECT_TEXT_FIELDS
            if isinstance(subject.get(key), h5py.Dataset) and subject[key].shape == ()}


def _text_dataset(file: object, name: str) -> str:
    value = file[name][()]
    return value.decode() if isinstance(value, bytes) else str(value)

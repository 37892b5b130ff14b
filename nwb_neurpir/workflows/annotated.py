"""Annotated NWB files (embeddings already inside, or sidecars) read as one table per call, with each file's subject
and session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import ContradictedReading, NeurPIRError
from nwb_neurpir.recording import RecordingKey, refuse_one_recording_twice

if TYPE_CHECKING:
    from nwb_neurpir.io.identity import FileIdentity

__all__ = ["MovedSources", "activity_source", "embedded_reading", "embedded_series", "embedding_table_over",
           "local_paths", "read_annotated"]


def local_paths(resolved: Sequence[Any]) -> list[str]:
    """Paths of resolved sources (``nwb_neurpir.io.sources.ResolvedSource``), all of which must be local files:
    annotated files and sidecars are read locally."""
    remote = [source.label() for source in resolved if not source.is_local]
    if remote:
        raise NeurPIRError("annotated embeddings are read from local NWB files or sidecars; use --model or --train "
                           "for remote sources", source=remote[0])
    return [source.location for source in resolved]


def read_annotated(paths: Sequence[str | Path], name: str | None = None) -> pd.DataFrame:
    """One table of every file's embeddings with ``subject_id`` and ``session_id`` columns (read as the reader reads
    them into a recording); ``attrs["training_data"]`` lists the sessions the embedding model(s) were trained on,
    ``attrs["recording_keys"]`` names each file's recording as training data names it, ``attrs["models"]`` each
    distinct model's provenance (by checksum). A recording is its NWB identifier, animal, session and neuron table
    (``RecordingKey``): two files holding embeddings of one recording (a file and its sidecar or its annotated copy,
    sidecars of two names, two sortings that kept one identifier) are refused, as their neurons would count twice;
    files of different recordings that share an NWB identifier are read as such, with a warning."""
    from nwb_neurpir.store import read_embeddings

    frames, training_data, models, recording_keys, holders = [], [], {}, {}, []
    for path in paths:
        frame = read_embeddings(path, name)
        source = frame.attrs.get("source", {})
        identity = _identity(Path(path), source)
        identifier = source.get("identifier") or identity.identifier
        recording_keys[str(path)] = source.get("asset_id") or identifier or str(path)
        neuron_table = (source.get("neuron_table") or frame.attrs["neuron_table"]).strip("/")
        holders.append(_Holder(str(path), RecordingKey(identifier, identity.subject_id, identity.session_id,
                                                       neuron_table)))
        frame.insert(0, "subject_id", identity.subject_id)
        frame.insert(1, "session_id", identity.session_id)
        frame["file"] = str(path)
        model = frame.attrs.get("model", {})
        training_data.extend(model.get("training_data", []))
        models.setdefault(model.get("checkpoint_sha256", ""), {**model, "files": []})["files"].append(str(path))
        frames.append(frame)
    if not frames:
        raise NeurPIRError("no annotated files given")
    _check_recordings(holders)
    table = pd.concat(frames, ignore_index=True)
    table.attrs = {"training_data": list(dict.fromkeys(training_data)), "recording_keys": recording_keys,
                   "models": list(models.values())}
    return table


@dataclass(frozen=True)
class _Holder:
    """A file of embeddings and the recording whose neurons they are."""

    path: str
    recording: RecordingKey
    """Of a sidecar: its source's."""


def _check_recordings(holders: Sequence[_Holder]) -> None:
    """NeurPIRError when two files hold embeddings of one recording (a file and its sidecar or annotated copy,
    sidecars of two names, two sortings that kept one identifier); a warning when files of different recordings
    share an NWB identifier."""
    from nwb_neurpir.io.read_warnings import warn_about

    refuse_one_recording_twice([(holder.path, holder.recording) for holder in holders])
    sharing: dict[str, list[str]] = {}
    for holder in holders:
        if holder.recording.identifier:
            sharing.setdefault(holder.recording.identifier, []).append(holder.path)
    for identifier, paths in sharing.items():
        if len(paths) > 1:
            warn_about(paths[0], f"shares its NWB identifier {identifier} with {', '.join(paths[1:])}; they are "
                                 "read as different recordings, told apart by animal and session")


class MovedSources:
    """Local NWB files (or folders, globs) given beside sidecars, where a sidecar's source that is no longer where
    the sidecar says (a moved project folder) is looked up by its NWB identifier and the animal, session and
    neurons the sidecar records. Read only when needed."""

    def __init__(self, sources: Iterable[str | Path] = ()) -> None:
        self.sources = [str(source) for source in sources]

    @cached_property
    def by_identifier(self) -> dict[str, list[str]]:
        """NWB identifier -> paths of the local NWB files the sources name that have it."""
        from nwb_neurpir.io.h5_tables import scalar_text
        from nwb_neurpir.io.nwb_file import open_nwb
        from nwb_neurpir.io.resolve import resolve_sources
        from nwb_neurpir.io.sources import parse_source

        local = [item for item in self.sources if parse_source(item).kind in ("file", "folder", "glob")]
        found: dict[str, list[str]] = {}
        for source in resolve_sources(local) if local else []:
            try:
                with open_nwb(source.location) as file:
                    found.setdefault(scalar_text(file, "identifier") or "", []).append(source.location)
            except NeurPIRError:
                continue  # not an NWB file: not the source either
        found.pop("", None)
        return found

    def locate(self, sidecar: str | Path, source: dict[str, str], neuron_ids: np.ndarray) -> str:
        """Where the source that ``sidecar`` records (``source``: its location, NWB identifier and neuron table) is
        now: there, else the one file given with its NWB identifier, the animal and session the sidecar copied
        from it and the neurons ``neuron_ids``; else a NeurPIRError saying what was tried."""
        location, identifier = str(source["location"]), str(source.get("identifier", ""))
        if "://" in location or Path(location).exists():
            return location
        candidates = self.by_identifier.get(identifier, []) if identifier else []
        wanted = _recorded_animal_and_session(sidecar)
        matching = [path for path in candidates
                    if _holds_recording(path, wanted, source.get("neuron_table", ""), neuron_ids)]
        if len(matching) == 1:
            return matching[0]
        gone = f"the recording whose embeddings this sidecar holds is not at {location} any more, and "
        if not candidates:
            given = sum(map(len, self.by_identifier.values()))
            raise NeurPIRError(f"{gone}none of the {given} files given has its NWB identifier "
                               f"{identifier or '(not recorded)'}; give the moved recording (or its folder) among the "
                               "sources", source=sidecar)
        if not matching:
            raise NeurPIRError(f"{gone}the files given with its NWB identifier {identifier} ({', '.join(candidates)}) "
                               f"hold other recordings (not animal {wanted[0] or '(none)'}, session "
                               f"{wanted[1] or '(any)'} with its {len(neuron_ids)} neurons); give the moved recording "
                               "among the sources", source=sidecar)
        raise NeurPIRError(f"{gone}{len(matching)} files given match its NWB identifier {identifier}, animal, session "
                           f"and neurons ({', '.join(matching)}); give only the moved recording among the sources",
                           source=sidecar)


def _recorded_animal_and_session(sidecar: str | Path) -> tuple[str, str]:
    """The subject id and session id a sidecar copied from its source ("" where it records none; the subject id is
    also "" where the sidecar holds the ``(<session id>)`` that names the animal of a source without one)."""
    from nwb_neurpir.io.h5_tables import stripped_text
    from nwb_neurpir.io.identity import is_stand_in
    from nwb_neurpir.io.nwb_file import open_nwb

    with open_nwb(sidecar) as file:
        subject = stripped_text(file, "general/subject/subject_id")
        return ("" if is_stand_in(subject) else subject), stripped_text(file, "general/session_id")


def _holds_recording(path: str, animal_and_session: tuple[str, str], neuron_table: str,
                     neuron_ids: np.ndarray) -> bool:
    """Whether the NWB file ``path`` is of the animal and (when given) session of ``animal_and_session`` and its
    ``neuron_table`` has every neuron of ``neuron_ids``."""
    from nwb_neurpir.io.h5_tables import stripped_text, table_ids
    from nwb_neurpir.io.nwb_file import open_nwb

    animal, session = animal_and_session
    with open_nwb(path) as file:
        own_session = stripped_text(file, "general/session_id") or stripped_text(file, "identifier")
        if stripped_text(file, "general/subject/subject_id") != animal or session not in ("", own_session):
            return False
        table = file.get(neuron_table.strip("/") or "units")
        return isinstance(table, h5py.Group) and bool(np.isin(neuron_ids, table_ids(table, path)).all())


def activity_source(path: str | Path, moved: MovedSources | None = None, neuron_table: str | None = None,
                    series: str | None = None, during: str | None = None,
                    name: str | None = None) -> tuple[str, dict[str, str]]:
    """Where the activity of the neurons of ``neuron_table`` (a ``neuron_table`` of ``read_embeddings``; default:
    that of the file's first embedding table; ``name``: of the embedding table of that name) is -- the file itself,
    or the source its sidecar names (when it has moved, the file of ``moved`` with its NWB identifier, animal,
    session and neurons) -- and the reader options that read the traces their vectors were made from again, over the
    time they were made from (``embedded_reading``; ``series``, ``during``: the user's ``--series`` and ``--during``,
    refused when they read other traces or time)."""
    table = embedding_table_over(path, neuron_table, name)
    source = table.attrs.get("source")
    recorded = table.attrs.get("neuron_table", "") if source is None else source.get("neuron_table", "")
    reading = embedded_reading(recorded or neuron_table or "", table.attrs.get("model", {}).get("hyperparameters", {}),
                               series, str(path), during)
    if source:
        return (moved or MovedSources()).locate(path, source, table["neuron_id"].to_numpy()), reading
    return str(path), reading


def embedding_table_over(path: str | Path, neuron_table: str | None, name: str | None = None) -> pd.DataFrame:
    """The file's first embedding table (``read_embeddings``; of those named ``name``, when given) whose neurons are
    those of ``neuron_table`` (any, when None); empty when the file has none (its activity is read as it is)."""
    from nwb_neurpir.store import list_embeddings, read_embeddings

    tables = (read_embeddings(path, key) for key in ([name] if name else list_embeddings(path)))
    wanted = None if neuron_table is None else neuron_table.strip("/")
    return next((table for table in tables if wanted in (None, table.attrs["neuron_table"])), pd.DataFrame())


def embedded_series(neuron_table: str, hyperparameters: dict[str, Any]) -> str:
    """The path of the traces (or units table) the vectors of the neurons of ``neuron_table`` were made from, as
    their model's ``hyperparameters`` record it (``embedding``: ``activity_series``); ``neuron_table`` itself for
    vectors that do not record it (written before 0.2.2, or elsewhere)."""
    selection = hyperparameters.get("embedding")
    recorded = selection.get("activity_series") if isinstance(selection, dict) else None
    return str(recorded or neuron_table).strip("/")


def embedded_reading(neuron_table: str, hyperparameters: dict[str, Any], series: str | None,
                     source: str, during: str | None = None) -> dict[str, str]:
    """The reader options that read the traces the vectors of ``neuron_table`` were made from again
    (``embedded_series``), over the time they were made from (their ``--during``, which hand features read beside
    them then share); ``ContradictedReading`` naming both when ``series`` (the user's ``--series``) names other
    traces or neurons, or ``during`` (the user's ``--during``) other time."""
    from nwb_neurpir.io.h5_tables import path_named

    embedded = embedded_series(neuron_table, hyperparameters)
    if series is not None and neuron_table and \
            not any(path_named(path, series) for path in (embedded, neuron_table.strip("/"))):
        raise ContradictedReading(f"--series {series} contradicts the embeddings, made from /{embedded}; leave "
                                  "--series out (the vectors' own traces are read) or pick the embeddings of that "
                                  "series with --embeddings", source=source)
    return {**reader_options_for(embedded), **_embedded_time(hyperparameters, during, source)}


def _embedded_time(hyperparameters: dict[str, Any], during: str | None, source: str) -> dict[str, str]:
    """``{"during": ...}`` of the vectors (``embedded_during``; empty for all the time); ``ContradictedReading``
    naming both when ``during`` (the user's ``--during``, None: not given) chooses other time."""
    from nwb_neurpir.io.during import During
    from nwb_neurpir.store.read import embedded_during

    stored = embedded_during(hyperparameters)
    if during is not None and (stored is None or str(During.parse(during, source)) != stored):
        made = f"made with --during {stored}" if stored else "made from all the observed time (without --during)"
        raise ContradictedReading(f"--during {during} contradicts the embeddings, {made}; leave --during out (the "
                                  "vectors' own time is read) or embed the file again with it under another "
                                  "--embeddings name", source=source)
    return {} if stored is None else {"during": stored}


def reader_options_for(neuron_table: str) -> dict[str, str]:
    """The reader options that read the neurons of ``neuron_table`` again: for ROIs, their segmentation table (whose
    ROI traces the reader then picks; a file may hold several imaging planes) or the ``RoiResponseSeries`` itself;
    for units, their units table (a file may hold several spike sortings), nothing for ``/units``, the reader's
    default."""
    return {"series": neuron_table} if neuron_table and neuron_table.strip("/") != "units" else {}


def _identity(path: Path, source: dict[str, Any]) -> FileIdentity:
    """The animal, session and identifier of an NWB file, as the reader gives them to its recording; a sidecar
    (``source``: its source's record) without a session id of its own gets its source's."""
    from nwb_neurpir.io.h5_tables import stripped_text
    from nwb_neurpir.io.identity import read_identity
    from nwb_neurpir.io.nwb_file import open_nwb

    with open_nwb(path) as file:
        needs_source = bool(source) and not stripped_text(file, "general/session_id")
        return read_identity(file, str(path), _source_session_id(path, source) if needs_source else "")


def _source_session_id(sidecar: Path, source: dict[str, Any]) -> str:
    """The session id of the recording that ``sidecar`` names (a sidecar of a release before sidecars recorded it):
    read from the source when it is a local file with the recorded NWB identifier; else, warned about once, that
    identifier."""
    from nwb_neurpir.io.h5_tables import stripped_text
    from nwb_neurpir.io.nwb_file import open_nwb
    from nwb_neurpir.io.read_warnings import warn_about

    location, identifier = str(source.get("location", "")), str(source.get("identifier", "")).strip()
    if "://" not in location and Path(location).is_file():
        with open_nwb(location) as file:
            if not identifier or stripped_text(file, "identifier") in ("", identifier):
                return stripped_text(file, "general/session_id") or stripped_text(file, "identifier")
    warn_about(str(sidecar), f"the sidecar records no session id (an earlier nwb-neurpir wrote it) and its source "
                             f"{location or '(not recorded)'} cannot be read here; its session_id is the source's "
                             f"NWB identifier {identifier or '(not recorded)'}")
    return identifier

"""``write_embeddings``: add a ``NeuronEmbeddings`` table and its ``NeurPIRModel`` to an NWB file, atomically.

The file is copied byte for byte to a temporary file next to the target, the new objects are appended to the copy
(replacing an older table of the same name first, then repacking so the file does not grow), the copy is verified by
reading it back, and only then moved into place with ``os.replace``. The original's objects stay exactly as they
were: pynwb's append mode would re-stamp old files with the current NWB version and cache a second core schema, so
the spec is cached for ``ndx-neurpir`` only and attributes pynwb rewrote on existing objects are put back. (``export``
would give a clean single-version file too, but it rewrites every object and fails on real NWB 2.4 files whose
``units/electrodes`` has no index.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nwb_neurpir.atomic_files import hdf5_writer
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.followed_links import resolved_for_writing
from nwb_neurpir.io.h5_tables import stripped_text
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store.append import MODULE_DESCRIPTION, append_objects, replaceable_objects
from nwb_neurpir.store.atomic import Staging, is_writable, staged_replace
from nwb_neurpir.store.checks import checked_embeddings, checked_name, checked_silent, locate_neurons, reads_back_as
from nwb_neurpir.store.containers import embeddings_table, model_container, model_name
from nwb_neurpir.store.hdf5_tools import repack
from nwb_neurpir.store.read import neuron_table_of, read_embeddings

__all__ = ["DEFAULT_LOCK_TIMEOUT", "DEFAULT_MODULE", "DEFAULT_NAME", "MODULE_DESCRIPTION", "write_embeddings"]

DEFAULT_NAME = "NeurPIREmbeddings"
DEFAULT_MODULE = "neurpir"
DEFAULT_LOCK_TIMEOUT = 120.0


def write_embeddings(
    path: str | Path,
    neuron_ids: Sequence[int] | np.ndarray,
    embeddings: np.ndarray,
    provenance: ModelProvenance,
    *,
    neuron_table: str | None = None,
    name: str = DEFAULT_NAME,
    module: str = DEFAULT_MODULE,
    overwrite: bool = False,
    output: str | Path | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: bool = True,
    silent: Sequence[bool] | np.ndarray | None = None,
) -> Path:
    """Store one embedding per neuron in the NWB file at ``path`` (in place), or in a copy at ``output``.

    ``neuron_ids`` are ids of rows of ``neuron_table`` (an HDF5 path such as ``units``; ``None`` finds the Units table
    or PlaneSegmentation holding them). The table goes to ``processing/<module>/<name>`` next to its model
    ``<name>_model``. An existing table of that name is an error unless ``overwrite``. An earlier copy of the same
    recording at ``output`` gets the table added, keeping what it holds. Writing in place copies the whole file first
    (shown with a progress bar when that takes over a second, unless ``progress`` is False); a symbolic link is
    followed, so the file it points at is annotated (a link of yours or of its folder's owner only:
    ``followed_links``). ``silent`` (one bool per neuron: no activity in the time read, ``Recording.silent``) is
    stored as the table's ``silent`` column. Returns the written path.
    """
    source = Path(path)
    in_place = output is None or Path(output).resolve() == source.resolve()
    target = resolved_for_writing(source) if in_place else Path(output)
    ids, vectors = checked_embeddings(neuron_ids, embeddings, source)
    marks = checked_silent(silent, ids.size, source)
    checked_name(name, "embeddings", source)
    checked_name(module, "processing module", source)
    with open_nwb(source):
        pass  # not found / not HDF5 / not NWB: said before any lock file is made
    if in_place and not is_writable(target):
        raise NeurPIRError("file is read-only; write a sidecar file or choose an output folder", source=source)
    with staged_replace(target, lock_timeout) as staging:
        base = earlier_copy_or(source, target, in_place)
        with open_nwb(base) as file:
            table_path, rows = locate_neurons(file, ids, neuron_table, base)
            stale = _existing_objects(file, module, name, base)
            if not overwrite:
                refuse_replacing(file, stale, name, module, table_path, base)
        work = _fresh_copy(staging, base, stale, progress)
        _append(work, table_path, rows, ids, vectors, marks, provenance, name, module, source)
        _verify(work, f"{module}/{name}", table_path, ids, vectors, marks, source)
        staging.commit(work)
    return source if in_place else target


def earlier_copy_or(source: Path, target: Path, in_place: bool) -> Path:
    """The file to add to: ``source``, or, when writing a copy to ``target`` and an earlier copy of the same
    recording (NWB identifier, subject and session) is there, that copy (so what it already holds is kept); a file
    of another recording there is an error."""
    if in_place or not target.exists():
        return source
    ours = _recording_identity(source)
    try:
        theirs = _recording_identity(target)
    except NeurPIRError:
        theirs = "unknown"
    if theirs != ours:
        raise NeurPIRError(f"output {target} holds another recording ({theirs}; this is {ours}), not a copy of this "
                           "one; it is not replaced, even with overwrite", source=source)
    return target


def _recording_identity(path: Path) -> str:
    """``identifier <NWB identifier>, subject <id>, session <id>`` of an NWB file ("-" where it records none)."""
    with open_nwb(path) as file:
        parts = {what: stripped_text(file, where) or "-" for what, where in
                 (("identifier", "identifier"), ("subject", "general/subject/subject_id"),
                  ("session", "general/session_id"))}
    return ", ".join(f"{what} {value}" for what, value in parts.items())


def refuse_existing(path: Path, name: str, neuron_table: str, module: str = DEFAULT_MODULE) -> None:
    """The error ``write_embeddings`` gives without ``overwrite`` when the NWB file ``path`` already holds embeddings
    called ``name`` (to refuse before embedding the neurons of ``neuron_table``)."""
    with open_nwb(path) as file:
        refuse_replacing(file, _existing_objects(file, module, name, path), name, module, neuron_table, path)


def refuse_replacing(file: h5py.File, stale: list[str], name: str, module: str, neuron_table: str,
                     path: Path) -> None:
    """The error for embeddings of the neurons of ``neuron_table`` that would replace the ``stale`` objects of
    ``file``: when the table there holds another table's neurons (another imaging plane, another units table), it
    says so and points to another name."""
    if not stale:
        return
    table = file.get(f"processing/{module}/{name}")
    held = neuron_table_of(table) if isinstance(table, h5py.Group) else None
    ours = neuron_table.strip("/")
    if held is not None and held != ours:
        raise NeurPIRError(f"already has embeddings named '{name}' in processing/{module}, of the neurons of /{held}, "
                           f"not of /{ours}; give these another name with --name NAME (name=...) to keep both "
                           f"(--overwrite would replace those of /{held})", source=path)
    raise NeurPIRError(f"already has embeddings named '{name}' in processing/{module}; use --overwrite "
                       "(overwrite=True) to replace them", source=path)


def _existing_objects(file: h5py.File, module: str, name: str, source: Path) -> list[str]:
    """Paths of our objects that a new table called ``name`` would replace; a foreign object there is an error."""
    return replaceable_objects(file, module, {name: "NeuronEmbeddings", model_name(name): "NeurPIRModel"},
                               "NeurPIR embeddings", source)


def _fresh_copy(staging: Staging, source: Path, stale: list[str], progress: bool) -> Path:
    """A temporary copy of ``source`` without the ``stale`` objects (repacked, so their space is not kept)."""
    work = staging.copy_of(source, progress)
    if not stale:
        return work
    with hdf5_writer(work, "r+") as file:
        for path in stale:
            del file[path]
    packed = staging.new_temp()
    repack(work, packed)
    return packed


def _append(work: Path, table_path: str, rows: np.ndarray, ids: np.ndarray, vectors: np.ndarray,
            silent: np.ndarray | None, provenance: ModelProvenance, name: str, module: str, source: Path) -> None:
    def build(target: Any) -> list[Any]:
        model = model_container(provenance, name)
        return [model, embeddings_table(name, ids, rows, vectors, target, model, silent=silent)]

    append_objects(work, table_path, module, build, source)


def _verify(work: Path, name: str, table_path: str, ids: np.ndarray, vectors: np.ndarray, silent: np.ndarray | None,
            source: Path) -> None:
    """Read the written table back from the closed file and compare it with what was meant to be written."""
    frame = read_embeddings(work, name=name)
    if not (frame.attrs["neuron_table"] == table_path and reads_back_as(frame, ids, vectors, silent)):
        raise NeurPIRError("the embeddings read back differ from those written; the file was left unchanged",
                           source=source)

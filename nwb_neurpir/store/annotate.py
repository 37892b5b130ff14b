"""``annotate``: the one call behind ``neurpir annotate`` — store embeddings in place, in a copy, or in a sidecar."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.recording import Recording, SourceInfo
from nwb_neurpir.store.atomic import is_writable, new_folders, staged_replace
from nwb_neurpir.store.read import list_embeddings, read_embeddings, tables_named
from nwb_neurpir.store.sidecar import disambiguated, sidecar_of_other_source, sidecar_path, write_sidecar
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, DEFAULT_NAME, write_embeddings

__all__ = ["DEFAULT_SIDECAR_DIR", "AnnotateResult", "annotate", "annotate_recording", "copy_as_annotated",
           "copy_target", "goes_to_sidecar", "holds_same_embeddings", "local_target", "planned_target",
           "sidecar_target"]

AnnotateKind = Literal["in-place", "copy", "sidecar"]


@dataclass(frozen=True)
class AnnotateResult:
    """Where the embeddings went and how: into the file itself, into an annotated copy, or into a sidecar file."""

    path: Path
    kind: AnnotateKind


DEFAULT_SIDECAR_DIR = "neurpir-sidecars"
"""Where sidecar files go without an output folder: this folder below the current one, never beside the sources."""


def annotate(
    source: SourceInfo | str | Path,
    neuron_ids: Sequence[int] | np.ndarray,
    embeddings: np.ndarray,
    provenance: ModelProvenance,
    *,
    neuron_table: str | None = None,
    name: str = DEFAULT_NAME,
    module: str = DEFAULT_MODULE,
    overwrite: bool = False,
    output_dir: str | Path | None = None,
    relative_path: str | None = None,
    sidecar: bool | None = None,
    label_columns: pd.DataFrame | None = None,
    session_start_time: datetime | str | None = None,
    subject_id: str | None = None,
    session_id: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: bool = True,
    claimed: set[Path] | None = None,
    silent: Sequence[bool] | np.ndarray | None = None,
) -> AnnotateResult:
    """Store embeddings for the neurons of ``source`` where they belong.

    - A local file: with ``output_dir``, into an annotated copy ``<output_dir>/<relative_path>`` (default: the file
      name), so a folder's layout is kept -- a read-only file too, the copy being new; without it, into the file
      itself (atomically) when it may be written.
    - A source that cannot be changed (a DANDI asset or URL; without ``output_dir``, a read-only file or folder), or
      ``sidecar=True``: a sidecar NWB file ``sub-<subject>/sub-<subject>_ses-<session>_desc-<name>.nwb`` (DANDI's
      layout) in ``output_dir``, else in ``./neurpir-sidecars``; a second source with the same subject and session
      gets DANDI's ``_obj-<hash>`` entity instead of replacing the first one's file. ``label_columns``,
      ``session_start_time``, ``subject_id`` and ``session_id`` feed the sidecar of a remote source (a local one
      supplies its own).

    ``sidecar=False`` refuses the sidecar fallback (a read-only file without ``output_dir`` is then an error).
    ``progress=False`` hides the progress bar of copying a large file. ``claimed``: output paths already written in
    this run; a source whose output would be one of them is refused (and its output is added once written).
    ``silent`` (one bool per neuron) marks those without activity in the time read (``write_embeddings``).
    """
    info = source if isinstance(source, SourceInfo) else SourceInfo(location=str(source))
    local = Path(info.location) if info.is_local else None
    if local is not None and not local.exists():
        raise NeurPIRError("no such file", source=local)
    claimed = set() if claimed is None else claimed
    common = dict(neuron_table=neuron_table, name=name, module=module, overwrite=overwrite, lock_timeout=lock_timeout,
                  silent=silent)
    planned = planned_target(info, name, output_dir, relative_path, sidecar, subject_id, session_id, claimed)
    target, how = planned.path, planned.kind
    if how == "sidecar":
        _claim(target, claimed, info)
        path = write_sidecar(target, info, neuron_ids, embeddings, provenance, label_columns,
                             session_start_time=session_start_time, subject_id=subject_id, session_id=session_id,
                             **common)
        return AnnotateResult(path, "sidecar")
    if how == "copy":
        _claim(target, claimed, info)
    with new_folders(target.parent, info.label(), "its annotated copy"):
        path = write_embeddings(local, neuron_ids, embeddings, provenance, progress=progress,
                                output=target if how == "copy" else None, **common)
    return AnnotateResult(path, how)


def copy_as_annotated(info: SourceInfo, target: Path, claimed: set[Path], lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                      progress: bool = True) -> AnnotateResult:
    """Copy the local source of ``info``, which already holds the embeddings asked for, byte for byte to ``target``
    (its copy in an output folder, ``planned_target``), under the target's lock; a copy another job made meanwhile is
    kept."""
    _claim(target, claimed, info)
    with new_folders(target.parent, info.label(), "its annotated copy"), \
            staged_replace(target, lock_timeout) as staging:
        if not target.exists():
            staging.commit(staging.copy_of(Path(info.location), progress))
    return AnnotateResult(target, "copy")


def planned_target(info: SourceInfo, name: str, output_dir: str | Path | None, relative_path: str | None,
                   sidecar: bool | None, subject_id: str | None = None, session_id: str | None = None,
                   claimed: set[Path] | frozenset[Path] = frozenset()) -> AnnotateResult:
    """Where ``annotate`` writes the embeddings ``name`` of ``info``, and how, without writing anything."""
    if goes_to_sidecar(info, output_dir, sidecar):
        return AnnotateResult(sidecar_target(info, name, output_dir, subject_id, session_id, claimed), "sidecar")
    if not info.is_local:
        raise NeurPIRError("a remote file cannot be annotated in place; write a sidecar file", source=info.label())
    return AnnotateResult(*local_target(Path(info.location), output_dir, relative_path))


def holds_same_embeddings(path: Path, name: str, model_sha256: str, selection: dict[str, str | None],
                          neuron_ids: np.ndarray, module: str = DEFAULT_MODULE) -> bool:
    """Whether the NWB file ``path`` holds embeddings ``name`` (in ``module``) made by the model ``model_sha256``
    from the neurons ``neuron_ids`` read with ``selection`` (``Recording.neuron_selection``: the neuron filter and
    the calcium series or units table), as its ``NeurPIRModel`` records them: writing them again would change
    nothing."""
    if not tables_named(list_embeddings(path), f"{module}/{name}"):
        return False
    frame = read_embeddings(path, name=f"{module}/{name}")
    model = frame.attrs["model"]
    return (model["checkpoint_sha256"] == model_sha256
            and model["hyperparameters"].get("embedding") == selection
            and np.array_equal(frame["neuron_id"].to_numpy(), neuron_ids))


def goes_to_sidecar(info: SourceInfo, output_dir: str | Path | None, sidecar: bool | None) -> bool:
    """Whether ``annotate`` writes a sidecar for ``info``: asked for (``sidecar``), or, when not said, for a source
    that cannot be changed (remote, or read-only and no ``output_dir`` for a copy). A symbolic link is judged by the
    file it points at and that file's folder, where an in-place write goes."""
    if sidecar is not None:
        return sidecar
    if not info.is_local:
        return True
    local = Path(info.location).resolve()
    return output_dir is None and not (is_writable(local) and is_writable(local.parent))


def sidecar_target(info: SourceInfo, name: str, output_dir: str | Path | None, subject_id: str | None = None,
                   session_id: str | None = None, claimed: set[Path] | frozenset[Path] = frozenset()) -> Path:
    """The sidecar ``annotate`` writes for ``info``: in ``output_dir`` (else ``./neurpir-sidecars``), named in DANDI's
    layout, with DANDI's ``_obj-<hash>`` entity when another source of this run or on disk has that name."""
    folder = Path(output_dir) if output_dir is not None else Path.cwd() / DEFAULT_SIDECAR_DIR
    target = sidecar_path(info, name, folder, subject_id, session_id)
    if target in claimed or sidecar_of_other_source(target, info):
        target = disambiguated(target, info)
    return target


def _claim(target: Path, claimed: set[Path], info: SourceInfo) -> None:
    if target in claimed:
        raise NeurPIRError(f"another source of this run was already written to {target}; give the sources from "
                           "one folder (its layout is kept) or annotate them in separate runs", source=info.label())
    claimed.add(target)


_DANDI_SUBJECT = re.compile(r"(sub-[^_/\\]+)_")


def local_target(local: Path, output_dir: str | Path | None,
                 relative_path: str | None = None) -> tuple[Path, Literal["copy", "in-place"]]:
    """Where ``annotate`` writes a local file when not into a sidecar, and how: into its copy in ``output_dir``
    (``copy_target``), else into the file itself -- also when that copy would be the file itself."""
    if output_dir is not None:
        target = copy_target(local, output_dir, relative_path)
        if target.resolve() != local.resolve():
            return target, "copy"
    return local, "in-place"


def copy_target(source: Path, output_dir: str | Path, relative_path: str | None = None) -> Path:
    """Where the annotated copy of the local file ``source`` goes: ``<output_dir>/<relative_path>`` (default: the
    file's name), refused when the relative path would leave the folder. A bare file named in DANDI's layout
    (``sub-<subject>_...``) goes into ``sub-<subject>/``, as in a dandiset, whether its folder or the file was given.

    >>> copy_target(Path("data/sub-1/sub-1_ses-2_ecephys.nwb"), "out", "sub-1_ses-2_ecephys.nwb").as_posix()
    'out/sub-1/sub-1_ses-2_ecephys.nwb'
    """
    path = Path(relative_path or source.name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise NeurPIRError(f"cannot place the copy at {str(path)!r} inside the output folder", source=source)
    subject = _DANDI_SUBJECT.match(path.name)
    if len(path.parts) == 1 and subject:
        path = Path(subject.group(1)) / path
    return Path(output_dir) / path


def annotate_recording(recording: Recording, embeddings: np.ndarray, provenance: ModelProvenance,
                       **options: object) -> AnnotateResult:
    """``annotate`` with the ids, table, labels, session start and neurons without activity (``Recording.silent``)
    of a ``Recording`` read by ``nwb_neurpir.io``."""
    return annotate(recording.source, recording.neuron_ids, embeddings, provenance,
                    neuron_table=recording.neuron_table, label_columns=recording.neuron_metadata,
                    session_start_time=recording.session_start_time, subject_id=recording.subject_id,
                    session_id=recording.session_id, silent=recording.silent(), **options)

"""``annotate``: the one call behind ``neurpir annotate`` — store embeddings in place, in a copy, or in a sidecar."""

from __future__ import annotations

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
from nwb_neurpir.store.atomic import is_writable
from nwb_neurpir.store.sidecar import sidecar_path, write_sidecar
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, DEFAULT_NAME, write_embeddings

__all__ = ["AnnotateResult", "annotate", "annotate_recording"]

AnnotateKind = Literal["in-place", "copy", "sidecar"]


@dataclass(frozen=True)
class AnnotateResult:
    """Where the embeddings went and how: into the file itself, into an annotated copy, or into a sidecar file."""

    path: Path
    kind: AnnotateKind


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
    sidecar: bool | None = None,
    label_columns: pd.DataFrame | None = None,
    session_start_time: datetime | str | None = None,
    subject_id: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: bool = True,
) -> AnnotateResult:
    """Store embeddings for the neurons of ``source`` where they belong.

    - A local file that may be written: into the file itself (atomically), or, with ``output_dir``, into an annotated
      copy ``<output_dir>/<file name>``.
    - A source that cannot be changed (a DANDI asset or URL, a read-only file or folder), or ``sidecar=True``: a
      sidecar NWB file ``<stem>.<name>.nwb`` in ``output_dir``, else next to a local source whose folder may be
      written, else in the current folder. ``label_columns``, ``session_start_time`` and ``subject_id`` feed the
      sidecar of a remote source (a local one supplies its own).

    ``sidecar=False`` refuses the sidecar fallback (with ``output_dir``, a read-only file then gets a full copy).
    ``progress=False`` hides the progress bar of copying a large file.
    """
    info = source if isinstance(source, SourceInfo) else SourceInfo(location=str(source))
    local = Path(info.location) if info.is_local else None
    if local is not None and not local.exists():
        raise NeurPIRError("file not found", source=local)
    modifiable = local is not None and is_writable(local) and is_writable(local.parent)
    folder = Path(output_dir) if output_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    common = dict(neuron_table=neuron_table, name=name, module=module, overwrite=overwrite, lock_timeout=lock_timeout)
    if (not modifiable) if sidecar is None else sidecar:
        if folder is None:
            folder = local.parent if local is not None and is_writable(local.parent) else Path.cwd()
        path = write_sidecar(sidecar_path(info, name, folder), info, neuron_ids, embeddings, provenance,
                             label_columns, session_start_time=session_start_time, subject_id=subject_id,
                             **common)
        return AnnotateResult(path, "sidecar")
    if local is None:
        raise NeurPIRError("a remote file cannot be annotated in place; write a sidecar file", source=info.label())
    if folder is not None and (folder / local.name).resolve() != local.resolve():
        path = write_embeddings(local, neuron_ids, embeddings, provenance, output=folder / local.name,
                                progress=progress, **common)
        return AnnotateResult(path, "copy")
    path = write_embeddings(local, neuron_ids, embeddings, provenance, progress=progress, **common)
    return AnnotateResult(path, "in-place")


def annotate_recording(recording: Recording, embeddings: np.ndarray, provenance: ModelProvenance,
                       **options: object) -> AnnotateResult:
    """``annotate`` with the ids, table, labels and session start of a ``Recording`` read by ``nwb_neurpir.io``."""
    return annotate(recording.source, recording.neuron_ids, embeddings, provenance,
                    neuron_table=recording.neuron_table, label_columns=recording.neuron_metadata,
                    session_start_time=recording.session_start_time, subject_id=recording.subject_id, **options)

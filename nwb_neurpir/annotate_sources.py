"""Embed every neuron of many sources with a trained model and store the vectors, continuing past failing sources."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR

__all__ = ["AnnotateOutcome", "annotate_sources"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotateOutcome:
    """What happened to one source: where its embeddings went, or why not."""

    source: str
    status: str
    """``in-place``, ``copy``, ``sidecar`` or ``failed``."""
    path: str | None = None
    n_neurons: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status, "path": self.path, "n_neurons": self.n_neurons,
                "error": self.error}


def annotate_sources(
    model: NeurPIR,
    sources: Iterable[str | Path],
    glob: str | None = None,
    *,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    name: str | None = None,
    sidecar: bool | None = None,
    cache_dir: str | Path | None = None,
    unit_filter: str | None = None,
    lock_timeout: float | None = None,
    progress: bool = True,
) -> list[AnnotateOutcome]:
    """Embed and store each source's neurons; a source that fails is reported in its outcome, not raised.

    Local writable files are annotated in place (atomically) or copied to ``output_dir``; DANDI assets, URLs and
    read-only files get a sidecar NWB file. Neurons with no observed activity have no vector and are left out.
    ``lock_timeout``: seconds to wait for another writer of the same file (None: the store's default).
    """
    from tqdm import tqdm

    from nwb_neurpir.io import read_resolved
    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.sources import resolve_sources
    from nwb_neurpir.store import DEFAULT_LOCK_TIMEOUT, DEFAULT_NAME, annotate_recording

    access = DataAccess(cache_dir=cache_dir)
    provenance = model.provenance()
    outcomes: list[AnnotateOutcome] = []
    resolved = []
    for text in sources:
        try:
            resolved.extend(resolve_sources([text], glob, access=access))
        except NeurPIRError as exc:
            outcomes.append(AnnotateOutcome(source=str(text), status="failed", error=exc.one_line()))
    for source in tqdm(resolved, desc="annotating", unit="file", disable=not progress):
        try:
            recording = read_resolved(source, access, unit_filter=unit_filter, modality=model.config.modality)
            vectors = model.embed(recording, progress=False)
            keep = np.isfinite(vectors).all(axis=1)
            if not keep.all():
                warnings.warn(f"{source.label()}: {int((~keep).sum())} neurons have no observed activity and get "
                              "no embedding", stacklevel=2)
            recording = recording.select_neurons(keep)
            result = annotate_recording(recording, vectors[keep], provenance, name=name or DEFAULT_NAME,
                                        overwrite=overwrite, output_dir=output_dir, sidecar=sidecar,
                                        lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout)
            outcomes.append(AnnotateOutcome(source=source.label(), status=result.kind, path=str(result.path),
                                            n_neurons=int(keep.sum())))
        except NeurPIRError as exc:
            log.info("annotating %s failed: %s", source.label(), exc)
            outcomes.append(AnnotateOutcome(source=source.label(), status="failed", error=exc.one_line()))
    return outcomes

"""Embed every neuron of many sources with a trained model and store the vectors, continuing past failing sources."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.provenance import ModelProvenance

if TYPE_CHECKING:
    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.io.nwb_reader import ModalityMismatch
    from nwb_neurpir.model import NeurPIR
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.io.sources import ResolvedSource

__all__ = ["AnnotateOutcome", "annotate_sources", "model_mismatch", "read_for_model",
           "warn_missing_context"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotateOutcome:
    """What happened to one source: where its embeddings went, or why not."""

    source: str
    status: str
    """``in-place``, ``copy``, ``sidecar``, ``skipped`` (a sidecar, or a file without neurons) or ``failed``."""
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

    Local writable files are annotated in place (atomically) or copied to ``output_dir`` with the layout they have
    below the folder given; DANDI assets, URLs and read-only files get a sidecar NWB file (see
    ``nwb_neurpir.store.annotate``). Sidecar files and files without units or ROIs are skipped. Neurons with no observed activity
    have no vector and are left out. Context inputs of the model that a file lacks are set to zero, with a warning,
    and recorded in that file's ``NeurPIRModel`` description. ``lock_timeout``: seconds to wait for another writer of
    the same file (None: the store's default).
    """
    from tqdm import tqdm

    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.io.nwb_reader import NoNeurons, SidecarFile
    from nwb_neurpir.io.resolve import resolve_each
    from nwb_neurpir.store import DEFAULT_LOCK_TIMEOUT, DEFAULT_NAME, annotate_recording

    access = DataAccess(cache_dir=cache_dir)
    provenance = model.provenance()
    resolved, failures = resolve_each(sources, glob, access=access)
    outcomes = [AnnotateOutcome(source=text, status="failed", error=error.one_line()) for text, error in failures]
    claimed: set[Path] = set()
    for source in tqdm(resolved, desc="annotating", unit="file", disable=not progress):
        try:
            recording = read_for_model(model, source, access, unit_filter=unit_filter)
            missing = warn_missing_context(model, recording)
            vectors = model.embed(recording, progress=False)
            keep = np.isfinite(vectors).all(axis=1)
            if not keep.all():
                warnings.warn(f"{source.label()}: {int((~keep).sum())} neurons have no observed activity and get "
                              "no embedding", stacklevel=2)
            recording = recording.select_neurons(keep)
            result = annotate_recording(recording, vectors[keep], _with_missing_inputs(provenance, missing),
                                        name=name or DEFAULT_NAME, overwrite=overwrite, output_dir=output_dir,
                                        relative_path=source.relative_path, sidecar=sidecar, claimed=claimed,
                                        lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout)
            outcomes.append(AnnotateOutcome(source=source.label(), status=result.kind, path=str(result.path),
                                            n_neurons=int(keep.sum())))
        except (SidecarFile, NoNeurons) as exc:
            outcomes.append(AnnotateOutcome(source=source.label(), status="skipped", error=exc.one_line()))
        except NeurPIRError as exc:
            log.info("annotating %s failed: %s", source.label(), exc)
            outcomes.append(AnnotateOutcome(source=source.label(), status="failed", error=exc.one_line()))
    return outcomes


def read_for_model(model: NeurPIR, source: ResolvedSource, access: DataAccess, **reader_kwargs: Any) -> Recording:
    """Read ``source`` as the model's modality; a file of another modality is blamed on the model, not an option."""
    from nwb_neurpir.io import read_resolved
    from nwb_neurpir.io.nwb_reader import ModalityMismatch

    try:
        return read_resolved(source, access, modality=model.config.modality, **reader_kwargs)
    except ModalityMismatch as exc:
        raise model_mismatch(exc) from None


def model_mismatch(exc: ModalityMismatch) -> NeurPIRError:
    """The error for a file whose neurons are of another modality than the model's."""
    return NeurPIRError(f"the model was trained on {exc.wanted} data, but this file holds {exc.found} data only; "
                        f"embed it with a model trained on {exc.found} recordings", exc.source)


def warn_missing_context(model: NeurPIR, recording: Recording) -> list[str]:
    """The model's context inputs that ``recording`` lacks (they are set to zero), with one warning naming them."""
    if model.context_ is None:
        return []
    present = set(recording.covariate_matrix()[1])
    missing = [name for name in model.context_.columns if name not in present]
    if missing:
        warnings.warn(f"{recording.source.label()}: {len(missing)} of the model's {len(model.context_.columns)} "
                      f"context inputs are missing and set to zero: {', '.join(missing)}", stacklevel=2)
    return missing


def _with_missing_inputs(provenance: ModelProvenance, missing: list[str]) -> ModelProvenance:
    if not missing:
        return provenance
    return dataclasses.replace(provenance, description=f"{provenance.description} Context inputs missing in this "
                               f"file and set to zero when embedding it: {', '.join(missing)}.")

"""Sources read for a trained model: the model folder itself, its modality, and its context inputs a file lacks."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    import numpy as np

    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.io.nwb_reader import ModalityMismatch
    from nwb_neurpir.model import NeurPIR
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.io.sources import ResolvedSource

__all__ = ["OtherModality", "load_model_folder", "model_bin_size", "model_mismatch", "open_for_model", "read_for_model",
           "warn_missing_context", "warn_unobserved"]


class OtherModality(NeurPIRError):
    """A file whose neurons are of another modality than the model's."""


def load_model_folder(model_dir: str | Path, num_threads: int = 0) -> NeurPIR:
    """The model in ``model_dir``, to embed with ``num_threads`` torch threads (0: ``OMP_NUM_THREADS`` or every CPU
    this process may use); a URL, a zip archive, a missing folder or a file is named as such (``model_folder``),
    before the manifest is looked at."""
    from nwb_neurpir.model import NeurPIR

    return NeurPIR.load(model_dir).set_threads(num_threads)


def open_for_model(model: NeurPIR, sources: Iterable[str | Path], glob: str | None = None, *, access: DataAccess,
                   **reader_kwargs: Any) -> Iterator[Recording]:
    """``nwb_neurpir.io.open_recordings`` as the model's modality and, unless ``reader_kwargs`` name one, on its bin
    size; when no file holds the model's modality, the error blames the model, not an option."""
    from nwb_neurpir.io import open_recordings
    from nwb_neurpir.io.nwb_reader import ModalityMismatch

    reader_kwargs["bin_size"] = model_bin_size(model, reader_kwargs.get("bin_size"))
    try:
        yield from open_recordings(sources, glob, access=access, modality=model.config.modality, **reader_kwargs)
    except ModalityMismatch as exc:
        raise model_mismatch(exc) from None


def read_for_model(model: NeurPIR, source: ResolvedSource, access: DataAccess, **reader_kwargs: Any) -> Recording:
    """Read ``source`` as the model's modality and, unless ``reader_kwargs`` name one, on its bin size; a file of
    another modality is blamed on the model, not an option."""
    from nwb_neurpir.io import read_resolved
    from nwb_neurpir.io.nwb_reader import ModalityMismatch

    reader_kwargs["bin_size"] = model_bin_size(model, reader_kwargs.get("bin_size"))
    try:
        return read_resolved(source, access, modality=model.config.modality, **reader_kwargs)
    except ModalityMismatch as exc:
        raise model_mismatch(exc) from None


def model_bin_size(model: NeurPIR, asked: float | None) -> float | None:
    """The bin size to read files on for ``model``: its own; a different one asked for (``--bin-size``) is refused
    before any file is read, naming the model's (a model embeds recordings on the grid it was trained on only)."""
    from nwb_neurpir.recording import same_grid

    if asked is None or model.bin_size_ is None:
        return model.bin_size_ if asked is None else asked
    if not same_grid(float(asked), model.bin_size_):
        raise NeurPIRError(f"--bin-size {asked:g} (bin_size=) is not the model's bin size: it was trained on "
                           f"{model.bin_size_ * 1000:g} ms bins and embeds recordings read on them only; give "
                           f"--bin-size {model.bin_size_:g}, or leave --bin-size out to read on the model's")
    return asked


def model_mismatch(exc: ModalityMismatch, doing: str = "embed it with") -> OtherModality:
    """The error for a file whose neurons are of another modality than the model's (``doing``: what to do with a
    model of the file's modality)."""
    return OtherModality(f"the model was trained on {exc.wanted} data, but this file holds {exc.found} data only; "
                        f"{doing} a model trained on {exc.found} recordings", exc.source)


def warn_missing_context(model: NeurPIR, recording: Recording) -> list[str]:
    """The model's context inputs that ``recording`` lacks (each is read as its training mean), with one warning
    naming them."""
    if model.context_ is None:
        return []
    missing = model.context_.missing_columns(recording)
    if missing:
        warnings.warn(f"{recording.source.label()}: {len(missing)} of the model's {len(model.context_.columns)} "
                      f"context inputs are missing and set to their training mean: {', '.join(missing)}",
                      stacklevel=2)
    return missing


def warn_unobserved(recording: Recording, vectors: np.ndarray, outcome: str) -> np.ndarray:
    """Which neurons of ``recording`` have a vector (finite ``vectors`` row), with one warning counting those
    without (no observed activity: an all-NaN ROI trace) and saying what becomes of them (``outcome``)."""
    import numpy as np

    kept = np.isfinite(vectors).all(axis=1)
    if not kept.all():
        warnings.warn(f"{recording.source.label()}: {int((~kept).sum())} neurons have no observed activity and "
                      f"{outcome}", stacklevel=3)
    return kept

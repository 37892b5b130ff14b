"""Storing NeurPIR embeddings in NWB (``ndx-neurpir``): atomic, locked writes into files, sidecar files for sources
that cannot be changed, and reading them back as a DataFrame."""

from nwb_neurpir.store.annotate import DEFAULT_SIDECAR_DIR, AnnotateResult, annotate, annotate_recording
from nwb_neurpir.store.predictions import ProbeProvenance, write_predictions
from nwb_neurpir.store.read import list_embeddings, list_predictions, read_embeddings, read_predictions
from nwb_neurpir.store.remove import remove_embeddings
from nwb_neurpir.store.sidecar import sidecar_path, write_sidecar
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, DEFAULT_NAME, write_embeddings

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_MODULE",
    "DEFAULT_NAME",
    "DEFAULT_SIDECAR_DIR",
    "AnnotateResult",
    "ProbeProvenance",
    "annotate",
    "annotate_recording",
    "list_embeddings",
    "list_predictions",
    "read_embeddings",
    "read_predictions",
    "remove_embeddings",
    "sidecar_path",
    "write_embeddings",
    "write_predictions",
    "write_sidecar",
]

"""Storing NeurPIR embeddings in NWB (``ndx-neurpir``): atomic, locked writes into files, sidecar files for sources
that cannot be changed, and reading them back as a DataFrame."""

from nwb_neurpir.store.annotate import DEFAULT_SIDECAR_DIR, AnnotateResult, annotate, annotate_recording
from nwb_neurpir.store.read import list_embeddings, read_embeddings
from nwb_neurpir.store.sidecar import sidecar_path, write_sidecar
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, DEFAULT_NAME, write_embeddings

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_MODULE",
    "DEFAULT_NAME",
    "DEFAULT_SIDECAR_DIR",
    "AnnotateResult",
    "annotate",
    "annotate_recording",
    "list_embeddings",
    "read_embeddings",
    "sidecar_path",
    "write_embeddings",
    "write_sidecar",
]

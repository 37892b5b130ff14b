"""The writer that ``test_store_kill`` forks from a warm fork server (see ``fork_server``), with what that server
preloads."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store import write_embeddings

__all__ = ["WRITER_FAILED", "WRITER_PRELOAD", "WRITER_REFUSED", "write_embeddings_forked"]

WRITER_PRELOAD = ("store_kill_support", "ndx_neurpir", "pynwb")
"""What the writers' fork server imports once: this module (numpy and the store) and the NWB extension."""

WRITER_REFUSED = 3
"""Exit code of a writer that raised ``NeurPIRError`` (its one line is on stderr)."""

WRITER_FAILED = 4
"""Exit code of a writer that raised anything else (its traceback is on stderr)."""


def write_embeddings_forked(path: str, ids: list[int], vectors: list[list[float]], provenance: dict[str, Any],
                            name: str, lock_timeout: float) -> int:
    """``write_embeddings(..., overwrite=True)`` from JSON-able arguments, as an exit code: 0 when written,
    ``WRITER_REFUSED`` or ``WRITER_FAILED`` when not."""
    try:
        write_embeddings(path, ids, np.array(vectors), ModelProvenance(**provenance), name=name, overwrite=True,
                         lock_timeout=lock_timeout)
    except NeurPIRError as error:
        sys.stderr.write(error.one_line() + "\n")
        return WRITER_REFUSED
    except BaseException:
        traceback.print_exc()
        return WRITER_FAILED
    return 0

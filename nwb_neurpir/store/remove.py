"""``remove_embeddings``: delete a ``NeuronEmbeddings`` table and its ``NeurPIRModel`` from an NWB file, atomically
(the same temporary copy, repack, verification and ``os.replace`` as ``write_embeddings``)."""

from __future__ import annotations

from pathlib import Path

import h5py

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.followed_links import resolved_for_writing
from nwb_neurpir.io.h5_tables import decode_text
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.store.append import outside_links
from nwb_neurpir.store.atomic import is_writable, staged_replace
from nwb_neurpir.store.containers import model_name
from nwb_neurpir.store.read import list_embeddings, list_predictions, read_embeddings, read_predictions, tables_named
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, _fresh_copy

__all__ = ["remove_embeddings"]


def remove_embeddings(path: str | Path, name: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                      progress: bool = True) -> list[str]:
    """Delete the embedding table ``name`` (its name or ``module/name``) and its model from the NWB file at ``path``,
    in place and atomically; returns the HDF5 paths removed. Predictions made from the table stay (they keep their
    own copy of the model), and so does a model another object links to. A sidecar file holds one recording's
    embeddings: delete the file itself instead.

    >>> import nwb_neurpir as npir
    >>> npir.remove_embeddings("sim/sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb", "NeurPIR_B")   # doctest: +SKIP
    ['processing/neurpir/NeurPIR_B', 'processing/neurpir/NeurPIR_B_model']
    """
    source = Path(path)
    key = _the_table(source, name)
    target = resolved_for_writing(source)
    if not is_writable(target):
        raise NeurPIRError("file is read-only; its embeddings cannot be removed", source=source)
    with staged_replace(target, lock_timeout) as staging:
        with open_nwb(target) as file:
            if "source_file" in file[f"processing/{key}"]:
                raise NeurPIRError(f"is a sidecar file holding the embeddings {key!r} of one recording; delete the "
                                   "file itself to remove them", source=source)
            stale = [f"processing/{key}", *_unshared_model(file, key)]
        work = _fresh_copy(staging, target, stale, progress)
        _verify_removed(work, key, source)
        staging.commit(work)
    return stale


def _the_table(source: Path, name: str) -> str:
    """The ``module/name`` of the one embedding table ``name`` picks in the file, or a NeurPIRError naming them."""
    tables = list_embeddings(source)
    matches = tables_named(tables, name)
    if len(matches) != 1:
        count = "no" if not matches else "several"
        raise NeurPIRError(f"has {count} embedding tables named {name!r} (tables: {', '.join(tables) or 'none'})",
                           source=source)
    return matches[0]


def _unshared_model(file: h5py.File, key: str) -> list[str]:
    """The table's companion ``NeurPIRModel`` (``<name>_model``), unless it is missing or another object links to it."""
    module, table = key.split("/", 1)
    model = f"processing/{module}/{model_name(table)}"
    if model not in file or decode_text(file[model].attrs.get("neurodata_type")) != "NeurPIRModel":
        return []
    return [] if outside_links(file, module, [f"processing/{key}", model]) else [model]


def _verify_removed(work: Path, key: str, source: Path) -> None:
    """The table is gone and every other NeurPIR table of the copy still reads back."""
    remaining = list_embeddings(work)
    if key in remaining:
        raise NeurPIRError(f"the embeddings {key!r} are still there after removing them; the file was left "
                           "unchanged", source=source)
    for other in remaining:
        read_embeddings(work, other)
    for other in list_predictions(work):
        read_predictions(work, other)

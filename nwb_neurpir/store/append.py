"""Append ndx-neurpir objects to a temporary copy of an NWB file with pynwb, leaving every existing object as it was.

pynwb's append mode would re-stamp old files with the current NWB version and cache a second core schema, so the spec
is cached for ``ndx-neurpir`` only and attributes pynwb rewrote on existing objects are put back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py

from nwb_neurpir.store.hdf5_tools import AttributeSnapshot, cache_namespace
from nwb_neurpir.store.write import MODULE_DESCRIPTION, _container_at, _read_nwb

__all__ = ["append_objects"]


def append_objects(work: Path, table_path: str, module: str, build: Callable[[Any], list[Any]],
                   source: Path) -> None:
    """Add the containers ``build(neuron_table)`` returns to ``processing/<module>`` of the NWB file ``work``.

    ``neuron_table`` is the pynwb container read from the HDF5 path ``table_path`` (Units, a PlaneSegmentation, a
    sidecar's label table); ``source`` names the user's file in error messages.
    """
    from ndx_neurpir import NAMESPACE
    from pynwb import NWBHDF5IO

    file = h5py.File(work, "a")
    io = NWBHDF5IO(file=file, mode="a")
    try:
        snapshot = AttributeSnapshot(file)
        nwbfile = _read_nwb(io, source)
        target = _container_at(io, nwbfile, table_path)
        processing = (nwbfile.processing[module] if module in nwbfile.processing
                      else nwbfile.create_processing_module(module, MODULE_DESCRIPTION))
        for container in build(target):
            processing.add(container)
        io.write(nwbfile, cache_spec=False)
        cache_namespace(file, io.manager.namespace_catalog, NAMESPACE)
        snapshot.restore(file, may_add={"/": {".specloc"}})
    finally:
        io.close()
        file.close()

"""Append ndx-neurpir objects to a temporary copy of an NWB file with pynwb, leaving every existing object as it was.

pynwb's append mode would re-stamp old files with the current NWB version and cache a second core schema, so the spec
is cached for ``ndx-neurpir`` (and for ``core`` and ``hdmf-common`` only when the file caches none of their versions)
and attributes pynwb rewrote on existing objects are put back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py

from nwb_neurpir.atomic_files import hdf5_writer
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import decode_text
from nwb_neurpir.store.hdf5_tools import AttributeSnapshot, cache_namespace, drop_older_versions

__all__ = ["MODULE_DESCRIPTION", "append_objects", "outside_links", "replaceable_objects"]

MODULE_DESCRIPTION = "Per-neuron embeddings learned by NeurPIR and the models that made them (ndx-neurpir)."


def append_objects(work: Path, table_path: str, module: str, build: Callable[[Any], list[Any]],
                   source: Path) -> None:
    """Add the containers ``build(neuron_table)`` returns to ``processing/<module>`` of the NWB file ``work``.

    ``neuron_table`` is the pynwb container read from the HDF5 path ``table_path`` (Units, a PlaneSegmentation, a
    sidecar's label table); ``source`` names the user's file in error messages.
    """
    from ndx_neurpir import NAMESPACE
    from pynwb import NWBHDF5IO

    with hdf5_writer(work, "r+") as file:
        with warnings.catch_warnings():  # a file annotated by an earlier release caches its ndx-neurpir version:
            warnings.filterwarnings("ignore", "Ignoring the following cached namespace")  # the loaded one reads it
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
            drop_older_versions(file, NAMESPACE, io.manager.namespace_catalog.get_namespace(NAMESPACE).version)
        finally:
            io.close()


def replaceable_objects(file: h5py.File, module: str, kinds: dict[str, str], what: str, source: Path) -> list[str]:
    """Paths of the objects ``processing/<module>/<name>`` that exist, for each ``name`` of ``kinds`` (a new table and
    its companions, name -> the neurodata type each must have). An object that an object left in place links to
    (another table's model or probe), or one of another type, is a NeurPIRError saying so: it is never replaced."""
    found = {f"processing/{module}/{child}": kind for child, kind in kinds.items()
             if f"processing/{module}/{child}" in file}
    _refuse_linked(file, module, list(found), source)
    for path, expected in found.items():
        kind = decode_text(file[path].attrs.get("neurodata_type"))
        if kind != expected:
            raise NeurPIRError(f"{path} already holds a {kind or 'non-NWB object'}, not {what}; choose another name",
                               source=source)
    return list(found)


def _refuse_linked(file: h5py.File, module: str, paths: list[str], source: Path) -> None:
    """A NeurPIRError when an object of ``processing/<module>`` other than ``paths`` links to one of ``paths``."""
    for owner, role, target in outside_links(file, module, paths)[:1]:
        kind = decode_text(file[target].attrs.get("neurodata_type")) or "object"
        raise NeurPIRError(f"{target} is the {kind} that {owner} links to (as its {role}); choose another name",
                           source=source)


def outside_links(file: h5py.File, module: str, paths: list[str]) -> list[tuple[str, str, str]]:
    """``(object, link name, target)`` of each soft link from an object of ``processing/<module>`` other than
    ``paths`` to one of ``paths``."""
    links = [(*link.rsplit("/", 1), target) for link, target in _soft_links(file[f"processing/{module}"])] \
        if paths else []
    return [(owner, role, target) for owner, role, target in links if target in paths and owner not in paths]


def _soft_links(group: h5py.Group) -> Iterator[tuple[str, str]]:
    """``(path of the link, path it points to)`` of every soft link below ``group`` (paths without a leading /)."""
    for key in group:
        link = group.get(key, getlink=True)
        if isinstance(link, h5py.SoftLink):
            yield f"{group.name}/{key}".strip("/"), link.path.strip("/")
        elif isinstance(link, h5py.HardLink) and isinstance(group[key], h5py.Group):
            yield from _soft_links(group[key])


def _read_nwb(io: Any, source: Path) -> Any:
    """``io.read()``; warnings about the file's own content are not this write's business and stay quiet."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return io.read()
    except Exception as error:  # pynwb raises many types on files it cannot map; the user needs one line
        raise NeurPIRError(f"pynwb cannot read this NWB file ({type(error).__name__}: {_gist(error)}); the file was "
                           "left unchanged", source=source) from error


def _gist(error: Exception, limit: int = 200) -> str:
    """``error`` on one short line: a builder in its arguments (hdmf's ConstructError) by its path, not its dump."""
    parts = [str(arg.path).removeprefix("root/") if hasattr(arg, "path") else str(arg) for arg in error.args]
    text = " ".join(": ".join(parts).split()) or type(error).__name__
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def _container_at(io: Any, nwbfile: Any, table_path: str) -> Any:
    """The pynwb container read from the HDF5 path ``table_path``."""
    for container in nwbfile.objects.values():
        builder = io.manager.get_builder(container)
        if builder is not None and builder.path.removeprefix("root/") == table_path:
            return container
    raise RuntimeError(f"pynwb read no container at {table_path}")

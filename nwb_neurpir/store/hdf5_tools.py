"""HDF5-level helpers for changing NWB files safely: guard pre-existing attributes, repack, cache one namespace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nwb_neurpir.atomic_files import hdf5_writer

__all__ = ["AttributeSnapshot", "cache_namespace", "drop_older_versions", "repack"]

_SPEC_LOCATION = ".specloc"
_STAGING_ROOT = "__neurpir_repack__"


@dataclass(frozen=True)
class _Attribute:
    value: Any
    dtype: np.dtype


class AttributeSnapshot:
    """The attributes of every object in a file, to put back what a writer changed on objects it did not add.

    pynwb's append mode rewrites some attributes of objects it read (for example the root ``nwb_version``, or the
    ``neurodata_type`` of an old file's electrodes table). Restoring them keeps an annotated file exactly as it was
    apart from the objects added to it.
    """

    def __init__(self, file: h5py.File) -> None:
        self._objects: dict[str, dict[str, _Attribute]] = {"/": _attributes(file)}
        file.visititems(lambda name, node: self._objects.__setitem__(name, _attributes(node)))

    def restore(self, file: h5py.File, may_add: dict[str, set[str]]) -> list[str]:
        """Put back every attribute of the snapshot's objects; ``may_add`` maps object name -> attribute names that
        may stay added. Returns the ``object@attribute`` names that were put back."""
        restored = []
        for name, before in self._objects.items():
            if name not in file:
                raise RuntimeError(f"{name} disappeared while writing {file.filename}")
            node = file[name]
            after = _attributes(node)
            for key, attribute in before.items():
                if key not in after or not _same(file, attribute, after[key]):
                    node.attrs.create(key, attribute.value, dtype=attribute.dtype)
                    restored.append(f"{name}@{key}")
            for key in set(after) - set(before) - may_add.get(name, set()):
                del node.attrs[key]
                restored.append(f"{name}@{key}")
        return restored


def cache_namespace(file: h5py.File, catalog: Any, namespace: str) -> None:
    """Cache one namespace's spec in ``/specifications/<namespace>/<version>`` as ``HDF5IO.write`` does for all, with
    the loaded version of each namespace it depends on that the file caches in no version: a file written without its
    specs is then still self-describing (readers that load a file's specs need ``core`` beside an extension's).
    Versions the file already caches are kept."""
    from hdmf.backends.hdf5 import H5SpecWriter
    from hdmf.backends.utils import NamespaceToBuilderHelper

    specifications = _specifications_group(file)
    missing = [name for name in _dependencies(catalog, namespace) if name not in specifications]
    for name in [namespace, *missing]:
        group_name = f"{name}/{catalog.get_namespace(name).version}"
        if group_name not in specifications:
            builder = NamespaceToBuilderHelper.convert_namespace(catalog, name)
            builder.export("namespace", writer=H5SpecWriter(specifications.create_group(group_name)))


def _specifications_group(file: h5py.File) -> h5py.Group:
    """The file's group of cached specs (its ``.specloc``), made at ``/specifications`` when it has none."""
    reference = file.attrs.get(_SPEC_LOCATION)
    if reference:
        return file[reference]
    specifications = file.require_group("specifications")
    file.attrs[_SPEC_LOCATION] = specifications.ref
    return specifications


def _dependencies(catalog: Any, namespace: str) -> list[str]:
    """The namespaces ``namespace`` includes, directly or through another (``ndx-neurpir``: core, hdmf-common)."""
    found: list[str] = []
    pending = [namespace]
    while pending:
        for spec in catalog.get_namespace(pending.pop(0))["schema"]:
            name = spec.get("namespace")
            if name and name not in found:
                found.append(name)
                pending.append(name)
    return found


def drop_older_versions(file: h5py.File, namespace: str, version: str) -> None:
    """Remove the versions of ``namespace`` older than ``version`` from the file's cached specs (a version of ours
    reads the files of the earlier ones, and two cached versions make every reader warn that it ignores one)."""
    reference = file.attrs.get(_SPEC_LOCATION)
    cached = file[reference].get(namespace) if reference else None
    for name in list(cached or []):
        if _version_key(name) < _version_key(version):
            del cached[name]


def _version_key(version: str) -> tuple[int, ...]:
    """``"0.2.0"`` as ``(0, 2, 0)``; a part that is not a number counts as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in str(version).split("."))


def repack(source: Path, destination: Path) -> None:
    """Copy every object of ``source`` into a fresh ``destination`` without the space deleted objects left behind.

    One ``H5Ocopy`` of the root with reference expansion keeps object references pointing at the copies; chunking,
    compression, attributes and links are kept. The copied children and root attributes are then moved up to the
    root. HDF5 also links each object it reached through a reference as ``~obj_pointed_by_<address>`` next to the
    copy; those are extra hard links to objects of the copied tree, and are removed.
    """
    with h5py.File(source, "r") as src, hdf5_writer(destination, "w") as dst:
        src.copy(src["/"], dst, name=_STAGING_ROOT, expand_refs=True)
        for name in [name for name in dst if name != _STAGING_ROOT]:
            if h5py.h5o.get_info(dst[name].id).rc < 2:
                raise RuntimeError(f"repacking {source}: {name} is a second copy, not a second link")
            del dst[name]
        staged = dst[_STAGING_ROOT]
        for name in list(staged):
            dst.move(f"{_STAGING_ROOT}/{name}", name)
        for key in staged.attrs:
            dst.attrs.create(key, staged.attrs[key], dtype=staged.attrs.get_id(key).dtype)
        del dst[_STAGING_ROOT]


def _attributes(node: h5py.HLObject) -> dict[str, _Attribute]:
    return {key: _Attribute(node.attrs[key], node.attrs.get_id(key).dtype) for key in node.attrs}


def _same(file: h5py.File, before: _Attribute, after: _Attribute) -> bool:
    if before.dtype != after.dtype:
        return False
    left, right = np.asarray(before.value), np.asarray(after.value)
    if left.shape != right.shape:
        return False
    if left.dtype.kind == "O":
        return all(_same_item(file, a, b) for a, b in zip(left.flat, right.flat))
    return np.array_equal(left, right, equal_nan=left.dtype.kind in "fc")


def _same_item(file: h5py.File, left: object, right: object) -> bool:
    if isinstance(left, h5py.Reference) and isinstance(right, h5py.Reference):
        return bool(left) == bool(right) and (not left or file[left] == file[right])
    return type(left) is type(right) and left == right

"""Opening a file as NWB: the one place that decides whether an HDF5 file is an NWB file, for readers and writers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import decode_text

__all__ = ["check_nwb_root", "open_nwb"]


@contextmanager
def open_nwb(path: str | Path, *, label: str | None = None) -> Iterator[h5py.File]:
    """``path`` open read-only with h5py and checked to be NWB, closed on exit; otherwise a one-line
    ``NeurPIRError`` naming ``label`` (default: the path) says why it is not one."""
    path = Path(path)
    label = str(path) if label is None else label
    if not path.is_file():
        raise NeurPIRError("no such file" if not path.exists() else "not a file", source=label)
    if not _is_hdf5(path, label):
        raise NeurPIRError("not an HDF5 file, so not an NWB file", source=label)
    try:
        file = h5py.File(path, "r")
    except OSError as exc:
        raise NeurPIRError(_cannot_open(exc), source=label) from None
    with file:
        check_nwb_root(file, label)
        yield file


def _cannot_open(error: OSError) -> str:
    """Why h5py could not open an HDF5 file: another program holds it open for writing (HDF5's file lock), or the
    file is damaged."""
    said = " ".join(str(error).split())
    if "unable to lock file" in said.lower():
        return ("locked by another program that has it open for writing (HDF5 locks a file while it is written, "
                "see HDF5_USE_FILE_LOCKING); try again when that program has closed it")
    return f"the HDF5 file is damaged or truncated and cannot be opened ({said[:200]})"


def _is_hdf5(path: Path, label: str) -> bool:
    """Whether ``path`` starts like an HDF5 file; a file this user may not read is a ``NeurPIRError`` naming it."""
    try:
        return h5py.is_hdf5(path)
    except PermissionError:
        raise NeurPIRError("cannot read: permission denied", source=label) from None


def check_nwb_root(file: h5py.File, label: str) -> None:
    """Raise ``NeurPIRError`` unless the file's root is an ``NWBFile`` (its type, or an ``nwb_version`` attribute)."""
    if decode_text(file.attrs.get("neurodata_type")) != "NWBFile" and "nwb_version" not in file.attrs:
        raise NeurPIRError("an HDF5 file but not an NWB file (its root is not an NWBFile)", source=label)

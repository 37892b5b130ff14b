"""Atomic, durable file writes for every stage (model folders, the download cache, simulated and annotated NWB files).

A file is written under a temporary name in its target's folder, flushed to disk (``fsync``), moved over the target with
``os.replace`` and the folder entry flushed too: a reader -- or the file system after a crash -- sees the old file or
the new one, never a half-written one. HDF5 files are written through ``hdf5_writer``, so that a full disk is an
``OSError`` like any other. A symbolic link is followed only when ``followed_links`` allows it. This module imports
only ``file_metadata``, ``followed_links`` and ``errors`` of the package, so every stage may use it.
"""

from __future__ import annotations

import errno
import glob
import io
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nwb_neurpir.file_metadata import take_on
from nwb_neurpir.followed_links import resolved_for_writing

if TYPE_CHECKING:
    import h5py

__all__ = ["abandoned_temporaries", "atomic_path", "atomic_write_bytes", "fsync_dir", "hdf5_writer",
           "replace_durably"]

_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
"""Errors of writing to the disk that a bare ``write`` raises without a file name."""


def fsync_dir(folder: Path) -> None:
    """Flush ``folder``'s entries (a new or renamed file in it) to disk; skipped where the OS cannot open folders."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems refuse fsync on a folder; the rename itself is still atomic
        pass
    finally:
        os.close(handle)


def replace_durably(temp: Path, target: Path) -> None:
    """Flush ``temp`` to disk, move it over ``target`` in one step (``os.replace``) and flush the folder entry."""
    handle = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
    os.replace(temp, target)
    fsync_dir(target.parent)


@contextmanager
def atomic_path(target: Path, *, prefix: str | None = None, mode: int | None = None) -> Iterator[Path]:
    """Yield an unused temporary path in ``target``'s folder for the caller (or a library such as h5py) to create
    and write; when the block ends without an exception it replaces ``target`` durably, otherwise it is deleted and
    ``target`` is left as it was. A symbolic link ``target`` is written through: the file it points at is replaced
    (only a link of the writer's, of its folder's owner or of root: ``followed_links.resolved_for_writing``).

    The temporary name is ``prefix`` (default ``.<target name>.tmp-``) followed by the process id and a random part,
    so a cleaner can find the ones a killed writer left. The new file keeps what the file it replaces has (owner and
    group as far as the user may give them, extended attributes, permissions; see ``file_metadata.take_on``) or gets
    the usual permissions (umask); with ``mode`` (e.g. ``0o600``), it is created empty with those permissions before
    it is yielded, for the caller to open for writing (``"wb"`` keeps them), and keeps them. An ``OSError`` about the
    temporary file, or a disk error without a file name (``ENOSPC`` from a write, say), is raised again with
    ``target`` as its file name.
    """
    target = resolved_for_writing(target)
    stem = prefix if prefix is not None else f".{target.name}.tmp-"
    temp = target.with_name(f"{stem}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        if mode is not None:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        yield temp
        if mode is None:
            take_on(temp, target)
        replace_durably(temp, target)
    except OSError as error:
        if error.filename != str(temp) and not (error.filename is None and error.errno in _DISK_ERRORS):
            raise
        raise OSError(error.errno, error.strerror, str(target)) from error
    finally:
        temp.unlink(missing_ok=True)


def abandoned_temporaries(target: Path) -> list[Path]:
    """The temporary files ``atomic_path`` (default prefix) made for ``target`` whose writing process is no longer
    running on this machine: what a killed writer left."""
    stem = f".{target.name}.tmp-"
    found = []
    for path in target.parent.glob(f"{glob.escape(stem)}*"):
        pid = re.fullmatch(r"(\d+)-[0-9a-f]+", path.name[len(stem):])
        if pid and not _running(int(pid.group(1))):
            found.append(path)
    return sorted(found)


def _running(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _DiskGuard:
    """The file object h5py writes through (its ``fileobj`` driver): a disk error keeps the first failure and drops
    every later write, so that HDF5 never sees a failed write.

    A failed write leaves HDF5's caches in a state it cannot close: h5py raises ``RuntimeError`` or ``ValueError``
    (not ``OSError``), objects stay open and HDF5 crashes (SIGSEGV) closing them at exit."""

    def __init__(self, raw: io.FileIO) -> None:
        self._raw = raw
        self.error: OSError | None = None

    def __repr__(self) -> str:  # h5py gives it to HDF5 as the file's name
        return str(self._raw.name)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)

    def readinto(self, buffer: memoryview) -> int:
        return self._raw.readinto(buffer)

    def write(self, data: memoryview) -> int:
        pending = memoryview(data).cast("B")
        size = len(pending)
        self._guarded(self._write_all, pending)
        return size

    def truncate(self, size: int) -> int:
        self._guarded(self._raw.truncate, size)
        return size

    def flush(self) -> None:
        """Nothing to do: the file is unbuffered."""

    def _write_all(self, pending: memoryview) -> None:
        while pending:
            pending = pending[self._raw.write(pending):]

    def _guarded(self, action: Callable[[Any], object], argument: Any) -> None:  # noqa: ANN401 - action's argument
        if self.error is not None:
            return
        try:
            action(argument)
        except OSError as error:
            if error.errno not in _DISK_ERRORS:
                raise
            self.error = error


@contextmanager
def hdf5_writer(path: Path, mode: Literal["w", "r+"]) -> Iterator[h5py.File]:
    """``h5py.File(path, mode)``, closed on exit, that survives a disk refusing a write (full, over quota): the file
    is still closed cleanly, then the error is raised as an ``OSError`` naming ``path`` (``atomic_path`` names its
    target instead). ``mode`` ``"w"`` creates ``path`` or empties it, ``"r+"`` changes an existing file."""
    import h5py

    with open(path, "w+b" if mode == "w" else "r+b", buffering=0) as raw:
        guard = _DiskGuard(raw)
        try:
            with h5py.File(guard, mode) as file:
                yield file
        except Exception:
            _raise_disk_error(guard, path)
            raise
    _raise_disk_error(guard, path)


def _raise_disk_error(guard: _DiskGuard, path: Path) -> None:
    """Raise the disk error ``guard`` kept, if any, as an ``OSError`` naming ``path``."""
    if guard.error is not None:
        raise OSError(guard.error.errno, guard.error.strerror, str(path)) from guard.error


def atomic_write_bytes(target: Path, data: bytes, *, prefix: str | None = None, mode: int | None = None) -> None:
    """Write ``data`` to ``target`` atomically and durably (see ``atomic_path``, also for ``mode``)."""
    with atomic_path(target, prefix=prefix, mode=mode) as temp, open(temp, "xb" if mode is None else "wb") as out:
        out.write(data)

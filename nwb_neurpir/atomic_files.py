"""Atomic, durable file writes for every stage (model folders, the download cache, simulated and annotated NWB files).

A file is written under a temporary name in its target's folder, flushed to disk (``fsync``), moved over the target with
``os.replace`` and the folder entry flushed too: a reader -- or the file system after a crash -- sees the old file or
the new one, never a half-written one. This module imports nothing of the package, so every stage may use it.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "fsync_dir", "replace_durably"]

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
    ``target`` is left as it was.

    The temporary name is ``prefix`` (default ``.<target name>.tmp-``) followed by the process id and a random part,
    so a cleaner can find the ones a killed writer left. The file is created with the usual permissions (umask);
    with ``mode`` (e.g. ``0o600``), it is created empty with those permissions before it is yielded, for the caller
    to open for writing (``"wb"`` keeps them). An ``OSError`` about the temporary file, or a disk error without a file
    name (``ENOSPC`` from a write, say), is raised again with ``target`` as its file name.
    """
    stem = prefix if prefix is not None else f".{target.name}.tmp-"
    temp = target.with_name(f"{stem}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        if mode is not None:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        yield temp
        replace_durably(temp, target)
    except OSError as error:
        if error.filename != str(temp) and not (error.filename is None and error.errno in _DISK_ERRORS):
            raise
        raise OSError(error.errno, error.strerror, str(target)) from error
    finally:
        temp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes, *, prefix: str | None = None, mode: int | None = None) -> None:
    """Write ``data`` to ``target`` atomically and durably (see ``atomic_path``, also for ``mode``)."""
    with atomic_path(target, prefix=prefix, mode=mode) as temp, open(temp, "xb" if mode is None else "wb") as out:
        out.write(data)

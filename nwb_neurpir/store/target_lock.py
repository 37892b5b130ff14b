"""An exclusive lock on one target file that leaves nothing behind: the lock file is deleted when it is released.

The lock is an ``flock`` on ``.<name>.neurpir-lock`` next to the target. Deleting a lock file is safe only with a
check: a waiter may win the ``flock`` on the inode that the previous holder just unlinked. So after every ``flock`` the
holder checks that the path still names the inode it locked, and starts again when it does not. A process killed while
holding the lock leaves its file; the kernel drops the ``flock``, and the next writer of the target takes the lock,
then deletes the file on release.

The lock file gets the usual permissions (``0666`` less the umask). Another user's lock file is opened read-only
(``flock`` needs no write access), so group members writing one folder wait for each other; where the folder is sticky
and the file not theirs, they leave it for its owner to delete. A lock file is never opened through a symbolic link
(``O_NOFOLLOW``): a link planted at its path would make the lock create or open the file it points at, so it is a
``NeurPIRError`` naming it.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from nwb_neurpir.errors import NeurPIRError

__all__ = ["LockTimeout", "held_lock"]

_POLL_SECONDS = 0.05

log = logging.getLogger(__name__)


class LockTimeout(Exception):
    """The lock was still held by another process when the timeout ran out."""


@contextmanager
def held_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if needed) and delete it on exit.

    Raises ``LockTimeout`` after ``timeout`` seconds of waiting, ``OSError`` when the file cannot be created or opened,
    ``NeurPIRError`` when ``path`` is a symbolic link.
    """
    handle = _acquire(path, time.monotonic() + timeout)
    try:
        yield
    finally:
        try:
            with suppress(PermissionError):  # another user's lock file in a sticky folder
                path.unlink(missing_ok=True)
        finally:
            os.close(handle)  # closing drops the flock, after the path is gone


def _acquire(path: Path, deadline: float) -> int:
    while True:
        handle = _open(path)
        try:
            _flock_until(handle, path, deadline)
            if _names_inode(path, handle):
                return handle
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)  # the previous holder deleted this inode: lock the file that is there now


def _open(path: Path) -> int:
    """A descriptor of the lock file ``path``, created if needed: writable where allowed (NFS locks need that),
    else read-only."""
    try:
        return _open_unlinked(path, os.O_RDWR | os.O_CREAT)
    except PermissionError as cannot_write:
        try:
            return _open_unlinked(path, os.O_RDONLY)
        except FileNotFoundError:
            raise cannot_write from None  # a folder the writer may not create it in


def _open_unlinked(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` that never follows a symbolic link at ``path``: such a link is a ``NeurPIRError``."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o666)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
    raise NeurPIRError("is a symbolic link where a lock file belongs, and a lock file is never opened through a link "
                       "(it could create or lock the file the link points at); remove the link and run again",
                       source=path)


def _flock_until(handle: int, path: Path, deadline: float) -> None:
    waiting = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout from None
            if not waiting:
                log.debug("waiting for the lock %s", path)
                waiting = True
            time.sleep(_POLL_SECONDS)


def _names_inode(path: Path, handle: int) -> bool:
    try:
        on_disk = path.lstat()
    except FileNotFoundError:
        return False
    held = os.fstat(handle)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

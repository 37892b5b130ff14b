"""Replace a file atomically under a lock: temporary files in the target's folder, verify, fsync, ``os.replace``.

Every writer of a target holds an exclusive lock on ``.<name>.neurpir-lock`` next to it (``target_lock``), so two
writers of one file never interleave (the second waits up to a timeout, then fails with a clear message); the lock file
is deleted on release, so a finished or failed run leaves only the user's files. While holding the lock, a writer
deletes temporary files and lock files of killed writers: no live writer can own them, since each writer holds the
lock for as long as its temporary files exist.
"""

from __future__ import annotations

import glob
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from nwb_neurpir.atomic_files import replace_durably
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store.target_lock import LockTimeout, held_lock

__all__ = ["Staging", "is_writable", "lock_path", "staged_replace", "temp_files"]

_TEMP_MARK = ".neurpir-tmp-"
_LOCK_SUFFIX = ".neurpir-lock"
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_NEW_FILE_MODE = 0o644
_COPY_CHUNK = 16 * 1024 * 1024


def lock_path(target: Path) -> Path:
    """The lock file that guards ``target``."""
    return target.with_name(f".{target.name}{_LOCK_SUFFIX}")


def temp_files(target: Path) -> list[Path]:
    """Temporary files of ``target``'s writers currently in its folder."""
    return sorted(target.parent.glob(f".{glob.escape(target.name)}{_TEMP_MARK}*"))


def is_writable(path: Path) -> bool:
    """True when ``path`` (file or folder) may be written: the OS allows it and its mode has a write bit.

    The mode check keeps a file marked read-only (``chmod a-w``) untouched even for root, who bypasses permissions.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & _WRITE_BITS) and os.access(path, os.W_OK)


class Staging:
    """Temporary files next to one target while its lock is held; ``commit`` moves one of them into place."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._temps: list[Path] = []

    def new_temp(self) -> Path:
        """A fresh, empty temporary file in the target's folder (deleted on exit unless committed)."""
        handle, name = tempfile.mkstemp(prefix=f".{self.target.name}{_TEMP_MARK}", suffix=".nwb",
                                        dir=self.target.parent)
        os.close(handle)
        path = Path(name)
        self._temps.append(path)
        return path

    def copy_of(self, source: Path, progress: bool = True) -> Path:
        """A new temporary file holding the bytes of ``source`` (a progress bar on stderr if it takes over 1 s)."""
        from tqdm import tqdm

        temp = self.new_temp()
        with open(source, "rb") as reader, open(temp, "wb") as writer, tqdm(
                total=source.stat().st_size, unit="B", unit_scale=True, desc=f"copying {source.name}",
                file=sys.stderr, delay=1.0, disable=not progress, leave=False) as bar:
            while chunk := reader.read(_COPY_CHUNK):
                writer.write(chunk)
                bar.update(len(chunk))
        return temp

    def commit(self, temp: Path) -> None:
        """Flush ``temp`` to disk, give it the target's permissions, and atomically put it in place of the target."""
        mode = self.target.stat().st_mode if self.target.exists() else _NEW_FILE_MODE
        os.chmod(temp, stat.S_IMODE(mode))
        replace_durably(temp, self.target)
        self._temps.remove(temp)

    def discard(self) -> None:
        """Delete the temporary files that were not committed."""
        for temp in self._temps:
            with suppress(FileNotFoundError):
                temp.unlink()
        self._temps.clear()


@contextmanager
def staged_replace(target: Path, timeout: float) -> Iterator[Staging]:
    """Lock ``target``, clear stale temporary files, and yield a ``Staging``; leftovers are deleted on exit."""
    if not target.parent.is_dir():
        raise NeurPIRError(f"folder {target.parent} does not exist", source=target)
    if not is_writable(target.parent):
        raise NeurPIRError(f"folder {target.parent} is read-only; write a sidecar file or choose an output folder",
                           source=target)
    with ExitStack() as stack:
        try:
            stack.enter_context(held_lock(lock_path(target), timeout))
        except LockTimeout:
            raise NeurPIRError(f"another process is writing this file (still locked after {timeout:g} s by "
                               f"{lock_path(target).name}); try again when it has finished", source=target) from None
        except OSError as error:
            raise NeurPIRError(f"cannot create the lock file next to it ({error.strerror}); write a sidecar file or "
                               "choose an output folder", source=target) from error
        staging = Staging(target)
        try:
            for stale in temp_files(target):
                stale.unlink(missing_ok=True)
            yield staging
        finally:
            staging.discard()

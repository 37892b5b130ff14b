"""Replace a file atomically under a lock: temporary files in the target's folder, verify, fsync, ``os.replace``.

Every writer of a target holds an exclusive lock on ``.<name>.neurpir-lock`` next to it (``target_lock``), so two
writers of one file never interleave (the second waits up to a timeout, then fails with a clear message); the lock file
is deleted on release, so a finished or failed run leaves only the user's files. While holding the lock, a writer
deletes temporary files and lock files of killed writers: no live writer can own them, since each writer holds the
lock for as long as its temporary files exist.

A replaced file keeps its owner, group, extended attributes (its ACL) and permissions; a copy, and a sidecar of a local
file, get the source's permissions less the umask, a new file ``0666`` less the umask (``file_metadata``). A symbolic
link is written through: the file it points at is replaced (a link of the writer's, of its folder's owner or of root
only: ``followed_links``). A file of another user, or of a group the writer is not in, is not replaced: the new file
would be the writer's, or in another group, and the owner or the group's members could lose access to it.
"""

from __future__ import annotations

import glob
import grp
import os
import stat
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import NoReturn

from nwb_neurpir.atomic_files import abandoned_temporaries, replace_durably
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.file_metadata import may_give_group, take_on
from nwb_neurpir.followed_links import owner_name, resolved_for_writing
from nwb_neurpir.store.target_lock import LockTimeout, held_lock

__all__ = ["Staging", "check_replaceable", "is_writable", "lock_path", "new_folders", "staged_replace", "temp_files"]

_TEMP_MARK = ".neurpir-tmp-"
_LOCK_SUFFIX = ".neurpir-lock"
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
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


def _group_name(gid: int) -> str:
    """``group <name>`` of ``gid`` (``group 1234`` when the system has no name for it)."""
    try:
        return f"group {grp.getgrgid(gid).gr_name}"
    except KeyError:
        return f"group {gid}"


class Staging:
    """Temporary files next to one target while its lock is held; ``commit`` moves one of them into place."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._temps: list[Path] = []
        self._mode_of: Path | None = None

    def new_temp(self) -> Path:
        """A fresh, empty temporary file in the target's folder (deleted on exit unless committed).

        Its name is listed for deletion before the file is made: a stop (SIGTERM, Ctrl-C) raised between making it
        and listing it would otherwise leave it behind."""
        while True:
            path = self.target.with_name(f".{self.target.name}{_TEMP_MARK}{secrets.token_hex(8)}.nwb")
            self._temps.append(path)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                return path
            except FileExistsError:  # another writer's (as good as never with 64 random bits): not ours to delete
                self._temps.remove(path)

    def permissions_of(self, source: Path) -> None:
        """Give a new target committed from this staging ``source``'s permissions less the umask, as ``cp`` gives
        them: what holds ``source``'s data (a copy, a sidecar) is readable by those who may read ``source``."""
        self._mode_of = source

    def copy_of(self, source: Path, progress: bool = True) -> Path:
        """A new temporary file holding the bytes of ``source`` (a progress bar on stderr if it takes over 1 s), with
        ``source``'s permissions for a new target (``permissions_of``)."""
        from tqdm import tqdm

        self.permissions_of(source)
        temp = self.new_temp()
        with open(source, "rb") as reader, open(temp, "wb") as writer, tqdm(
                total=source.stat().st_size, unit="B", unit_scale=True, desc=f"copying {source.name}",
                file=sys.stderr, delay=1.0, disable=not progress, leave=False) as bar:
            while chunk := reader.read(_COPY_CHUNK):
                writer.write(chunk)
                bar.update(len(chunk))
        return temp

    def commit(self, temp: Path) -> None:
        """Give ``temp`` the target's owner, group, extended attributes and permissions (a new target: those of a
        new file, or of ``permissions_of``'s source, see ``file_metadata.take_on``), flush it to disk and atomically
        put it in place of the target."""
        take_on(temp, self.target, self._mode_of)
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
    """Lock ``target`` (the file it links to, for a symbolic link ``followed_links`` lets it follow), clear stale
    temporary files, and yield a ``Staging``; leftovers are deleted on exit.

    A file of another user or of a group the writer is not in is refused (replacing it would change its owner or
    group); an ``OSError`` while writing (a full disk, say) becomes a ``NeurPIRError`` naming ``target``, which is
    left as it was.
    """
    target = resolved_for_writing(target)
    check_replaceable(target)
    with _held_lock_of(target, timeout):
        staging = Staging(target)
        try:
            _remove_stale_temps(target)
            yield staging
        except OSError as error:
            raise NeurPIRError(f"writing failed ({error.strerror or error}); nothing was changed",
                               source=target) from error
        finally:
            staging.discard()


@contextmanager
def new_folders(folder: Path, source: str, what: str) -> Iterator[None]:
    """``folder`` made with its missing parents, to write ``what`` of ``source`` into (``its sidecar``; a folder that
    cannot be made is a ``NeurPIRError`` naming ``source``); when the block fails, those made here are removed again
    if they are still empty (a failed write into ``--out`` leaves no empty ``sub-*/`` folders)."""
    made = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NeurPIRError(f"cannot make the folder {folder} to write {what} into ({error.strerror or error}); "
                           "choose an output folder you can write with --out DIR", source=source) from None
    try:
        yield
    except BaseException:
        for path in made:
            with suppress(OSError):
                path.rmdir()
        raise


def check_replaceable(target: Path) -> None:
    """A ``NeurPIRError`` for a target ``staged_replace`` may not write: a missing or read-only folder, a file of
    another user or of a group the writer is not in (root keeps the owner and group, so root may)."""
    if not target.parent.is_dir():
        raise NeurPIRError(f"folder {target.parent} does not exist", source=target)
    if not is_writable(target.parent):
        raise NeurPIRError(f"folder {target.parent} is read-only; write a sidecar file or choose an output folder",
                           source=target)
    try:
        found = target.stat()
    except FileNotFoundError:
        return
    if found.st_uid != os.geteuid() and os.geteuid() != 0:
        name = owner_name(found.st_uid)
        _refuse(target, f"belongs to {name}; replacing it would make it yours and could lock {name} out of it", name)
    if not may_give_group(found.st_gid):
        group = _group_name(found.st_gid)
        _refuse(target, f"is in {group}, which you are not in; replacing it would move it to another group and "
                        f"could lock {group}'s members out of it", f"a member of {group}")


def _refuse(target: Path, why: str, who: str) -> NoReturn:
    """The ``NeurPIRError`` for a file only ``who`` should replace: ``why``, and what to do instead."""
    raise NeurPIRError(f"{why}; write a copy (--out DIR) or a sidecar file (--sidecar), or ask {who} to write it",
                       source=target)


@contextmanager
def _held_lock_of(target: Path, timeout: float) -> Iterator[None]:
    """``target``'s lock, held; a timeout or a lock file that cannot be opened is a ``NeurPIRError``."""
    lock = lock_path(target)
    with ExitStack() as stack:
        try:
            stack.enter_context(held_lock(lock, timeout))
        except LockTimeout:
            raise NeurPIRError(f"another process is writing this file (still locked after {timeout:g} s by "
                               f"{lock.name}); try again when it has finished", source=target) from None
        except OSError as error:
            raise NeurPIRError(f"cannot open the lock file {lock.name}{_owned_by(lock)} ({error.strerror}); write a "
                               "sidecar file or choose an output folder", source=target) from error
        yield


def _owned_by(path: Path) -> str:
    """`` of <user>`` for an existing ``path``, else nothing."""
    try:
        return f" of {owner_name(path.stat().st_uid)}"
    except OSError:
        return ""


def _remove_stale_temps(target: Path) -> None:
    """Delete the temporary files killed writers of ``target`` left (in a sticky folder, only one's own): those of
    the lock's holders, and those of ``atomic_path`` whose process is gone (``simulate`` wrote through it before)."""
    for stale in [*temp_files(target), *abandoned_temporaries(target)]:
        with suppress(PermissionError):
            stale.unlink(missing_ok=True)

"""What a file written atomically (a temporary file renamed over its target) keeps of the file it replaces, as
``cp -a`` does, and what a new file or a copy gets, as ``cp`` does.

A replaced file keeps its owner (root only may give it), its group (when the user may give it: root, or a member of
it), its extended attributes -- among them its POSIX ACL (``system.posix_acl_access``) and ``user.*`` ones; where the
file system has none, there is nothing to keep -- and its permissions. A copy of a file gets the source's permissions
less the umask (as ``cp`` gives them, but writable by its owner); any other new file ``0666`` less the umask. A file
with several names (hard links) is replaced under one name only: a warning says so. This module imports nothing of
the package, so every stage may use it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["may_give_group", "new_file_mode", "take_on"]

_UMASK_LINE = re.compile(r"^Umask:\s*([0-7]+)$", re.MULTILINE)
_UNSUPPORTED = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP})
_KERNEL_LABELS = ("security.", "trusted.")
"""Extended attributes the kernel or a security module manages: kept when allowed, as ``cp -a`` does."""


def new_file_mode(copy_of: Path | None = None) -> int:
    """The permissions a new file gets: those of the file it copies (``copy_of``; without its set-id bits, and
    writable by its owner, so that the copy of read-only data can be annotated further) or ``0666``, less the
    umask."""
    requested = 0o666 if copy_of is None else stat.S_IMODE(copy_of.stat().st_mode) & 0o777 | stat.S_IWUSR
    return requested & ~_umask()


def may_give_group(gid: int) -> bool:
    """Whether this user may give a file the group ``gid``: root, or a member of it."""
    return os.geteuid() == 0 or gid == os.getegid() or gid in os.getgroups()


def take_on(temp: Path, target: Path, copy_of: Path | None = None) -> None:
    """Give ``temp``, about to be renamed over ``target``, what ``target`` has: owner and group (those the user may
    give), extended attributes and permissions, with a warning when ``target`` has other names (hard links) that
    keep the old content. A new ``target`` gets ``new_file_mode(copy_of)``."""
    try:
        original = target.stat()
    except FileNotFoundError:
        os.chmod(temp, new_file_mode(copy_of))
        return
    if original.st_nlink > 1:
        warnings.warn(f"{target}: the file has {original.st_nlink} names (hard links); this one gets the new "
                      "content, its other names keep the old content", stacklevel=3)
    _take_owner(temp, original)
    _copy_xattrs(target, temp)
    os.chmod(temp, stat.S_IMODE(original.st_mode))  # after chown, which may clear set-id bits


def _take_owner(temp: Path, original: os.stat_result) -> None:
    """Give ``temp`` the owner (root only) and group (when ``may_give_group``) of ``original``."""
    uid = original.st_uid if os.geteuid() == 0 else -1
    gid = original.st_gid if may_give_group(original.st_gid) else -1
    current = temp.stat()
    if (uid, gid) != (-1, -1) and (current.st_uid, current.st_gid) != (original.st_uid, original.st_gid):
        os.chown(temp, uid, gid)


def _copy_xattrs(source: Path, temp: Path) -> None:
    """Make ``temp``'s extended attributes those of ``source``; a file system or OS without them is left alone."""
    if not hasattr(os, "listxattr"):
        return
    try:
        wanted = {name: os.getxattr(source, name) for name in os.listxattr(source)}
        present = os.listxattr(temp)
    except OSError as error:
        if error.errno in _UNSUPPORTED:
            return
        raise
    for name in present:
        if name not in wanted:
            _tolerant(os.removexattr, temp, name)
    for name, value in wanted.items():
        _tolerant(os.setxattr, temp, name, value)


def _tolerant(change: Callable[..., object], path: Path, name: str, *value: bytes) -> None:
    """``change(path, name, *value)``, passed over where the file system lacks that attribute's kind, or for a
    kernel-managed attribute this user may not set."""
    try:
        change(path, name, *value)
    except OSError as error:
        if error.errno in _UNSUPPORTED or (name.startswith(_KERNEL_LABELS) and error.errno in (errno.EPERM,
                                                                                                errno.EACCES)):
            return
        raise


def _umask() -> int:
    """The process's umask, read from ``/proc`` where Linux shows it; elsewhere set and restored at once."""
    try:
        found = _UMASK_LINE.search(Path("/proc/self/status").read_text())
    except OSError:
        found = None
    if found:
        return int(found.group(1), 8)
    current = os.umask(0o077)
    os.umask(current)
    return current

"""Which symbolic links a write may follow: the rule of Linux's ``fs.protected_symlinks``, applied everywhere.

A user keeps links of their own (``results/latest.csv -> run3.csv``) and writes through them. A link someone else
planted in a folder they may write (a group's shared folder) would make the writer replace a file of the writer's
own that the link points at (``shared/vectors.csv -> ../home/notes.txt``). So a link, at any step of the path and of
the chain of links, is followed for writing only when it is the writer's (effective uid), its folder's owner's, or
root's (who may write any file anyway); any other stops the write with a ``NeurPIRError`` naming the link and its
owner. This module imports only ``errors`` of the package, so every stage may use it.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from nwb_neurpir.errors import NeurPIRError

__all__ = ["owner_name", "resolved_for_writing"]

_MAX_LINKS = 40
"""Links followed in one path before giving up, as the kernel does (``ELOOP``)."""


def owner_name(uid: int) -> str:
    """The user name of ``uid`` (``uid 1234`` when the system has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def resolved_for_writing(target: str | Path) -> Path:
    """``target``'s real path (as ``os.path.realpath``), every symbolic link on the way checked: one that is neither
    the writer's, nor its folder's owner's, nor root's is a ``NeurPIRError`` naming it and its owner."""
    pending = list(reversed((Path.cwd() / Path(target)).parts))
    resolved = Path(pending.pop())
    followed = 0
    while pending:
        part = pending.pop()
        if part == "..":
            resolved = resolved.parent
            continue
        step = resolved / part
        try:
            found = os.lstat(step)
        except OSError:  # missing (a new file or folder) or unreadable: nothing further to follow
            found = None
        if found is None or not stat.S_ISLNK(found.st_mode):
            resolved = step
            continue
        followed += 1
        if followed > _MAX_LINKS:
            raise NeurPIRError(f"its symbolic links form a loop or a chain of over {_MAX_LINKS}; remove them, or write "
                               "elsewhere", source=target)
        _check_followable(step, found.st_uid)
        destination = Path(os.readlink(step))
        if destination.is_absolute():
            resolved = Path(destination.anchor)
        pending.extend(reversed(destination.relative_to(destination.anchor).parts))
    return resolved


def _check_followable(link: Path, uid: int) -> None:
    """Refuse ``link`` (owned by ``uid``) unless the writer, its folder's owner or root owns it."""
    if uid in (os.geteuid(), 0) or uid == os.stat(link.parent).st_uid:
        return
    raise NeurPIRError(f"is a symbolic link owned by {owner_name(uid)}, neither you nor the owner of its folder, so "
                       "it is not followed for writing (it could make you replace a file it points at); remove the "
                       "link, or write elsewhere", source=link)

"""Names of the files and folders the package makes from text found in the data or given by the user (a session id,
a grouping's name): each one path component, never ``.`` or ``..``, and short enough for a file system's 255-byte
limit with the package's temporary and lock files beside it."""

from __future__ import annotations

import hashlib
import re

__all__ = ["NAME_BYTES", "name_bytes", "name_part"]

NAME_BYTES = 215
"""At most this many bytes (UTF-8) in a name made from such text: file systems allow 255, and the temporary and lock
files the package writes beside a file add up to 34 to its name (``.<name>.neurpir-tmp-<16 hex digits>.nwb``)."""
_PATH_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
"""Path separators (``\\`` too: Windows') and control characters."""
_HASH_DIGITS = 8


def name_part(text: str, unsafe: re.Pattern[str] = _PATH_UNSAFE, limit: int = NAME_BYTES) -> str:
    """``text`` as (part of) one file or folder name: each ``unsafe`` character (default: path separators and control
    characters) as ``-``, ``.`` or ``..`` as dashes; longer than ``limit`` bytes (UTF-8), its longest prefix of whole
    characters that fits with ``-`` and 8 hex digits of its sha256, so that texts that differ keep names that differ.

    >>> name_part("../../ESC2"), name_part("MB/VIS – grob"), name_part(".."), name_part("視覚刺激" * 10, limit=40)
    ('..-..-ESC2', 'MB-VIS – grob', '--', '視覚刺激視覚刺激視覚-9bd18102')
    """
    safe = unsafe.sub("-", text)
    safe = "-" * len(safe) if safe in (".", "..") else safe
    if name_bytes(safe) <= limit:
        return safe
    kept, size = "", _HASH_DIGITS + 1
    for char in safe:
        size += name_bytes(char)
        if size > limit:
            break
        kept += char
    return f"{kept}-{hashlib.sha256(safe.encode('utf-8', 'surrogateescape')).hexdigest()[:_HASH_DIGITS]}"


def name_bytes(text: str) -> int:
    """The bytes of ``text`` in a file name (a name read from the file system keeps undecodable bytes as
    surrogates)."""
    return len(text.encode("utf-8", "surrogateescape"))

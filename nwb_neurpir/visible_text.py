"""Text taken from files (a subject id, a label) with its control characters shown as escapes (``\\x1b``, ``\\r``,
``\\t``): printed raw they move the cursor or forge lines in a terminal (``cli.terminal``) and break the rows of a
report's tables (``evaluation.report``)."""

from __future__ import annotations

import re

__all__ = ["visible_text"]

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Every control character (C0, DEL, C1) but the newline."""
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def visible_text(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character but the newline (``one_line``: the newline too) shown as its escape.

    >>> print(visible_text("a\\tb\\x1b[2K\\nc", one_line=True))
    a\\tb\\x1b[2K\\nc
    """
    return (_CONTROL_OR_NEWLINE if one_line else _CONTROL).sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return _NAMED.get(match[0], f"\\x{ord(match[0]):02x}")

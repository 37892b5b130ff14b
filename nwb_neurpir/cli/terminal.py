"""What the commands print, without the control characters of text taken from files.

A subject id, label or table name read from an NWB file (or a DANDI asset path) may hold escape sequences, carriage
returns or other control characters; printed raw, they move the cursor, clear lines or set links and forge what the
user reads (``subject m1\\r\\x1b[2Kerror: all good``). While a command runs, ``terminal_output`` puts stdout and stderr
behind ``TerminalStream``, which shows every control character but the newline as its escape (``\\x1b``, ``\\r``):
tables, messages, warnings, logs and tracebacks all pass there. JSON output (``--json``) holds none (``json`` escapes
them), so it is printed exactly.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["TerminalStream", "terminal_fields", "terminal_output", "terminal_text"]

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Every control character (C0, DEL, C1) but the newline."""
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_CURSOR_UP = re.compile(r"(?:\x1b\[A)+")
"""What a progress bar writes to move up to its line among several bars (``tqdm``'s ``moveto``)."""


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character but the newline (``one_line``: the newline too) shown as its escape."""
    return (_CONTROL_OR_NEWLINE if one_line else _CONTROL).sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return _NAMED.get(match[0], f"\\x{ord(match[0]):02x}")


def terminal_fields(value: Any) -> Any:  # noqa: ANN401 - JSON-like data
    """``value`` (a command's summary: dicts, lists, strings) with every string in it, keys too, as one line of
    ``terminal_text``: for printing fields of a file that each hold one line."""
    if isinstance(value, str):
        return terminal_text(value, one_line=True)
    if isinstance(value, dict):
        return {terminal_fields(key): terminal_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [terminal_fields(item) for item in value]
    return value


class TerminalStream:
    """A text stream that writes ``terminal_text`` of what it is given to ``stream`` (everything else is the
    stream's). A progress bar's own writes pass: a carriage return that starts a write (the bar redrawn from the
    start of its line; the rest of the write, the bar's description too, is shown as ``terminal_text``) and a write
    of cursor-ups only (moving between stacked bars)."""

    def __init__(self, stream: Any) -> None:  # noqa: ANN401 - any text stream
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` as ``terminal_text`` (bytes are refused, as by any text stream)."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if _CURSOR_UP.fullmatch(text):
            return self._stream.write(text)
        start = "\r" if text.startswith("\r") else ""
        self._stream.write(start + terminal_text(text[len(start):]))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - the stream's own attributes
        return getattr(self._stream, name)


@contextmanager
def terminal_output() -> Iterator[None]:
    """Within: ``sys.stdout`` and ``sys.stderr`` (when there are any) are ``TerminalStream``s of themselves."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (None if stream is None else TerminalStream(stream) for stream in saved)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved

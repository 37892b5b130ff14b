"""What the commands print, without the control characters of text taken from files.

A subject id, label or table name read from an NWB file (or a DANDI asset path) may hold escape sequences, carriage
returns or other control characters; printed raw, they move the cursor, clear lines or set links and forge what the
user reads (``subject m1\\r\\x1b[2Kerror: all good``). While a command runs, ``terminal_output`` puts stdout and stderr
behind ``TerminalStream``, which shows every control character but the newline as its escape (``\\x1b``, ``\\r``):
tables, messages, warnings, logs and tracebacks all pass there. JSON output (``--json``) holds none (``json`` escapes
them), so it is printed exactly. A character the stream's encoding cannot hold (``ã`` on an ASCII or cp932 stdout,
``PYTHONIOENCODING``, ``LC_ALL=C``) is shown as its backslash escape (``\\xe3``) instead of failing the command;
the stream hides its binary ``buffer``, which ``click.echo`` (``typer.echo``) would otherwise write UTF-8 into on an
ASCII stream.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from nwb_neurpir.visible_text import visible_text

__all__ = ["TerminalStream", "terminal_fields", "terminal_output"]

_CURSOR_UP = re.compile(r"(?:\x1b\[A)+")
"""What a progress bar writes to move up to its line among several bars (``tqdm``'s ``moveto``)."""


def terminal_fields(value: Any) -> Any:  # noqa: ANN401 - JSON-like data
    """``value`` (a command's summary: dicts, lists, strings) with every string in it, keys too, as one line of
    ``visible_text``: for printing fields of a file that each hold one line."""
    if isinstance(value, str):
        return visible_text(value, one_line=True)
    if isinstance(value, dict):
        return {terminal_fields(key): terminal_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [terminal_fields(item) for item in value]
    return value


class TerminalStream:
    """A text stream that writes ``visible_text`` of what it is given to ``stream`` (everything else is the
    stream's). A progress bar's own writes pass: a carriage return that starts a write (the bar redrawn from the
    start of its line; the rest of the write, the bar's description too, is shown as ``visible_text``) and a write
    of cursor-ups only (moving between stacked bars)."""

    def __init__(self, stream: Any) -> None:  # noqa: ANN401 - any text stream
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` as ``visible_text``, what the stream cannot encode as backslash escapes (bytes are refused,
        as by any text stream)."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if _CURSOR_UP.fullmatch(text):
            return self._stream.write(text)
        start = "\r" if text.startswith("\r") else ""
        self._stream.write(self._encodable(start + visible_text(text[len(start):])))
        return len(text)

    def _encodable(self, text: str) -> str:
        """``text``, or, when the stream's encoding (with its error handler) cannot hold all of it, ``text`` with
        the characters it cannot hold as backslash escapes."""
        encoding = getattr(self._stream, "encoding", None)
        if not isinstance(encoding, str):
            return text
        try:
            text.encode(encoding, getattr(self._stream, "errors", None) or "strict")
        except UnicodeEncodeError:
            return text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:  # an encoding Python does not know: the stream's own write says so
            pass
        return text

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - the stream's own attributes
        if name == "buffer":  # hidden: ``click.echo`` writes UTF-8 bytes there past the escaping on an ASCII stream
            raise AttributeError(name)
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

"""Reading what others hand over (model and probe folders, JSON kept in a file): the one place the package parses
JSON from a file or an NWB dataset (``parse_json``; ``without_bom`` for a parser of its own) and reads a file it was
given whole (``read_regular``).

Whatever the bytes hold, the result is the value or a one-line ``NeurPIRError`` naming the file: JSON nested too
deeply to parse is an error, not a ``RecursionError``; a FIFO, a device (``/dev/zero``) or a folder, also behind a
symbolic link, is refused before it is read (it would hang or fill memory), and so is a file larger than a limit.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from nwb_neurpir.errors import NeurPIRError

__all__ = ["parse_json", "read_regular", "without_bom"]

_CHUNK = 1 << 20


def parse_json(data: bytes | str, what: str, source: str | Path | None) -> Any:  # noqa: ANN401 - any JSON value
    """The JSON value of ``data`` (``what``: how the message names it, e.g. ``config.json``), a UTF-8 byte order mark
    before it ignored (Windows editors write one); a ``NeurPIRError`` naming ``source`` when it is not UTF-8, not
    JSON, or nested too deeply to parse."""
    try:
        return json.loads(without_bom(data.decode("utf-8") if isinstance(data, bytes) else data))
    except UnicodeDecodeError:
        raise NeurPIRError(f"{what} is not valid JSON (not UTF-8 text)", source) from None
    except json.JSONDecodeError as exc:
        raise NeurPIRError(f"{what} is not valid JSON ({exc.msg})", source) from None
    except RecursionError:
        raise NeurPIRError(f"{what} is not valid JSON we can read (nested too deeply)", source) from None


def without_bom(text: str) -> str:
    """``text`` without the byte order mark (U+FEFF) it may start with: a JSON parser refuses one."""
    return text.removeprefix("\ufeff")


def read_regular(path: Path, limit: int, source: str | Path | None) -> bytes:
    """The bytes of the file at ``path`` (symbolic links followed); a ``NeurPIRError`` naming ``source`` when it is
    missing, not a regular file, or larger than ``limit`` bytes. A FIFO is opened without waiting for a writer, and
    no more than ``limit`` bytes are ever read (a file that grows while it is read is refused too)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NeurPIRError(f"{path.name} is missing", source) from None
    except OSError as exc:
        raise NeurPIRError(f"cannot read {path.name} ({exc.strerror})", source) from None
    with os.fdopen(descriptor, "rb", buffering=0) as file:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NeurPIRError(f"{path.name} is not a regular file (a {_kind(status.st_mode)})", source)
        if status.st_size > limit:
            raise NeurPIRError(f"{path.name} is too large ({status.st_size} bytes, at most {limit} expected)", source)
        data = bytearray()
        while chunk := file.read(min(_CHUNK, limit + 1 - len(data))):
            data += chunk
            if len(data) > limit:
                raise NeurPIRError(f"{path.name} is too large (more than {limit} bytes expected)", source)
    return bytes(data)


def _kind(mode: int) -> str:
    """What a file that is not a regular one is, for a message."""
    kinds = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))
    return next((name for test, name in kinds if test(mode)), "special file")

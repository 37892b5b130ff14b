"""Warnings the reader gives when a file has a problem it can work around (the data stay usable)."""

from __future__ import annotations

import warnings

__all__ = ["NWBReadWarning", "warn_about"]


class NWBReadWarning(UserWarning):
    """Something in an NWB file was odd but usable; the message says what was kept, fixed or dropped."""


def warn_about(source: str, message: str) -> None:
    """Warn once, on one line that starts with the file's name, like ``NeurPIRError``."""
    warnings.warn(" ".join(f"{source}: {message}".split()), NWBReadWarning, stacklevel=3)

"""Which process of a ``torchrun`` job speaks for all of them (a module of its own: the CLI's error path asks it,
and importing it costs nothing)."""

from __future__ import annotations

import os

__all__ = ["is_main_process"]


def is_main_process() -> bool:
    """False in the ranks other than 0 under torchrun (they train, but rank 0 saves and reports)."""
    return os.environ.get("RANK", "0") == "0"

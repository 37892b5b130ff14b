"""One spelling of each text the package compares.

Identifiers (subject and session ids, the key columns of a labels table), label values, grouping values, column names
and the names a user types are compared in Unicode normal form C (NFC): ``Zürich`` written with a precomposed ``ü``
(most editors) and with ``u`` plus a combining diaeresis (macOS file systems, some editors: NFD) are one animal, one
class, one column. What the package writes back keeps the spelling it read.

Compatibility variants (full-width ``ＣＡ１`` beside ``CA1``) are not merged: ``loose_form`` only lets the notes on
spellings that differ by case or spacing point them out too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["loose_form", "named_columns", "nfc"]


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C (composed accents), the form every compared text takes."""
    return unicodedata.normalize("NFC", text)


def loose_form(text: str) -> str:
    """``text`` with compatibility variants folded (NFKC: full-width ``ＣＡ１`` is ``CA1``) and case folded: what
    spellings of one value that the notes point out share."""
    return unicodedata.normalize("NFKC", text).casefold()


def named_columns(frame: pd.DataFrame, names: Iterable[str | None]) -> pd.DataFrame:
    """``frame`` with each column spelled like one of ``names`` in another Unicode form (``área`` typed with a
    combining accent, the file's precomposed) renamed as the name is spelled; ``frame`` itself when there is none
    (a name it has as spelled, or None, renames nothing)."""
    renames = {}
    for name in names:
        if name is None or name in frame.columns:
            continue
        alike = [column for column in frame.columns if isinstance(column, str) and nfc(column) == nfc(name)]
        renames.update({alike[0]: name} if alike else {})
    return frame.rename(columns=renames) if renames else frame

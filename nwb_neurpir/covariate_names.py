"""Finding a covariate by the name a saved model or probe gave it.

Behaviour and stimulus series are named by their path under their module or container
(``behavior/Position/position``); models and probes saved before that named them ``behavior/<series>`` or
``stimulus/<series>``. Such an old name still finds its series where it is unambiguous.
"""

from __future__ import annotations

__all__ = ["column_positions"]

_SERIES_PREFIXES = ("behavior", "stimulus")


def column_positions(names: list[str], columns: list[str]) -> list[int | None]:
    """Where each of ``columns`` is among a recording's covariate ``names`` (None: absent), by its exact name or,
    for an old series name, by the one covariate of the same prefix whose path ends with that series."""
    index = {name: i for i, name in enumerate(names)}
    return [index[column] if column in index else _by_old_series_name(names, column) for column in columns]


def _by_old_series_name(names: list[str], column: str) -> int | None:
    """``<prefix>/<series>`` is the recording's ``<prefix>/.../<series>`` when exactly one of its covariates ends so,
    else None (absent or ambiguous)."""
    prefix, _, series = column.partition("/")
    if prefix not in _SERIES_PREFIXES or not series or "/" in series:
        return None
    matches = [i for i, name in enumerate(names) if name.startswith(f"{prefix}/") and name.endswith(f"/{series}")]
    return matches[0] if len(matches) == 1 else None

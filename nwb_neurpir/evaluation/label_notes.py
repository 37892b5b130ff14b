"""Notes on the values of a label, for evaluate's report and a probe's fit: groups of a grouping that no neuron falls
in, labels that mean "no area" (missing, ``root``, ``void``), and values that differ only by case, spacing or character
width -- each saying what happened to those neurons."""

from __future__ import annotations

from nwb_neurpir.evaluation.grouping import WILDCARD, LabelGrouping
from nwb_neurpir.unicode_forms import loose_form

__all__ = ["UNASSIGNED_TEXTS", "is_unassigned", "label_notes"]

UNASSIGNED_TEXTS = ("root", "void")
"""Label values (compared without case) that mean "no area", as Allen CCF's ``root`` and ``void``: like missing
labels, a grouping leaves them out unless it lists them; without a grouping they are classes, with a note."""
_SHOWN = 5
"""Values a note lists before "and N more"."""


def is_unassigned(value: str) -> bool:
    """Whether the (normalized) label ``value`` means "no area" (``UNASSIGNED_TEXTS``, any case)."""
    return value.casefold() in UNASSIGNED_TEXTS


def label_notes(values: dict[str, int], n_missing: int, grouping: LabelGrouping | None, label: str) -> list[str]:
    """The notes on ``label``'s values (value -> neurons, as ``GroupedLabels.values``; ``n_missing`` neurons without
    one): groups no neuron falls in, unassigned labels, spellings that differ only by case, spacing or width."""
    fates = {value: value if grouping is None else grouping.group_of(value) for value in values}
    return [*_empty_groups_note(values, fates, grouping), *_unassigned_notes(values, fates, n_missing, grouping, label),
            *_spelling_note(values, fates, grouping, label)]


def _empty_groups_note(values: dict[str, int], fates: dict[str, str | None],
                       grouping: LabelGrouping | None) -> list[str]:
    """One note naming the groups no labelled neuron falls in (the probe silently has fewer classes) and the values in
    no group, those that extend an empty group's values first (``VISp5`` beside ``VISp``)."""
    if grouping is None:
        return []
    filled = set(fates.values())
    empty = [group for group in grouping.groups if group not in filled]
    if not empty:
        return []
    stems = [value.split(WILDCARD)[0] for group in empty for value in grouping.groups[group]]

    def stem_of(value: str) -> str | None:
        return next((stem for stem in stems if stem and value.casefold().startswith(stem.casefold())), None)

    outside = sorted((value for value, group in fates.items() if group is None and not is_unassigned(value)),
                     key=lambda value: (stem_of(value) is None, -values[value], value))
    groups = "; ".join(f"group {group!r} matches no labelled neuron (its values: {_names(grouping.groups[group])})"
                       for group in empty)
    include = f"; values in no group include {_counted({v: values[v] for v in outside})}" if outside else ""
    stem = stem_of(outside[0]) if outside else None
    hint = f" ('{stem}{WILDCARD}' would match {outside[0]})" if stem else ""
    kept = len(grouping.groups) - len(empty)
    return [f"{groups}{include}{hint}; so {kept} of the {len(grouping.groups)} groups of grouping {grouping.name} "
            "are classes"]


def _unassigned_notes(values: dict[str, int], fates: dict[str, str | None], n_missing: int,
                      grouping: LabelGrouping | None, label: str) -> list[str]:
    """With a grouping, the neurons it leaves out as unassigned (missing, ``root`` / ``void`` it does not list),
    counted apart from the values in no group; without one, a note that ``root`` / ``void`` are classes."""
    unassigned = {value: count for value, count in values.items() if is_unassigned(value)}
    if grouping is None:
        return [f"{label} {_counted(unassigned)} usually mean unassigned (no area), yet each is a class here as every "
                "value is; a --grouping file leaves them out unless it lists them"] if unassigned else []
    left_out = {value: count for value, count in unassigned.items() if fates[value] is None}
    if n_missing:
        left_out["empty or missing"] = n_missing
    return [f"left out as unassigned labels: {sum(left_out.values())} neurons whose {label} is "
            f"{_counted(left_out)}"] if left_out else []


def _spelling_note(values: dict[str, int], fates: dict[str, str | None], grouping: LabelGrouping | None,
                   label: str) -> list[str]:
    """A note on the values that differ only by case, inner spacing or character width (full-width ``ＣＡ１``;
    surrounding spaces are stripped before, and accents are already in one Unicode form): without a grouping they
    are separate classes; with one, those it puts in different groups or drops only some of (one listed, the other
    not), saying where each went. Spellings a grouping puts together, or drops all, pass."""
    spellings: dict[str, list[str]] = {}
    for text in sorted(values):
        spellings.setdefault(" ".join(loose_form(text).split()), []).append(text)
    variants = [names for names in spellings.values() if len(names) > 1]
    if grouping is None:
        shown = "; ".join(" / ".join(names) for names in variants)
        return [f"{label} values that differ only by case, spacing or character width are separate classes: {shown} "
                "(a --grouping file can merge them)"] if variants else []
    apart = [" / ".join(f"{name} ({_fate(fates[name], values[name])})" for name in names)
             for names in variants if len({fates[name] for name in names}) > 1]
    return [f"{label} values that differ only by case, spacing or character width are not grouped together by "
            f"grouping {grouping.name}: {'; '.join(apart)} (list each spelling under its group)"] if apart else []


def _fate(group: str | None, count: int) -> str:
    return f"in no group: {count} neurons dropped" if group is None else f"in {group}"


def _counted(counts: dict[str, int]) -> str:
    """``name (count)`` of the first few, then how many more values and neurons."""
    items = list(counts.items())
    rest = items[_SHOWN:]
    more = f", and {len(rest)} more values ({sum(count for _, count in rest)} neurons)" if rest else ""
    return ", ".join(f"{name} ({count})" for name, count in items[:_SHOWN]) + more


def _names(names: tuple[str, ...]) -> str:
    """The first few ``names``, then how many more."""
    more = f" and {len(names) - 2 * _SHOWN} more" if len(names) > 2 * _SHOWN else ""
    return ", ".join(names[:2 * _SHOWN]) + more

"""Grouping of raw label values (e.g. Allen CCF acronyms) into coarse classes; values outside every group are dropped.

A grouping comes from a built-in preset (``steinmetz-4region``: Steinmetz et al. 2019's published brainRegionGroups,
MB / VIS / TH / HPF, as NuCLR uses them) or from a YAML/JSON file that maps each group name to
the raw values it contains::

    VIS: [VISp, VISl]
    HPF: [CA1, DG]

(optionally nested under a top-level ``groups:`` key, with an optional ``name:``). Every YAML value is read as
text: ``ON``/``OFF``/``NO`` or ``1`` are label values, not booleans or numbers.

Label values (in files and in groupings alike) are compared as normalized text (``normalize_label``): whole numbers
read the same whether stored as integers, floats or text (``1``, ``1.0`` and ``"1.0"`` are all ``1``), and empty
values, float NaN and the placeholders ``nan``, ``none``, ``null``, ``n/a`` and ``na`` (any case) are missing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nwb_neurpir.errors import NeurPIRError

__all__ = ["GROUPING_PRESETS", "MISSING_LABEL", "MISSING_TEXTS", "GroupedLabels", "LabelGrouping", "case_variants_note",
           "check_categorical", "group_labels", "load_grouping", "normalize_label"]

_MAX_GROUPING_FILE_BYTES = 1_000_000
MISSING_LABEL = "<missing>"
"""The ``dropped`` key of neurons without a label (None, NaN, empty, a placeholder of ``MISSING_TEXTS``)."""
MISSING_TEXTS = ("nan", "none", "null", "n/a", "na")
"""Text placeholders (compared without case) that mean "no label"; ``unknown`` is not one of them: it is a class."""
_WHOLE_NUMBER_TEXT = re.compile(r"([+-]?\d+)\.0*")
_MAX_FRACTIONAL_CLASSES = 20
"""More classes than this that are all numbers, some with a fraction, make a label look continuous."""
_MAX_CLASSES = 50
"""More classes than this, and more than half as many as labelled neurons, make a label look continuous or like an
identifier (Steinmetz et al.'s ~70 brain areas over thousands of neurons are fine)."""


@dataclass(frozen=True)
class LabelGrouping:
    """Named groups of raw label values; a raw value belongs to at most one group."""

    name: str
    groups: dict[str, tuple[str, ...]]

    def mapping(self) -> dict[str, str]:
        """Raw value -> group name."""
        return {value: group for group, values in self.groups.items() for value in values}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "groups": {group: list(values) for group, values in self.groups.items()}}


GROUPING_PRESETS: dict[str, LabelGrouping] = {
    # Steinmetz et al. 2019's published brainRegionGroups (midbrain, visual cortex, thalamus, hippocampal formation),
    # the grouping NuCLR evaluates with too; every other area (other cortex, striatum, SCsg, NB, ...) is dropped.
    "steinmetz-4region": LabelGrouping(
        name="steinmetz-4region",
        groups={
            "MB": ("MRN", "SCm", "SCs", "APN", "PAG"),
            "VIS": ("VISp", "VISrl", "VISam", "VISpm", "VISl", "VISa"),
            "TH": ("LP", "LD", "RT", "MD", "MG", "LGd", "VPM", "VPL", "PO", "POL"),
            "HPF": ("POST", "SUB", "DG", "CA1", "CA3"),
        },
    ),
}


@dataclass(frozen=True)
class GroupedLabels:
    """Labels after grouping: which neurons were kept, their class, and what was dropped (raw value -> count)."""

    keep: np.ndarray
    """(n,) bool: neuron has a label inside a group (or any non-missing label when there is no grouping)."""
    labels: np.ndarray
    """(n_kept,) str: the class of each kept neuron."""
    dropped: dict[str, int]
    """Raw label value -> number of neurons dropped with it (``<missing>`` for missing labels: empty, NaN, nan...)."""
    case_variants: tuple[tuple[str, ...], ...] = ()
    """Raw label values that differ only by case or spacing (``("PYR", "Pyr", "pyr")``): separate classes."""

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))


def normalize_label(value: Any) -> str | None:
    """A raw label as a clean string (bytes decoded, whole numbers as integers: ``1.0`` -> ``1``), or None when it
    is missing (None, NaN, empty, or a placeholder of ``MISSING_TEXTS``)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    whole = _WHOLE_NUMBER_TEXT.fullmatch(text)
    if whole:
        return str(int(whole.group(1)))
    return None if not text or text.lower() in MISSING_TEXTS else text


def group_labels(raw_labels: Sequence[Any], grouping: LabelGrouping | None) -> GroupedLabels:
    """Map raw labels to classes; neurons with a missing label or one outside every group are dropped and counted."""
    mapping = grouping.mapping() if grouping is not None else None
    keep = np.zeros(len(raw_labels), dtype=bool)
    labels: list[str] = []
    dropped: Counter[str] = Counter()
    texts: set[str] = set()
    for index, value in enumerate(raw_labels):
        text = normalize_label(value)
        if text is None:
            dropped[MISSING_LABEL] += 1
            continue
        texts.add(text)
        group = text if mapping is None else mapping.get(text)
        if group is None:
            dropped[text] += 1
            continue
        keep[index] = True
        labels.append(group)
    return GroupedLabels(keep=keep, labels=np.asarray(labels, dtype=object).astype(str),
                        dropped=dict(sorted(dropped.items(), key=lambda item: (-item[1], item[0]))),
                        case_variants=_case_variants(texts))


def _case_variants(texts: set[str]) -> tuple[tuple[str, ...], ...]:
    """The groups of ``texts`` that are one name written with different case or spacing."""
    spellings: dict[str, list[str]] = {}
    for text in sorted(texts):
        spellings.setdefault(" ".join(text.casefold().split()), []).append(text)
    return tuple(tuple(names) for names in spellings.values() if len(names) > 1)


def case_variants_note(case_variants: tuple[tuple[str, ...], ...], label: str) -> list[str]:
    """A note naming the ``label`` values that differ only by case or spacing (none when there are none)."""
    if not case_variants:
        return []
    shown = "; ".join(" / ".join(names) for names in case_variants)
    return [f"{label} values that differ only by case or spacing are separate classes: {shown} (a --grouping file "
            "can merge them)"]


def check_categorical(labels: np.ndarray, label: str) -> None:
    """NeurPIRError when the classes of ``label`` look like a continuous value or an identifier, not categories:
    more than ``_MAX_FRACTIONAL_CLASSES`` numbers with some fractions, or more than ``_MAX_CLASSES`` classes and more
    than half as many as labelled neurons."""
    classes = set(labels.tolist())
    numbers = [_number(name) for name in classes]
    fractional = None not in numbers and any(not number.is_integer() for number in numbers)
    if (fractional and len(classes) > _MAX_FRACTIONAL_CLASSES) or (len(classes) > _MAX_CLASSES and
                                                                    len(classes) > labels.size / 2):
        raise NeurPIRError(f"label {label!r} has {len(classes)} distinct values for {labels.size} labelled neurons: "
                           "it looks continuous (or like an identifier); pick a categorical column or map values to "
                           "classes with a grouping file (--grouping)")


def _number(text: str) -> float | None:
    """``text`` as a number, or None when it is not one."""
    try:
        return float(text)
    except ValueError:
        return None


def load_grouping(spec: str | Path | None) -> LabelGrouping | None:
    """A preset name, or a YAML/JSON grouping file; None for no grouping. Bad files raise NeurPIRError."""
    if spec is None or spec == "":
        return None
    if str(spec) in GROUPING_PRESETS:
        return GROUPING_PRESETS[str(spec)]
    path = Path(spec)
    if not path.is_file():
        presets = ", ".join(sorted(GROUPING_PRESETS))
        raise NeurPIRError(f"not a grouping preset ({presets}) nor an existing YAML/JSON file", source=spec)
    if path.stat().st_size > _MAX_GROUPING_FILE_BYTES:
        raise NeurPIRError(f"grouping file is larger than {_MAX_GROUPING_FILE_BYTES} bytes", source=path)
    return _parse_grouping(_read_mapping_file(path), default_name=path.stem, source=path)


def _read_mapping_file(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NeurPIRError("grouping file is not UTF-8 text", source=path) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        # BaseLoader keeps every scalar a string (ON, OFF, NO, 1 stay labels, not booleans or numbers) and
        # constructs no objects from tags.
        return yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only str/list/dict
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NeurPIRError(f"cannot parse grouping file: {reason}", source=path) from None
    except RecursionError:
        raise NeurPIRError("cannot parse grouping file: nested too deeply", source=path) from None


def _parse_grouping(content: Any, default_name: str, source: Path) -> LabelGrouping:
    if isinstance(content, dict) and "groups" in content:
        name = content.get("name", default_name)
        extra = sorted(set(content) - {"name", "groups"})
        if extra:
            raise NeurPIRError(f"unknown keys in grouping file: {', '.join(map(str, extra))}", source=source)
        content = content["groups"]
    else:
        name = default_name
    if not isinstance(content, dict) or not content:
        raise NeurPIRError("grouping file must map each group name to a list of label values", source=source)
    groups: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for group, values in content.items():
        group_name = normalize_label(group) if _is_text_or_number(group) else None
        if group_name is None:
            raise NeurPIRError(f"group name {group!r} is not a non-empty string", source=source)
        if _is_text_or_number(values):
            values = [values]
        if not isinstance(values, list) or not values:
            raise NeurPIRError(f"group {group_name!r} must list at least one label value", source=source)
        members = []
        for value in values:
            text = normalize_label(value) if _is_text_or_number(value) else None
            if text is None:
                raise NeurPIRError(f"group {group_name!r} has a value that is not a label (empty, not text or a "
                                   f"number, or a missing-value placeholder such as NaN): {value!r}", source=source)
            if text in owner and owner[text] != group_name:
                raise NeurPIRError(f"label value {text!r} is in two groups ({owner[text]!r} and {group_name!r})",
                                   source=source)
            owner[text] = group_name
            members.append(text)
        groups[group_name] = tuple(dict.fromkeys(members))
    if not isinstance(name, str) or not name.strip():
        raise NeurPIRError("grouping 'name' must be a non-empty string", source=source)
    return LabelGrouping(name=name.strip(), groups=groups)


def _is_text_or_number(value: Any) -> bool:
    """JSON label values may be strings or numbers (never booleans, lists or objects)."""
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)

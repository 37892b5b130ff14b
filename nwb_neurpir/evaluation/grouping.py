"""Grouping of raw label values (e.g. Allen CCF acronyms) into coarse classes; values outside every group are dropped.

A grouping comes from a built-in preset (``steinmetz-4region``: Steinmetz et al. 2019's published brainRegionGroups,
MB / VIS / TH / HPF, as NuCLR uses them), from a YAML/JSON file or from a Python mapping, each mapping a group name
to the raw values it contains::

    VIS: [VISp, VISl]
    HPF: ["CA*", "DG*"]

(optionally nested under a top-level ``groups:`` key, with an optional ``name:``). A ``*`` in a value matches any
run of characters (``VIS*``: VISp5, VISam2/3 ...), case-sensitively as labels are compared; a label two groups
match, or a group name written twice, is an error. Every YAML value is read as text: ``ON``/``OFF``/``NO`` or ``1``
are label values, not booleans or numbers.

Label values (in files and in groupings alike) are compared as normalized text (``normalize_label``): surrounding
spaces stripped (``" CA1 "`` is ``CA1``), in Unicode normal form C (``córtex`` with a combining accent is ``córtex``
precomposed; full-width ``ＣＡ１`` stays apart from ``CA1``), whole numbers read the same whether stored as integers, floats or text
(``1``, ``1.0`` and ``"1.0"`` are all ``1``), and empty values, float NaN and the placeholders ``nan``, ``none``,
``null``, ``n/a`` and ``na`` (any case) are missing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.input_files import without_bom
from nwb_neurpir.unicode_forms import nfc

__all__ = ["GROUPING_PRESETS", "MISSING_LABEL", "MISSING_TEXTS", "GroupedLabels", "GroupingSpec", "LabelGrouping",
           "check_categorical", "check_grouping_matches", "group_labels", "load_grouping", "normalize_label"]

_MAX_GROUPING_FILE_BYTES = 1_000_000
MISSING_LABEL = "<missing>"
"""The ``dropped`` key of neurons without a label (None, NaN, empty, a placeholder of ``MISSING_TEXTS``)."""
MISSING_TEXTS = ("nan", "none", "null", "n/a", "na")
"""Text placeholders (compared without case) that mean "no label"; ``unknown`` is not one of them: it is a class."""
WILDCARD = "*"
"""In a grouping value, any run of characters (none too)."""
_WHOLE_NUMBER_TEXT = re.compile(r"([+-]?\d+)\.0*")
_MAX_FRACTIONAL_CLASSES = 20
"""More classes than this that are all numbers, some with a fraction, make a label look continuous."""
_MAX_CLASSES = 50
"""More classes than this, and more than half as many as labelled neurons, make a label look continuous or like an
identifier (Steinmetz et al.'s ~70 brain areas over thousands of neurons are fine)."""
_VALUES_SHOWN = 5
"""Label values an error lists."""


@dataclass(frozen=True)
class LabelGrouping:
    """Named groups of raw label values: group name -> values, where a ``*`` in a value matches any run of characters
    (case-sensitive); a label matched by two groups is an error (``group_of``).

    >>> import nwb_neurpir as npir
    >>> grouping = npir.LabelGrouping("coarse", {"hippocampus": ("CA*", "DG*"), "thalamus": ("LP", "PO")})
    >>> grouping.group_of("CA1"), grouping.group_of("LP"), grouping.group_of("MOs")
    ('hippocampus', 'thalamus', None)
    >>> npir.evaluate("sim/", label="acronym", grouping={"hippocampus": ["CA*"], "thalamus": ["LP"]})  # doctest: +SKIP
    """

    name: str
    groups: dict[str, tuple[str, ...]]
    source: str | None = field(default=None, compare=False)
    """The file the grouping was read from (None for a preset or a mapping given in Python)."""

    def group_of(self, value: str) -> str | None:
        """The group whose values list or match ``value`` (a normalized label), None when none does; NeurPIRError
        when two groups do."""
        owners = [group for group, pattern in self._patterns.items() if pattern.fullmatch(nfc(value))]
        if len(owners) > 1:
            raise _in_two_groups(value, owners[0], owners[1], self.source)
        return owners[0] if owners else None

    @cached_property
    def _patterns(self) -> dict[str, re.Pattern[str]]:
        """Per group, one regular expression matching its values (``*``: any characters, the rest literally; in
        Unicode normal form C, as labels are compared)."""
        return {group: re.compile("|".join(".*".join(map(re.escape, nfc(value).split(WILDCARD))) for value in values),
                                  re.DOTALL) for group, values in self.groups.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "groups": {group: list(values) for group, values in self.groups.items()}}


GroupingSpec = Union[str, Path, Mapping[str, Any], LabelGrouping, None]
"""What a ``grouping`` argument takes: a preset name, a YAML/JSON file, a mapping group -> values (optionally nested
under ``groups`` with a ``name``), a ``LabelGrouping``, or None for no grouping."""

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
    values: dict[str, int] = field(default_factory=dict)
    """Every raw label value present (normalized; missing labels not) -> its neurons, kept or not, most first."""

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))


def normalize_label(value: Any) -> str | None:
    """A raw label as a clean string (bytes decoded, surrounding spaces stripped, in Unicode normal form C, whole
    numbers as integers: ``1.0`` -> ``1``), or None when it is missing (None, NaN, empty, or a placeholder of
    ``MISSING_TEXTS``)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(value)
    text = nfc(str(value).strip())
    whole = _WHOLE_NUMBER_TEXT.fullmatch(text)
    if whole:
        return str(int(whole.group(1)))
    return None if not text or text.lower() in MISSING_TEXTS else text


def group_labels(raw_labels: Sequence[Any], grouping: LabelGrouping | None) -> GroupedLabels:
    """Map raw labels to classes; neurons with a missing label or one outside every group are dropped and counted."""
    keep = np.zeros(len(raw_labels), dtype=bool)
    labels: list[str] = []
    dropped: Counter[str] = Counter()
    values: Counter[str] = Counter()
    group_of: dict[str, str | None] = {}
    for index, value in enumerate(raw_labels):
        text = normalize_label(value)
        if text is None:
            dropped[MISSING_LABEL] += 1
            continue
        values[text] += 1
        if text not in group_of:
            group_of[text] = text if grouping is None else grouping.group_of(text)
        group = group_of[text]
        if group is None:
            dropped[text] += 1
            continue
        keep[index] = True
        labels.append(group)
    return GroupedLabels(keep=keep, labels=np.asarray(labels, dtype=object).astype(str),
                         dropped=_most_first(dropped), values=_most_first(values))


def _most_first(counts: Counter[str]) -> dict[str, int]:
    """``counts`` largest first, ties by name."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def check_grouping_matches(grouped: GroupedLabels, grouping: LabelGrouping | None, label: str) -> None:
    """NeurPIRError naming the grouping (its file) when neurons carry ``label`` values but the grouping matches none
    of them, saying that the mapping may be reversed when its group names are label values (``{"CA1": "HPF"}``)."""
    if grouping is None or grouped.keep.any() or not grouped.values:
        return
    common = ", ".join(list(grouped.values)[:_VALUES_SHOWN])
    present = {value.casefold() for value in grouped.values}
    named = [group for group in grouping.groups if group.casefold() in present]
    reversed_hint = (f"; its group names {', '.join(named[:_VALUES_SHOWN])} are {label} values: the mapping may be "
                     "reversed (it must map each group name to a list of label values)") if named else ""
    raise NeurPIRError(f"none of the values of grouping {grouping.name!r} matches any {label!r} value of the data "
                       f"({len(grouped.values)} distinct value{'s' if len(grouped.values) > 1 else ''}, "
                       f"most common: {common})"
                       f"{reversed_hint}",
                       source=grouping.source)


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


def load_grouping(spec: GroupingSpec) -> LabelGrouping | None:
    """A ``LabelGrouping`` as given, a preset name, a YAML/JSON file, or a mapping group -> values (``{"HPF": ["CA*",
    "DG"]}``, or ``{"name": ..., "groups": {...}}``); None for no grouping. Bad ones raise NeurPIRError."""
    if isinstance(spec, LabelGrouping):
        return spec
    if spec is None or spec == "":
        return None
    if isinstance(spec, Mapping):
        return _parse_grouping(dict(spec), default_name="custom", source=None)
    if str(spec) in GROUPING_PRESETS:
        return GROUPING_PRESETS[str(spec)]
    path = Path(spec)
    if not path.is_file():
        presets = ", ".join(sorted(GROUPING_PRESETS))
        raise NeurPIRError(f"not a grouping preset ({presets}) nor an existing YAML/JSON file", source=spec)
    if path.stat().st_size > _MAX_GROUPING_FILE_BYTES:
        raise NeurPIRError(f"grouping file is larger than {_MAX_GROUPING_FILE_BYTES} bytes", source=path)
    return _parse_grouping(_read_mapping_file(path), default_name=path.stem, source=path)


class _DuplicateKey(Exception):
    """A mapping key written twice (``line``: 1-based, None when unknown)."""

    def __init__(self, key: str, line: int | None = None) -> None:
        super().__init__(key)
        self.key, self.line = key, line


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: a dict, refusing a key written twice (json keeps the last silently)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _yaml_loader() -> type:
    """``yaml.BaseLoader`` (every scalar a string: ON, OFF, NO, 1 stay labels; no objects built from tags) that
    refuses a mapping key written twice (yaml keeps the last silently)."""
    import yaml

    class UniqueKeyLoader(yaml.BaseLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            seen: set[str] = set()
            for key_node, _value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        raise _DuplicateKey(key_node.value, key_node.start_mark.line + 1)
                    seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _read_mapping_file(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NeurPIRError("grouping file is not UTF-8 text", source=path) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(without_bom(text), object_pairs_hook=_unique_pairs)
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - BaseLoader builds only str/list/dict
    except _DuplicateKey as twice:
        line = twice.line or _json_key_line(text, twice.key)
        where = f" (line {line})" if line else ""
        raise NeurPIRError(f"key {twice.key!r} is written twice{where}: the last would silently replace the first; "
                           "list all its values under one key", source=path) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NeurPIRError(f"cannot parse grouping file: {reason}", source=path) from None
    except RecursionError:
        raise NeurPIRError("cannot parse grouping file: nested too deeply", source=path) from None


def _json_key_line(text: str, key: str) -> int | None:
    """The line of the second ``"key":`` in JSON ``text`` (None when it is not written plainly twice)."""
    found = list(re.finditer(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:", text))
    return text.count("\n", 0, found[1].start()) + 1 if len(found) > 1 else None


def _parse_grouping(content: Any, default_name: str, source: Path | None) -> LabelGrouping:
    what = "grouping file" if source is not None else "grouping"
    if isinstance(content, dict) and "groups" in content:
        name = content.get("name", default_name)
        extra = sorted(set(content) - {"name", "groups"}, key=str)
        if extra:
            raise NeurPIRError(f"unknown keys in {what}: {', '.join(map(str, extra))}", source=source)
        content = content["groups"]
    else:
        name = default_name
    if not isinstance(content, Mapping) or not content:
        raise NeurPIRError(f"{what} must map each group name to a list of label values", source=source)
    groups: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for group, values in content.items():
        group_name = normalize_label(group) if _is_text_or_number(group) else None
        if group_name is None:
            raise NeurPIRError(f"group name {group!r} is not a non-empty string", source=source)
        if _is_text_or_number(values):
            values = [values]
        if not isinstance(values, (list, tuple)) or not values:
            raise NeurPIRError(f"group {group_name!r} must list at least one label value", source=source)
        members = []
        for value in values:
            text = normalize_label(value) if _is_text_or_number(value) else None
            if text is None:
                raise NeurPIRError(f"group {group_name!r} has a value that is not a label (empty, not text or a "
                                   f"number, or a missing-value placeholder such as NaN): {value!r}", source=source)
            if text in owner and owner[text] != group_name:
                raise _in_two_groups(text, owner[text], group_name, source)
            owner[text] = group_name
            members.append(text)
        groups[group_name] = tuple(dict.fromkeys(members))
    if not isinstance(name, str) or not name.strip():
        raise NeurPIRError("grouping 'name' must be a non-empty string", source=source)
    return LabelGrouping(name=name.strip(), groups=groups, source=None if source is None else str(source))


def _in_two_groups(value: str, first: str, second: str, source: str | Path | None) -> NeurPIRError:
    """The one error for a label value that two groups list or match."""
    return NeurPIRError(f"label value {value!r} is in two groups ({first!r} and {second!r})", source=source)


def _is_text_or_number(value: Any) -> bool:
    """JSON label values may be strings or numbers (never booleans, lists or objects)."""
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)

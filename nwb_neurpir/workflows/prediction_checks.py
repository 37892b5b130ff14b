"""What ``predict`` checks and tells beside writing the labels: options that only fitting reads, neurons it leaves
unpredicted (no activity), target labels outside the probe's classes, in-sample targets, the tables an
``overwrite`` replaces, and files that already hold this probe's predictions."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    import pandas as pd

    from nwb_neurpir.evaluation.grouping import LabelGrouping
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.store.read import AnnotatedRecording
    from nwb_neurpir.workflows.probe import LabelProbe

__all__ = ["AlreadyPredicted", "check_saved_grouping", "check_saved_settings", "in_sample_keys",
           "outside_classes_note", "replaced_tables", "silent", "warn_in_sample"]


class AlreadyPredicted(NeurPIRError):
    """The file already holds predictions of the name asked for, made by the same probe from the same model's
    embeddings (``frame``: them, as ``read_predictions`` gives them): nothing to do, the file is skipped."""

    def __init__(self, path: Path, frame: pd.DataFrame) -> None:
        super().__init__("already predicted by this probe: skipped", source=path)
        self.frame = frame


def check_saved_settings(probe: LabelProbe, kind: str | None, inputs: str | None, folder: Path) -> None:
    """Refuse ``--probe``/``--inputs`` (None: not given) that differ from those of the saved ``probe``: they choose
    how a probe is fitted, so they need ``--fit-on``."""
    asked = {"--probe": (kind, probe.kind), "--inputs": (inputs, probe.inputs)}
    differ = [f"{option} {given}" for option, (given, saved) in asked.items() if given not in (None, saved)]
    if differ:
        verb, need = ("choose", "they need") if len(differ) > 1 else ("chooses", "it needs")
        raise NeurPIRError(f"{' and '.join(differ)} {verb} how a probe is fitted, so {need} --fit-on; the probe "
                           f"saved here is {probe.kind} on {probe.inputs} (refit it with --fit-on and --overwrite, or "
                           "into another --probe-dir)", source=folder)


def check_saved_grouping(probe: LabelProbe, given: LabelGrouping | None, folder: Path) -> None:
    """Refuse a ``--grouping`` (None: not given) whose groups or their values differ from those the saved ``probe``
    was fitted with (its folder is found by the grouping's name alone): it would predict the saved classes."""
    if given is None or (probe.grouping is not None and _members(probe.grouping) == _members(given)):
        return
    differ = "the probe saved here has no grouping" if probe.grouping is None else \
        "; ".join(_grouping_differences(probe.grouping, given))
    raise NeurPIRError(f"--grouping {given.name} differs from the grouping the probe saved here was fitted with "
                       f"({differ}); refit it with --fit-on ... --overwrite, or into another --probe-dir",
                       source=folder)


def _members(grouping: LabelGrouping) -> dict[str, frozenset[str]]:
    """Each group's values, in any order."""
    return {group: frozenset(values) for group, values in grouping.groups.items()}


def _grouping_differences(saved: LabelGrouping, given: LabelGrouping) -> list[str]:
    """What differs between two groupings: groups one of them lacks, then the values of a shared group one of them
    lacks (``thalamus: POL only in the saved probe``)."""
    from nwb_neurpir.evaluation.evaluate import some_of

    ours, theirs = _members(given), _members(saved)
    said = [f"groups only in {where}: {some_of(sorted(set(one) - set(other)))}"
            for where, one, other in (("--grouping", ours, theirs), ("the saved probe", theirs, ours))
            if set(one) - set(other)]
    for group in (name for name in theirs if name in ours):
        said += [f"{group}: {some_of(sorted(one - other))} only in {where}"
                 for where, one, other in (("--grouping", ours[group], theirs[group]),
                                           ("the saved probe", theirs[group], ours[group])) if one - other]
    return said


def silent(recording: Recording, ids: np.ndarray) -> np.ndarray:
    """(len(ids),) bool: the neurons ``ids`` whose activity in the time read is all zero (``Recording.silent``)."""
    return recording.silent()[_rows(recording, ids)]


def _rows(recording: Recording, ids: np.ndarray) -> list[int]:
    """The recording's rows of the neurons ``ids``."""
    position = {neuron: row for row, neuron in enumerate(recording.neuron_ids.tolist())}
    return [position[neuron] for neuron in ids.tolist()]


def chance_warning(probe: LabelProbe) -> str | None:
    """A one-line warning when the probe's cross-animal balanced accuracy is not above chance (1 / its classes),
    else None."""
    accuracy, chance = probe.cross_animal_accuracy_, 1 / len(probe.classes_)
    if accuracy is None or accuracy > chance:
        return None
    return (f"warning: the probe's cross-animal balanced accuracy {accuracy:.3f} is not above chance "
            f"(1/{len(probe.classes_)} = {chance:.3f}): the predictions written are not better than chance across "
            "animals")


def outside_classes_note(probe: LabelProbe, recording: Recording, ids: np.ndarray) -> str | None:
    """When the recording's neurons ``ids`` carry the probe's label column (after its grouping): how many labelled
    ones have a label the probe cannot predict, and which; None when none do."""
    from nwb_neurpir.evaluation.grouping import normalize_label
    from nwb_neurpir.unicode_forms import named_columns

    metadata = named_columns(recording.neuron_metadata, [probe.label])
    if probe.label not in metadata.columns:
        return None
    raw = [normalize_label(value) for value in metadata[probe.label].to_numpy()[_rows(recording, ids)]]
    labelled = [text for text in raw if text is not None]
    grouping = probe.grouping
    outside = Counter(text for text in labelled
                      if (text if grouping is None else grouping.group_of(text)) not in probe.classes_)
    if not outside:
        return None
    values = ", ".join(f"{value} {count}" for value, count in outside.most_common())
    if grouping is not None:
        values = (f"values in none of these groups of grouping {grouping.name}: {values}"
                  f"{_named_like_groups(grouping, outside)}")
    return (f"{sum(outside.values())} of {len(labelled)} labelled neurons have a {probe.label} outside the probe's "
            f"classes {', '.join(probe.classes_)} ({values}); their predicted labels are one of those classes")


def _named_like_groups(grouping: LabelGrouping, values: Counter[str]) -> str:
    """``; the value TH is not among the values of group TH (LP, LD, ...)`` for raw values spelled as a group is
    named but not listed in it (Steinmetz's coarse ``TH`` beside the thalamic nuclei of group ``TH``)."""
    named = [value for value in values if value in grouping.groups]
    return "".join(f"; the value {value} is not among the values of group {value} "
                   f"({', '.join(grouping.groups[value])})" for value in named)


def in_sample_keys(recordings: Sequence[AnnotatedRecording]) -> dict[tuple[str, str], str]:
    """(NWB identifier, session id) -> file, of the probe's training files that could be read."""
    return {(recording.identifier, recording.session_id): recording.path for recording in recordings
            if recording.identifier}


def warn_in_sample(training: dict[tuple[str, str], str], recording: Recording, label: str) -> None:
    """Warn when the probe was fitted on this recording (``training`` from ``in_sample_keys``)."""
    from nwb_neurpir.recording import recording_key

    key = recording_key(recording)
    fitted_on = training.get((key.identifier, key.session_id))
    if fitted_on is not None:
        warnings.warn(f"{label}: the probe was fitted on this recording ({fitted_on}); its predicted labels are "
                      "in-sample, not a test of the probe", stacklevel=3)


def replaced_tables(path: Path, embeddings: str | None, predictions: str, overwrite: bool,
                    made_by: tuple[str, str] | None = None) -> list[str]:
    """Our tables in the file at ``path`` that embeddings named ``embeddings`` (None: none are written) and
    predictions named ``predictions`` would replace, as ``module/name (model <checksum>)``; without ``overwrite`` a
    NeurPIRError whose hint names the options that keep both, or, when those predictions were made by ``made_by``
    (the probe's checksum, the model's), ``AlreadyPredicted``."""
    from nwb_neurpir.io.nwb_file import open_nwb
    from nwb_neurpir.store import DEFAULT_MODULE, read_predictions
    from nwb_neurpir.store.read import stored_tables

    if not path.is_file():
        return []
    with open_nwb(path) as file:
        stored = stored_tables(file)
    wanted = {"embeddings": embeddings, "predictions": predictions}
    hits = [(kind, table) for kind, name in wanted.items() if name is not None
            for table in stored[kind] if table["name"] == f"{DEFAULT_MODULE}/{name}"]
    if hits and not overwrite:
        if made_by is not None and any(kind == "predictions" for kind, _ in hits):
            frame = read_predictions(path, f"{DEFAULT_MODULE}/{predictions}")
            if (frame.attrs["probe"]["checkpoint_sha256"], frame.attrs["model"]["checkpoint_sha256"]) == made_by:
                raise AlreadyPredicted(path, frame)
        kind, table = hits[0]
        options = " and ".join({"embeddings": "--embeddings NAME", "predictions": "--name NAME"}[hit] for hit, _ in hits)
        raise NeurPIRError(f"already has {kind} named '{wanted[kind]}' in processing/{DEFAULT_MODULE} (model "
                           f"{table['model_sha256']}); to keep both, give the new ones another name ({options}), or "
                           "use --overwrite (overwrite=True) to replace them", source=path)
    return [f"{table['name']} (model {table['model_sha256']})" for _, table in hits]

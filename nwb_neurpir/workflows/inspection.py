"""``inspect_sources``: per NWB file, what matters before training on it -- whether it holds units or calcium ROIs,
and for those: identity, neurons and label columns, observed time, trials and covariates (``neurpir inspect``;
``inspect`` gathers them into an ``Inspection``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nwb_neurpir.renamed import accepts_ophys_series

if TYPE_CHECKING:
    import pandas as pd

    from nwb_neurpir.recording import Recording
    from nwb_neurpir.io.sources import ResolvedSource
    from nwb_neurpir.workflows.recordings import Sources

__all__ = ["Inspection", "inspect", "inspect_sources", "summarize"]

_MAX_LABEL_VALUES = 30
NONE_PASSING = "no neuron passing the filter"
"""``holds`` of a file none of whose neurons passes the filter (its ``message`` says why)."""


def inspect_sources(sources: list[str], glob: str | None = None, *, cache_dir: str | Path | None = None,
                    modality: str = "auto", unit_filter: str | None = None, bin_size: float | None = None,
                    series: str | None = None, during: str | None = None,
                    progress: bool = True) -> Iterator[dict[str, Any]]:
    """One JSON-ready summary per file the sources name, as each is read: ``holds`` (units, rois, units without
    spikes, no units or ROIs, NeurPIR sidecar, unreadable -- with the error as ``message``), for files with neurons
    ``summarize``'s fields, and for readable files the paths of every ``units_tables`` they hold, their imaging
    ``planes`` (each ``segmentation`` with its ROI ``series``), whichever kind was read, and the NeurPIR
    ``embeddings`` and ``predictions`` tables (``stored_tables``). A file that cannot be read does not stop the
    others."""
    from tqdm import tqdm

    from nwb_neurpir.errors import NeurPIRError
    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.io.resolve import resolve_sources

    access = DataAccess(cache_dir=cache_dir)
    resolved = resolve_sources(sources, glob, access=access)
    options = {"modality": modality, "unit_filter": unit_filter, "bin_size": bin_size, "series": series,
               "during": during}
    for source in tqdm(resolved, desc="inspecting", unit="file", disable=not progress or len(resolved) < 2):
        try:
            yield {**_neurons_summary(source, access, options), **_file_tables(source, access)}
        except NeurPIRError as exc:
            yield _unreadable(source, "unreadable", exc)


def _neurons_summary(source: ResolvedSource, access: Any, options: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN401
    """``holds`` and ``summarize``'s fields of a file with neurons, or what the file is instead (no neuron passing
    the filter, units without spikes, no units or ROIs, a NeurPIR sidecar); an unreadable file raises."""
    from nwb_neurpir.errors import NoneSelected, NoSpikes
    from nwb_neurpir.io import read_resolved
    from nwb_neurpir.io.nwb_reader import NoNeurons, SidecarFile

    try:
        recording = read_resolved(source, access, **options)
    except NoneSelected as exc:
        return _unreadable(source, NONE_PASSING, exc)
    except NoSpikes as exc:
        return _unreadable(source, "units without spikes", exc)
    except NoNeurons as exc:
        return _unreadable(source, "no units or ROIs", exc)
    except SidecarFile as exc:
        return _unreadable(source, "NeurPIR sidecar", exc)
    return {"holds": "units" if recording.modality == "spikes" else "rois", **summarize(recording)}


def summarize(recording: Recording) -> dict[str, Any]:
    """A JSON-ready summary of a ``Recording``: identity, neurons and label columns, observed time, context."""
    labels = {}
    for column in recording.neuron_metadata.columns:
        values = recording.neuron_metadata[column]
        if values.dtype == object or values.nunique() <= _MAX_LABEL_VALUES:
            counts = values.astype(str).value_counts()
            if len(counts) <= _MAX_LABEL_VALUES:
                labels[column] = {str(k): int(v) for k, v in counts.items()}
    return {
        "source": recording.source.label(),
        "identifier": recording.source.identifier,
        "subject_id": recording.subject_id,
        "session_id": recording.session_id,
        "session_start_time": recording.session_start_time,
        "modality": recording.modality,
        "neuron_table": recording.neuron_table,
        "activity_series": recording.activity_series,
        "n_neurons": recording.n_neurons,
        "neuron_columns": list(map(str, recording.neuron_metadata.columns)),
        "label_counts": labels,
        "bin_size_s": recording.bin_size,
        "observed_s": round(recording.observed_seconds, 3),
        "observed_epochs": int(recording.epoch_starts().size),
        "observed_span_s": [round(float(recording.bin_times[0]), 3),
                            round(float(recording.bin_times[-1] + recording.bin_size), 3)],
        "during": recording.during,
        "invalid_times": None if recording.invalid_times is None else {
            "intervals": int(recording.invalid_times.intervals.shape[0]),
            "excluded_s": round(recording.invalid_times.excluded_seconds, 3)},
        "partly_observed": _partly_observed(recording),
        "n_trials": 0 if recording.trials is None else len(recording.trials),
        "covariates": sorted(recording.covariates),
    }


def _partly_observed(recording: Recording) -> dict[str, float | int] | None:
    """How many neurons are observed for less than the recording's observed time (their own ``obs_intervals``, a
    calcium ROI's NaN frames) and their median observed seconds; None when every neuron is observed throughout."""
    if recording.observed is None:
        return None
    seconds = recording.observed.sum(axis=1) * recording.bin_size
    shorter = seconds[seconds < recording.observed_seconds]
    if shorter.size == 0:
        return None
    return {"n_neurons": int(shorter.size), "median_observed_s": round(float(np.median(shorter)), 3)}


def _file_tables(source: ResolvedSource, access: Any) -> dict[str, list[Any]]:  # noqa: ANN401
    """The paths of the file's units tables (``units_tables``), its imaging ``planes`` (``roi_planes``: each
    segmentation with its ROI series) and the NeurPIR tables it holds (``nwb_neurpir.store.read.stored_tables``)."""
    from nwb_neurpir.io.ophys import roi_planes
    from nwb_neurpir.io.units import units_tables
    from nwb_neurpir.store.read import stored_tables

    with access.open_h5(source) as h5:
        return {"units_tables": units_tables(h5), "planes": roi_planes(h5, source.label()), **stored_tables(h5)}


def _unreadable(source: ResolvedSource, reason: str, error: Exception) -> dict[str, Any]:
    """The summary of a file without neurons to read: what it is instead."""
    return {"source": source.label(), "holds": reason, "message": str(error)}


_TABLE_FIELDS = ("source", "holds", "subject_id", "session_id", "n_neurons", "observed_s", "n_trials")
_REPR_FILES = 20


@dataclass(frozen=True)
class Inspection:
    """What ``inspect`` found: ``files``, one summary per file as ``neurpir inspect --json`` prints them (a file that
    could not be read holds ``unreadable`` and its error as ``message``); ``table()`` has one row per file."""

    files: list[dict[str, Any]]

    def table(self) -> pd.DataFrame:
        """One row per file: source, what it holds, subject, session, neurons, observed seconds, trials, label
        columns, the NeurPIR tables stored in it (embeddings, predictions) and why it was not read."""
        import pandas as pd

        return pd.DataFrame([{**{name: summary.get(name) for name in _TABLE_FIELDS},
                              "labels": ", ".join(summary.get("label_counts", {})),
                              "stored": ", ".join(table["name"] for table in [*summary.get("embeddings", []),
                                                                              *summary.get("predictions", [])]),
                              "message": summary.get("message", "")} for summary in self.files])

    def __repr__(self) -> str:
        """A line per file (up to ``_REPR_FILES``): what it holds; ``table()`` and ``files`` have the rest."""
        lines = [f"<Inspection of {len(self.files)} file(s); .table() one row per file, .files every field>"]
        lines += [_line(summary) for summary in self.files[:_REPR_FILES]]
        if len(self.files) > _REPR_FILES:
            lines.append(f"... and {len(self.files) - _REPR_FILES} more")
        return "\n".join(lines)


def _line(summary: dict[str, Any]) -> str:
    """One file's summary in a line: its neurons, animal, session and labels, or what it holds instead."""
    if "n_neurons" not in summary:
        return f"{summary['source']}: {summary['holds']}"
    labels = ", ".join(summary["label_counts"]) or "none"
    return (f"{summary['source']}: {summary['n_neurons']} {summary['holds']} of {summary['subject_id']}/"
            f"{summary['session_id']}, {summary['observed_s']:g} s observed, labels {labels}")


@accepts_ophys_series
def inspect(sources: Sources, glob: str | None = None, *, modality: str = "auto",
            unit_filter: str | None = None, series: str | None = None, during: str | None = None,
            bin_size: float | None = None, cache_dir: str | Path | None = None,
            progress: bool | None = None) -> Inspection:
    """What each NWB file the sources name holds that matters before training on it, as ``neurpir inspect`` prints
    it (same options; ``series`` is ``--series`` and ``during`` ``--during``, as in ``annotate`` and ``predict``): units
    or calcium ROIs, identity, neurons and label columns, observed time, trials, covariates, and the NeurPIR tables
    stored in it. A file that cannot be read does not stop the others. ``progress``: None follows ``NEURPIR_PROGRESS``
    (as ``open_recordings``).

    >>> import nwb_neurpir as npir
    >>> npir.inspect("sim/").table()                                       # doctest: +SKIP
    >>> npir.inspect("DANDI:000021", glob="sub-7*/*ecephys.nwb").files      # doctest: +SKIP
    """
    from nwb_neurpir.progress import progress_or_environment
    from nwb_neurpir.workflows.recordings import source_items

    return Inspection(list(inspect_sources([str(item) for item in source_items(sources)], glob, cache_dir=cache_dir,
                                           modality=modality, unit_filter=unit_filter, bin_size=bin_size,
                                           series=series, during=during,
                                           progress=progress_or_environment(progress))))

"""`neurpir inspect`: what a file holds that matters before training on it."""

from __future__ import annotations

import json
from typing import Any

import typer

from nwb_neurpir.cli.options import BinSize, CacheDir, Glob, JsonOutput, Modality, Progress, Sources, UnitFilter

_MAX_LABEL_VALUES = 30


def summarize(recording: Any) -> dict[str, Any]:  # noqa: ANN401 - a Recording, imported lazily
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
        "n_neurons": recording.n_neurons,
        "neuron_columns": list(map(str, recording.neuron_metadata.columns)),
        "label_counts": labels,
        "bin_size_s": recording.bin_size,
        "observed_s": round(recording.observed_seconds, 3),
        "observed_epochs": int(recording.epoch_starts().size),
        "n_trials": 0 if recording.trials is None else len(recording.trials),
        "covariates": sorted(recording.covariates),
    }


def _unreadable(source: Any, reason: str, error: Exception) -> dict[str, Any]:  # noqa: ANN401 - ResolvedSource
    """The summary of a file without neurons to read: what it is instead."""
    return {"source": source.label(), "holds": reason, "message": str(error)}


def register(app: typer.Typer) -> None:
    """Add `inspect` to the app."""

    @app.command("inspect")
    def inspect(
        sources: Sources,
        glob: Glob = None,
        modality: Modality = "auto",
        unit_filter: UnitFilter = None,
        bin_size: BinSize = None,
        cache_dir: CacheDir = None,
        as_json: JsonOutput = False,
        progress: Progress = True,
    ) -> None:
        """Print, per file, whether it holds units or calcium ROIs, and for those: subject, session, neurons and
        label columns, observed time, trials and covariates. Files without either (LFP only, NeurPIR sidecars) are
        listed as such, so a glob that picks the right files is easy to find.

        Example: neurpir inspect DANDI:000021 --glob "sub-*/sub-*_ses-*.nwb"
        """
        from tqdm import tqdm

        from nwb_neurpir.io import read_resolved
        from nwb_neurpir.io.access import DataAccess
        from nwb_neurpir.io.nwb_reader import NoNeurons, SidecarFile
        from nwb_neurpir.io.resolve import resolve_sources

        access = DataAccess(cache_dir=cache_dir)
        resolved = resolve_sources(sources, glob, access=access)
        summaries = []
        for source in tqdm(resolved, desc="inspecting", unit="file", disable=not progress or len(resolved) < 2):
            try:
                recording = read_resolved(source, access, modality=modality, unit_filter=unit_filter,
                                          bin_size=bin_size)
                summary = {"holds": "units" if recording.modality == "spikes" else "rois", **summarize(recording)}
            except NoNeurons as exc:
                summary = _unreadable(source, "no units or ROIs", exc)
            except SidecarFile as exc:
                summary = _unreadable(source, "NeurPIR sidecar", exc)
            summaries.append(summary)
            if not as_json:
                tqdm.write(_summary_text(summary))
        if as_json:
            typer.echo(json.dumps(summaries, indent=2))


def _summary_text(summary: dict[str, Any]) -> str:
    if "n_neurons" not in summary:
        return f"{summary['source']}\n  holds {summary['holds']}: not read"
    lines = [summary["source"],
             f"  subject {summary['subject_id']}  session {summary['session_id']}  "
             f"start {summary['session_start_time']}  identifier {summary['identifier']}"]
    kind = "units with spike times" if summary["modality"] == "spikes" else "calcium ROIs"
    windows = summary["observed_epochs"]
    lines.append(f"  {summary['n_neurons']} {kind} from /{summary['neuron_table']}; observed "
                 f"{summary['observed_s']:.1f} s in {windows} window{'' if windows == 1 else 's'} "
                 f"({summary['bin_size_s'] * 1000:g} ms bins)")
    for column, counts in summary["label_counts"].items():
        lines.append(f"  label {column}: {', '.join(f'{value} {count}' for value, count in counts.items())}")
    lines.append(f"  trials: {summary['n_trials']}")
    lines.append(f"  covariates: {', '.join(summary['covariates']) or 'none'}")
    return "\n".join(lines)


__all__ = ["register", "summarize"]

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


def _print_summary(summary: dict[str, Any]) -> None:
    typer.echo(f"{summary['source']}")
    typer.echo(f"  subject {summary['subject_id']}  session {summary['session_id']}  "
               f"start {summary['session_start_time']}  identifier {summary['identifier']}")
    typer.echo(f"  {summary['n_neurons']} {summary['modality']} neurons from /{summary['neuron_table']}; "
               f"observed {summary['observed_s']:.1f} s in {summary['observed_epochs']} windows "
               f"({summary['bin_size_s'] * 1000:g} ms bins)")
    for column, counts in summary["label_counts"].items():
        shown = ", ".join(f"{value} {count}" for value, count in counts.items())
        typer.echo(f"  label {column}: {shown}")
    typer.echo(f"  trials: {summary['n_trials']}")
    typer.echo(f"  covariates: {', '.join(summary['covariates']) or 'none'}")


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
        """Print subject, session, neurons and label columns, observed time, trials and covariates.

        Example: neurpir inspect ../shared/data/steinmetz2019-nwb/sub-Cori --glob "*12-14*"
        """
        from nwb_neurpir.io import open_recordings

        summaries = []
        for recording in open_recordings(sources, glob, cache_dir=cache_dir, modality=modality,
                                         unit_filter=unit_filter, bin_size=bin_size, progress=progress):
            summary = summarize(recording)
            summaries.append(summary)
            if not as_json:
                _print_summary(summary)
        if as_json:
            typer.echo(json.dumps(summaries, indent=2))


__all__ = ["register", "summarize"]

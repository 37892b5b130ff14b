"""`neurpir inspect`: what a file holds that matters before training on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.cli.options import (
    BinSize,
    CacheDir,
    During,
    Glob,
    JsonOutput,
    Modality,
    OneSeries,
    Progress,
    Series,
    Sources,
    UnitFilter,
)
from nwb_neurpir.cli.terminal import terminal_fields


def register(app: typer.Typer) -> None:
    """Add `inspect` to the app."""

    @app.command("inspect", cls=OneSeries)
    def inspect(
        sources: Sources,
        glob: Glob = None,
        modality: Modality = "auto",
        unit_filter: UnitFilter = None,
        series: Series = None,
        during: During = None,
        bin_size: BinSize = None,
        cache_dir: CacheDir = None,
        as_json: JsonOutput = False,
        progress: Progress = None,
    ) -> None:
        """Given a model folder, print what the model is (as its model card says: modality, bin size, covariates,
        architecture, training, training data, licence, checkpoints, probes).

        Otherwise print, per file, whether it holds units or calcium ROIs, and for those: subject, session, neurons and
        label columns, observed time, trials and covariates; its units tables when it has several (two spike
        sortings; --series picks one); and the NeurPIR embedding and prediction tables it holds. Files without
        either (LFP only, NeurPIR sidecars) or whose units all lack spikes (a failed spike sorting) are listed as
        such, with the reason, so a glob that picks the right files is easy to find.

        Example: neurpir inspect DANDI:000021 --glob "sub-*/sub-*_ses-*.nwb"
        """
        from tqdm import tqdm

        from nwb_neurpir.workflows.inspection import inspect_sources

        if len(sources) == 1 and glob is None and is_model_folder(sources[0]):
            _inspect_model(sources[0], as_json)
            return
        summaries = []
        for summary in inspect_sources(sources, glob, cache_dir=cache_dir, modality=modality, unit_filter=unit_filter,
                                       series=series, during=during,
                                       bin_size=bin_size, progress=progress):
            summaries.append(summary)
            if not as_json:
                tqdm.write(_summary_text(summary))
        if as_json:
            typer.echo(json.dumps(summaries, indent=2))
        failed = sum(summary["holds"] == "unreadable" for summary in summaries)
        if failed:
            raise NeurPIRError(f"{failed} of {len(summaries)} files could not be read")


def is_model_folder(source: str) -> bool:
    """True for a local folder a model was trained or exported into (its model.json, or training checkpoints)."""
    from nwb_neurpir.model.checkpoint import CHECKPOINTS

    folder = Path(source)
    return folder.is_dir() and ((folder / "model.json").is_file() or (folder / CHECKPOINTS).is_dir())


def _inspect_model(source: str, as_json: bool) -> None:
    """Print what the model in the folder ``source`` is: the facts of its model card (``summary.fact_lines``)."""
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.model.summary import fact_lines, model_facts

    facts = model_facts(TrainedModel.load(source), Path(source))
    if as_json:
        typer.echo(json.dumps(facts, indent=2))
    else:
        typer.echo("\n".join([f"{source}: NeurPIR model", *(f"  {line}" for line in fact_lines(facts))]))


def _summary_text(summary: dict[str, Any]) -> str:
    """The lines ``inspect`` prints for a file; each field it shows from the file on one line (``terminal_fields``)."""
    summary = terminal_fields(summary)
    reason = summary.get("message", "").removeprefix(summary["source"] + ": ")
    if summary["holds"] == "unreadable":
        return f"{summary['source']}\n  unreadable: {reason}"
    if "n_neurons" not in summary:
        return "\n".join([f"{summary['source']}\n  holds {summary['holds']}: not read -- {reason}",
                          *_units_tables_text(summary), *_stored_text(summary)])
    lines = [summary["source"],
             f"  subject {summary['subject_id']}  session {summary['session_id']}  "
             f"start {summary['session_start_time']}  identifier {summary['identifier']}"]
    lines.extend(_observed_lines(summary))
    lines.extend(_units_tables_text(summary))
    if summary["modality"] == "ophys":
        lines.append(f"  traces from /{summary['activity_series']}")
    for column, counts in summary["label_counts"].items():
        lines.append(f"  label {column}: {', '.join(f'{_shown(value)} {count}' for value, count in counts.items())}")
    lines.append(f"  trials: {summary['n_trials']}")
    lines.append(f"  covariates: {', '.join(summary['covariates']) or 'none'}")
    return "\n".join([*lines, *_stored_text(summary)])


def _observed_lines(summary: dict[str, Any]) -> list[str]:
    """The neurons and their observed time (``during`` the intervals chosen with ``--during``): total, windows, first
    and last observed second on the file's clock, bin size; a line for the time left out as ``invalid_times`` and one
    for the neurons observed for less than the rest (their own ``obs_intervals``)."""
    kind = "units with spike times" if summary["modality"] == "spikes" else "calcium ROIs"
    windows, (first, last) = summary["observed_epochs"], summary["observed_span_s"]
    during = "" if summary.get("during") is None else f" during {summary['during']}"
    lines = [f"  {summary['n_neurons']} {kind} from /{summary['neuron_table']}; observed {summary['observed_s']:.1f} s"
             f"{during} in {windows} window{'' if windows == 1 else 's'} between {first:.1f} and {last:.1f} s "
             f"({summary['bin_size_s'] * 1000:g} ms bins)"]
    if (invalid := summary["invalid_times"]) is not None:
        count = invalid["intervals"]
        lines.append(f"  invalid_times: {invalid['excluded_s']:.1f} s left out ({count} interval"
                     f"{'' if count == 1 else 's'})")
    if (partly := summary["partly_observed"]) is not None:
        lines.append(f"  {partly['n_neurons']} {'units' if summary['modality'] == 'spikes' else 'ROIs'} observed for "
                     f"less than the session: median {partly['median_observed_s']:.1f} s")
    return lines


def _shown(value: str) -> str:
    """A label value as printed: ``(empty)`` for an empty (or blank) one, such as a rejected ROI's cell type."""
    return value if value.strip() else "(empty)"


def _units_tables_text(summary: dict[str, Any]) -> list[str]:
    """Lines listing the file's units tables when it has several (``--series`` picks one) or also has ROIs, and its
    imaging planes with their series when it has several or also has units (what was not read, and how to read it)."""
    tables, planes = summary["units_tables"], summary["planes"]
    both = bool(tables) and bool(planes)
    lines = [f"  units tables: {', '.join('/' + table for table in tables)} (--series NAME picks one"
             f"{', --modality spikes reads units' if both else ''})"] if len(tables) > 1 or both else []
    if len(planes) > 1 or both:
        lines.append(f"  imaging planes ({'--modality ophys reads ROIs, ' if both else ''}--series NAME picks one):")
        lines.extend(f"    /{plane['segmentation']}: {', '.join('/' + series for series in plane['series'])}"
                     for plane in planes)
    return lines


def _silent(table: dict[str, Any]) -> str:
    """`` (3 without activity, marked silent)`` for an embedding table with such neurons, as ``embed`` says it."""
    return f" ({table['n_silent']} without activity, marked silent)" if table.get("n_silent") else ""


def _stored_text(summary: dict[str, Any]) -> list[str]:
    """One line per NeurPIR table the file holds."""
    lines = [f"  embeddings {table['name']}: {table['n_neurons']} neurons{_of_table(table)}{_silent(table)}"
             f"{_made_during(table)}, model {table['model_sha256']} (created {table['created']})"
             for table in summary["embeddings"]]
    lines.extend(f"  predictions {table['name']}: {table['label']} of {table['n_neurons']} neurons"
                 f"{_of_table(table)} by a {table['probe']} probe, model {table['model_sha256']}"
                 for table in summary["predictions"])
    return lines


def _made_during(table: dict[str, Any]) -> str:
    """`` during epochs:stage=NREM``: the time an embedding table's vectors were made from, when --during chose it."""
    return f" during {table['during']}" if table.get("during") else ""


def _of_table(table: dict[str, Any]) -> str:
    """`` of /<neuron table>``: whose neurons one of our tables holds (another plane's, another units table's)."""
    return f" of /{table['neuron_table']}" if table.get("neuron_table") else ""


__all__ = ["register"]

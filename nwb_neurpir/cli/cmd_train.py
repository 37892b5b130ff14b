"""`neurpir train`: fit a NeurPIR model on NWB sources and save it as a model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

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
    Threads,
    UnitFilter,
)

if TYPE_CHECKING:
    from nwb_neurpir.workflows.training import TrainingReport

__all__ = ["register"]


def _done(report: TrainingReport) -> str:
    """What this run trained (all the steps, the steps after the checkpoint it resumed from, or none) and the steps
    of the model."""
    early = " (stopped early)" if report.stopped_early else ""
    if report.resumed_from_step is None:
        return f"trained {report.steps} steps{early}"
    done = (f"resumed at step {report.resumed_from_step}, trained {report.steps_this_run} more"
            if report.steps_this_run else "already complete, 0 steps trained in this run")
    return f"{done}: {report.steps} of {report.max_steps} steps{early}"


def register(app: typer.Typer) -> None:
    """Add `train` to the app."""

    @app.command("train", cls=OneSeries)
    def train(
        sources: Sources,
        out: Annotated[Path, typer.Option("--out", help=(
            "Model folder to write (checkpoints go inside): new, empty, or a model folder whose checkpoint to "
            "continue (the settings not given keep the checkpoint's). A model folder without a checkpoint is "
            "refused, never replaced, unless --no-resume."))],
        config_file: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--config", help="JSON file with NeurPIRConfig fields (see nwb_neurpir.model.NeurPIRConfig).")] = None,
        settings: Annotated[Optional[list[str]], typer.Option(  # noqa: UP007
            "--set", metavar="KEY=VALUE", show_default=False,
            help="Set one NeurPIRConfig field, e.g. --set context_iterations=50 (repeatable); over --config, "
                 "under --max-steps, --batch-size, --context, --covariates, --seed and --threads.")] = None,
        max_steps: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--max-steps", help="Training steps (default: 400 for spikes, 1600 for calcium, or the --config value; a model folder being "
                                "resumed keeps its own). "
                                "A larger value on a finished "
                                "model folder extends its training, but the learning-rate schedule follows "
                                "--max-steps: the model differs from one trained that long from the start "
                                "(model.json lists each run).")] = None,
        batch_size: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--batch-size", help="Neurons per step, split over 2 recordings (default: 256, or the --config value).")] = None,
        context: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--context", help="cebra or none (default: cebra, or the --config value).")] = None,
        covariates: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--covariates", metavar="NAMES", help=(
                "The covariates the CEBRA context reads, comma-separated names or shell patterns as `neurpir "
                "inspect` lists them, e.g. 'trials/contrast_*,behavior/Position/position' (default: all; "
                "context_covariates in --config).")
        )] = None,
        seed: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--seed", help="Random seed (default: 0, or the --config value).")] = None,
        threads: Threads = None,
        init_from: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--init-from", metavar="MODEL", help=(
                "Fine-tune the model folder MODEL on SOURCES into the new folder --out: start from its encoder "
                "weights with its CEBRA context (frozen) and the settings that define its vectors (modality, bin "
                "size, covariates, architecture), a new optimizer and step count; its other settings apply unless "
                "given (--max-steps ...). The new model records MODEL (sha256, training data)."))] = None,
        resume: Annotated[bool, typer.Option(
            "--resume/--no-resume", help="Continue from the last complete checkpoint in --out (--no-resume trains "
                                         "again from scratch and replaces a model there).")] = True,
        progress: Progress = None,
        as_json: JsonOutput = False,
        glob: Glob = None,
        modality: Modality = "auto",
        unit_filter: UnitFilter = None,
        series: Series = None,
        during: During = None,
        bin_size: BinSize = None,
        cache_dir: CacheDir = None,
    ) -> None:
        """Train NeurPIR (CEBRA context + population-context neuron encoder) on all SOURCES together; runs under
        torchrun too (rank 0 saves the model and prints the summary).

        The weights depend on the order of the recordings (as SOURCES name them, a folder's files sorted by path;
        the model's training_data lists them in that order) and on --threads: the same sources, seed and thread count
        on one machine train the same weights, another order or count slightly different ones. Ctrl-C (SIGINT) or
        SIGTERM during the training steps saves a checkpoint of the step reached and exits with 130 or 143; the same
        command resumes.

        Example: neurpir train ../shared/data/steinmetz2019-nwb --out model --max-steps 1500
        """
        from nwb_neurpir.workflows.training import check_out, train_sources

        check_out(out, resume)
        from nwb_neurpir.model.config import NeurPIRConfig

        given = NeurPIRConfig.given_values(config_file, settings or [], max_steps=max_steps, batch_size=batch_size,
                                           context=context, context_covariates=covariates, seed=seed,
                                           num_threads=threads)
        NeurPIRConfig.from_dict(given, None if config_file is None else str(config_file))  # a bad value fails here
        report = train_sources(sources, given, out, init_from=init_from, glob=glob, resume=resume, progress=progress,
                               cache_dir=cache_dir, modality=modality, unit_filter=unit_filter, bin_size=bin_size,
                               series=series, during=during)
        if report is None:
            return
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
            return
        recordings = f"{report.recordings} recording{'s' if report.recordings != 1 else ''}"
        typer.echo(f"{_done(report)} on {recordings} "
                   f"({report.train_neurons} + {report.held_out_neurons} held-out neurons); "
                   f"context: {', '.join(report.context) or 'none'}")
        typer.echo(f"model: {out} (sha256 {report.sha256[:16]}…)")
        if report.initialized_from:
            checksum = f"sha256 {report.initialized_from[:16]}…"  # resumed without --init-from: the checksum alone
            typer.echo(f"fine-tuned from: {checksum if init_from is None else f'{init_from} ({checksum})'}")

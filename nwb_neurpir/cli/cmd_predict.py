"""`neurpir predict`: fit a label probe on annotated, labelled files (or load one kept beside the model) and write
each neuron's predicted label and class probabilities into other files or sidecars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nwb_neurpir.cli.options import (
    GROUPING_HELP,
    LABEL_VALUES,
    LABELS_HELP,
    CacheDir,
    During,
    EmbedThreads,
    Glob,
    JsonOutput,
    LockTimeout,
    ModelFolder,
    OneSeries,
    Progress,
    Series,
    Sources,
    UnitFilter,
)
from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.workflows.prediction import PredictOutcome

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `predict` to the app."""

    @app.command("predict", cls=OneSeries)
    def predict(
        model_dir: ModelFolder,
        sources: Sources,
        fit_on: Annotated[Optional[list[str]], typer.Option(  # noqa: UP007
            "--fit-on", help="Annotated, labelled files or folders to fit the probe on (repeat the option); "
                             "without it, the probe saved beside the model for --label/--grouping is used.")] = None,
        label: Annotated[str, typer.Option("--label", help=f"Neuron column to predict. {LABEL_VALUES}")] = "cell_type",
        labels: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--labels", help=f"With --fit-on: {LABELS_HELP}")] = None,
        grouping: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--grouping", help=GROUPING_HELP)] = None,
        probe_kind: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--probe", help="With --fit-on: logistic or knn [default: logistic].")] = None,
        probe_inputs: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--inputs", help="With --fit-on: what the probe reads, neurpir+hand (the vectors and the neurons' hand "
                             "features, by late fusion) or neurpir (the vectors alone) [default: neurpir+hand].")]
        = None,
        probe_dir: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--probe-dir", help="Where the probe is saved / read (default MODEL_DIR/probes/<label>[-<grouping>]).")]
        = None,
        name: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--name", help="Name of the predictions table (default predicted_<label>).")] = None,
        embeddings: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--embeddings", help="Which embedding table of the model to read, in --fit-on files and in SOURCES, "
                                 "when a file has several (annotate --name) [default: the only one made by "
                                 "the model, else NeurPIREmbeddings]; in a source without the model's, the "
                                 "name its new embeddings get (keeps another model's NeurPIREmbeddings).")]
        = None,
        output_dir: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--out", "--output-dir", "-o", help="Write annotated copies (or sidecars) here instead of in place.")]
        = None,
        sidecar: Annotated[bool, typer.Option(
            "--sidecar", help="Always write a sidecar NWB file, never touch the source.")] = False,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="Replace predictions, embeddings and sidecars of the same names, and a different "
                                "probe saved where --fit-on saves its own. Without it, the same probe fitted again "
                                "is reused, and files already holding its predictions are left unchanged.")]
        = False,
        glob: Glob = None,
        unit_filter: UnitFilter = None,
        series: Series = None,
        during: During = None,
        cache_dir: CacheDir = None,
        lock_timeout: LockTimeout = 120.0,
        progress: Progress = None,
        as_json: JsonOutput = False,
        threads: EmbedThreads = 0,
    ) -> None:
        """Predict a label (cell type, brain area) for every neuron of SOURCES from its embedding (and, by default,
        its hand features: --inputs) and store the label and class probabilities in the file (NeuronPredictions), in
        a copy with --out, or in a sidecar for DANDI assets and (without --out) read-only files. Every neuron gets
        one of the probe's classes, except neurons without activity, which are left unpredicted.

        Example: neurpir predict model ../shared/data/steinmetz2019-nwb/sub-Hench --fit-on annotated/sub-Cori
        --fit-on annotated/sub-Forssmann --label brain_area --grouping steinmetz-4region
        """
        from nwb_neurpir.cli.outcomes import print_outcomes
        from nwb_neurpir.workflows.prediction import predict_with_saved_probe

        if labels is not None and not fit_on:
            raise NeurPIRError("--labels needs --fit-on: they label the files the probe is fitted on")
        outcomes = predict_with_saved_probe(
            model_dir, sources, glob, fit_on=fit_on, labels=labels, label=label, grouping=grouping,
            probe_kind=probe_kind,
            probe_inputs=probe_inputs, probe_dir=probe_dir, embeddings=embeddings, name=name,
            sidecar=True if sidecar else None,
            output_dir=output_dir, overwrite=overwrite, cache_dir=cache_dir, unit_filter=unit_filter,
            series=series, during=during,
            lock_timeout=lock_timeout,
            num_threads=threads,
            progress=progress and not as_json, say=lambda text: typer.echo(text, err=True))
        print_outcomes(outcomes, "predicted", as_json, where=_where)


def _where(outcome: PredictOutcome) -> str:
    """``path  (CH 12, FS 10, ...; 3 neurons without activity left unpredicted; replaced <tables>)``, or for a file
    left unchanged ``path  (already predicted by this probe: skipped; CH 12, ...)``."""
    said = [", ".join(f"{key} {value}" for key, value in outcome.counts.items())]
    if outcome.status == "unchanged":
        said.insert(0, "already predicted by this probe: skipped")
    if outcome.n_silent:
        said.append(f"{outcome.n_silent} neurons without activity left unpredicted")
    if outcome.replaced:
        said.append(f"replaced {', '.join(outcome.replaced)}")
    return f"{outcome.path}  ({'; '.join(said)})"

"""`neurpir evaluate`: probe a label on animals never seen, NeurPIR against hand-feature baselines, with a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import (
    BinSize,
    CacheDir,
    During,
    GROUPING_HELP,
    Glob,
    JsonOutput,
    LABEL_VALUES,
    LABELS_HELP,
    Modality,
    OneSeries,
    Series,
    Sources,
    Threads,
    UnitFilter,
    choice,
    command_line,
    progress_option,
)
from nwb_neurpir.errors import NeurPIRError

Normalize = Annotated[str, choice(
    "nwb_neurpir.evaluation.normalization:NORMALIZATIONS", "--normalize", help="auto: z-score the vectors within each session, a session too small for it (under 8 "
                        "neurons) with the statistics of all neurons, with a warning (label-free); session: the "
                        "same but refuse when such sessions hold over a quarter of the neurons; centre: as session, "
                        "subtracting each session's mean only; none.")]
"""The normalisation option ``evaluate`` and ``plot`` share (same name, same default ``auto``)."""
PROJECTIONS = "nwb_neurpir.evaluation.plots:PROJECTIONS"
"""The registry of ``--projection`` (``evaluate`` and ``plot``)."""
Progress = Annotated[Optional[bool],  # noqa: UP007
                     progress_option("Show progress bars and status lines (on stderr).")]
_DPI_HELP = "Resolution of {} figures in dots per inch, e.g. 300 for a journal [default: 120]."
Dpi = Annotated[Optional[float], typer.Option("--dpi", help=_DPI_HELP.format("PNG/JPEG"))]  # noqa: UP007
"""The figure resolution option of ``plot`` (rasters: PNG or JPEG)."""
PngDpi = Annotated[Optional[float], typer.Option("--dpi", help=_DPI_HELP.format("the PNG"))]  # noqa: UP007
"""The figure resolution option of ``evaluate`` (its figures are PNG)."""


def _refuse_unused(*, training: bool, model: str | None, max_steps: int | None, threads: int | None,
                   transductive: bool, ablations: bool, methods: str | None, embeddings_name: str | None, split: str,
                   folds: int | None, out: Path | None, no_plots: bool, projection: str | None,
                   dpi: float | None) -> None:
    """A one-line error for an option that would change nothing with the others given."""
    unused = [(max_steps is not None and not training, "--max-steps needs --train or --train-config"),
              (threads is not None and not training and model is None,
               "--threads needs --model, --train or --train-config"),
              (transductive and not training, "--transductive needs --train or --train-config"),
              (ablations and not training, "--ablations needs --train or --train-config"),
              (ablations and methods is not None,
               "--ablations adds the ablations to the default methods; with --methods name them there"),
              (embeddings_name is not None and (training or model is not None),
               "--embeddings picks a table of annotated files; it does nothing with --model or --train"),
              (folds is not None and split != "kfold", "--folds needs --split kfold"),
              (projection is not None and (out is None or no_plots), "--projection needs --out and figures"),
              (dpi is not None and (out is None or no_plots), "--dpi needs --out and figures")]
    for happens, message in unused:
        if happens:
            raise NeurPIRError(message)


def _refuse_probe_options(*, split: str, probe: str, normalize: str, seed: int | None,
                          projection: str | None) -> None:
    """Without --label no probe runs: a one-line error for an option that only shapes the probes or their figure."""
    given = [name for name, happens in (("--split", split != "animal"), ("--probe", probe != "logistic"),
                                        ("--normalize", normalize != "auto"), ("--seed", seed is not None),
                                        ("--projection", projection is not None)) if happens]
    if given:
        raise NeurPIRError(f"{given[0]} shapes the probes of --label; with --match-column alone no probe runs")


def _named_vectors(specs: list[str]) -> dict[str, Path]:
    """``--vectors NAME=PATH`` options as name -> path (a spec without ``=``, or a name given twice, is refused)."""
    named: dict[str, Path] = {}
    for spec in specs:
        name, sign, path = spec.partition("=")
        if not sign or not name.strip() or not path.strip():
            raise NeurPIRError(f"--vectors {spec!r}: give NAME=PATH, e.g. --vectors mymethod=vectors.csv")
        if name.strip() in named:
            raise NeurPIRError(f"--vectors names {name.strip()!r} twice")
        named[name.strip()] = Path(path.strip())
    return named


class _OneSeriesOneModel(OneSeries):
    """``evaluate``: one ``--series`` and one ``--model`` (its method rows, modes and report describe one model)."""

    once = {**OneSeries.once, "--model": "a run scores one model as method neurpir: compare another by embedding "
                                        "the files with it (neurpir embed MODEL FILES --out NAME.npz) and adding "
                                        "--vectors NAME=NAME.npz, or evaluate each model in its own run"}


def register(app: typer.Typer) -> None:
    """Add `evaluate` to the app."""

    @app.command("evaluate", cls=_OneSeriesOneModel)
    def evaluate(
        sources: Sources,
        label: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--label", help="Neuron column to predict, e.g. cell_type, brain_area, location. "
                            f"{LABEL_VALUES} Needed unless --match-column is given.")] = None,
        match_column: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--match-column", help="Neuron column tracking units across an animal's recordings (same value = same "
                                   "neuron, e.g. tracked_unit): report, per method, whether a neuron's nearest "
                                   "vector in another recording is its partner (top-1, rank, cosine, chance). "
                                   "Empty values, and values shared within a file, are skipped. Needs no --label.")
        ] = None,
        grouping: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--grouping", help=GROUPING_HELP)] = None,
        labels: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--labels", help=LABELS_HELP)] = None,
        vectors: Annotated[Optional[list[str]], typer.Option(  # noqa: UP007
            "--vectors", help="NAME=PATH: another method's per-neuron vectors, scored as method NAME (and NAME:gb, "
                              "NAME+hand... in --methods) on the same folds beside NeurPIR and the hand features; "
                              "repeat for several. PATH: a .csv/.tsv/.parquet table with a recording key (file, "
                              "else identifier, else session_id; subject_id matched too if present), neuron_id, and "
                              "the vector as every other column (numeric), or an .npz of arrays neuron_id, vectors "
                              "(n x dim) and one key array; or what `neurpir embed --out` writes (.npz or .csv: "
                              "each fold is then inductive or transductive as with --model). Neurons it lacks are "
                              "left out of every method.")
        ] = None,
        split: Annotated[str, choice("nwb_neurpir.evaluation.splits:SPLITS", "--split",
                                     help="animal (leave one animal out), session (leave one session out, every "
                                          "file of it together: two spike sortings), or kfold. An animal is a "
                                          "file's /general/subject/subject_id (one file is one animal); a file "
                                          "without one is an animal of its own, named (<session id>).")]
        = "animal",
        model: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--model", help="A trained model folder: embed every source with it. Given once: score another "
                            "model beside it with --vectors NAME=x.npz, x.npz from `neurpir embed MODEL ... --out "
                            "x.npz`.")] = None,
        train: Annotated[bool, typer.Option(
            "--train", help="Train NeurPIR per fold without the test animal (inductive), with the default "
                            "config or --train-config: one model per fold, which can take long (lower "
                            "--max-steps, and context_iterations in --train-config: CEBRA's fit).")] = False,
        train_config: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--train-config", help="JSON NeurPIRConfig for --train (implies --train).")] = None,
        max_steps: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--max-steps", help="With --train: override max_steps of the training config [default: the config's]."
        )] = None,
        threads: Threads = None,
        transductive: Annotated[bool, typer.Option(
            "--transductive", help="With --train: train once on all sources (the published protocol).")] = False,
        ablations: Annotated[bool, typer.Option(
            "--ablations", help="With --train: also train NeurPIR's ablations per fold (the neurpir-* methods "
                                "besides neurpir; the paper's protocol), one model each.")] = False,
        methods: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--methods", help="Comma-separated REPRESENTATION[:PROBE], e.g. neurpir,neurpir-untrained,"
                              "neurpir-neighbours,hand,hand:gb,hand-pca,neurpir+hand [default: all the inputs allow]. "
                              "hand baselines alone need no model or embeddings.")] = None,
        probe: Annotated[str, choice("nwb_neurpir.evaluation.probes:PROBES", "--probe",
                                     help="Default probe: logistic, knn, mlp or gb.")] = "logistic",
        normalize: Normalize = "auto",
        folds: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--folds", help="Number of folds for --split kfold [default: 5].")] = None,
        held_out: Annotated[Optional[list[str]], typer.Option(  # noqa: UP007
            "--held-out", help="Score only the fold that holds out this animal (a session with --split session), "
                               "e.g. the animal a --model never saw; repeat for several [default: every fold].")
        ] = None,
        embeddings_name: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--embeddings", help="Which embedding table of annotated files (when a file has several).")] = None,
        out: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--out", help="Report folder: report.json, report.md, predictions.csv, umap.png, "
                          "confusion.png (stability.png with --match-column); one that already holds any of these "
                          "needs --overwrite.")] = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="Replace the report files already in --out.")] = False,
        no_plots: Annotated[bool, typer.Option("--no-plots", help="With --out: skip the PNG figures.")] = False,
        dpi: PngDpi = None,
        projection: Annotated[Optional[str], choice(  # noqa: UP007
            PROJECTIONS, "--projection", help="Embedding figure: umap, or pca (instant preview) [default: umap].")] = None,
        seed: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--seed", help="Seed of folds, probes and UMAP [default: 0]; with --train also of the model "
                           "[default: the config's].")] = None,
        glob: Glob = None,
        modality: Modality = "auto",
        unit_filter: UnitFilter = None,
        series: Series = None,
        during: During = None,
        bin_size: BinSize = None,
        cache_dir: CacheDir = None,
        progress: Progress = None,
        as_json: JsonOutput = False,
    ) -> None:
        """Evaluate per-neuron vectors: NeurPIR (annotated files, --model, or --train) against hand features.

        Example: neurpir evaluate ../shared/data/steinmetz2019-nwb --label brain_area --grouping steinmetz-4region
        --train --methods neurpir,hand --out report/

        Chronic recordings: neurpir evaluate data/ --model model/ --match-column tracked_unit --out stability/
        """
        from nwb_neurpir.evaluation import format_table
        from nwb_neurpir.evaluation.methods import split_methods
        from nwb_neurpir.workflows.evaluation import evaluate_sources
        from nwb_neurpir.model.config import NeurPIRConfig

        if model is not None and (train or train_config is not None):
            raise NeurPIRError("give either --model or --train/--train-config, not both")
        training = train or train_config is not None
        _refuse_unused(training=training, model=model, max_steps=max_steps, threads=threads,
                       transductive=transductive, ablations=ablations, methods=methods,
                       embeddings_name=embeddings_name, split=split, folds=folds, out=out, no_plots=no_plots,
                       projection=projection, dpi=dpi)
        if label is None:
            _refuse_probe_options(split=split, probe=probe, normalize=normalize, seed=seed, projection=projection)
        options = dict(label=label, match_column=match_column, grouping=grouping, split=split, probe=probe,
                       normalize=normalize, n_splits=folds or 5, seed=seed or 0, held_out=held_out,
                       progress=progress and not as_json, methods=split_methods(methods) if methods else None,
                       ablations=ablations)
        run = evaluate_sources(sources, glob=glob, cache_dir=cache_dir, unit_filter=unit_filter, bin_size=bin_size,
                               series=series, during=during, modality=modality,
                               model=model,
                               num_threads=threads or 0,
                               config=(NeurPIRConfig.from_file(train_config, max_steps=max_steps, seed=seed,
                                                               num_threads=threads)
                                       if training else None),
                               transductive=transductive, embeddings_name=embeddings_name, report_dir=out,
                               overwrite=overwrite,
                               plots=not no_plots, projection=projection or "umap",
                               **({} if dpi is None else {"dpi": dpi}),
                               command=command_line(), labels=labels, vectors=_named_vectors(vectors or []),
                               **options)
        if as_json:
            typer.echo(json.dumps(run.to_dict(), indent=2, default=float))
            return
        typer.echo(format_table(run.result))
        for path in run.written.values():
            typer.echo(f"wrote {path}")

__all__ = ["PROJECTIONS", "Dpi", "Normalize", "Progress", "register"]

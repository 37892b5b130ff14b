"""`neurpir evaluate`: probe a label on animals never seen, NeurPIR against hand-feature baselines, with a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import CacheDir, Glob, JsonOutput, Sources, UnitFilter
from nwb_neurpir.errors import NeurPIRError

_SPLITS = ("animal", "session", "kfold")


def _read_config(path: Path | None, max_steps: int | None, seed: int | None):  # noqa: ANN202 - NeurPIRConfig
    import dataclasses

    from nwb_neurpir.model import NeurPIRConfig

    config = NeurPIRConfig() if path is None else NeurPIRConfig.from_json(path.read_text(encoding="utf-8"), str(path))
    overrides = {key: value for key, value in (("max_steps", max_steps), ("seed", seed)) if value is not None}
    return dataclasses.replace(config, **overrides)


def register(app: typer.Typer) -> None:
    """Add `evaluate` to the app."""

    @app.command("evaluate")
    def evaluate(
        sources: Sources,
        label: Annotated[str, typer.Option("--label", help="Neuron column to predict, e.g. cell_type, brain_area, "
                                                           "location.")],
        grouping: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--grouping", help="Preset (steinmetz-4region) or a YAML/JSON file mapping group -> label values; "
                               "other values are dropped.")] = None,
        split: Annotated[str, typer.Option("--split", help="animal (leave one animal out), session, or kfold.")]
        = "animal",
        model: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--model", help="A trained model folder: embed every source with it.")] = None,
        train: Annotated[bool, typer.Option(
            "--train", help="Train NeurPIR per fold without the test animal (inductive), with the default "
                            "config or --train-config.")] = False,
        train_config: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--train-config", help="JSON NeurPIRConfig for --train.")] = None,
        max_steps: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--max-steps", help="Override max_steps of the training config.")] = None,
        transductive: Annotated[bool, typer.Option(
            "--transductive", help="With --train: train once on all sources (the published protocol).")] = False,
        methods: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--methods", help="Comma-separated REPRESENTATION[:PROBE], e.g. neurpir,neurpir-untrained,hand,hand:gb,"
                              "hand-pca (default: all the inputs allow).")] = None,
        probe: Annotated[str, typer.Option("--probe", help="Default probe: logistic, knn, mlp or gb.")] = "logistic",
        normalize: Annotated[str, typer.Option(
            "--normalize", help="session (z-score every representation within each session before the probe) or "
                                "none.")] = "session",
        folds: Annotated[int, typer.Option("--folds", help="Number of folds for --split kfold.")] = 5,
        embeddings_name: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--embeddings", help="Which embedding table of annotated files (when a file has several).")] = None,
        out: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--out", help="Report folder: report.json, report.md, umap.png, confusion.png.")] = None,
        no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG figures.")] = False,
        projection: Annotated[str, typer.Option(
            "--projection", help="Embedding figure: umap, or pca (instant preview).")] = "umap",
        seed: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--seed", help="Seed of folds, probes and UMAP (default 0); with --train also of the model.")] = None,
        glob: Glob = None,
        unit_filter: UnitFilter = None,
        cache_dir: CacheDir = None,
        as_json: JsonOutput = False,
    ) -> None:
        """Evaluate per-neuron vectors: NeurPIR (annotated files, --model, or --train) against hand features.

        Example: neurpir evaluate ../shared/data/steinmetz2019-nwb --label brain_area --grouping steinmetz-4region
        --train --out report/
        """
        from nwb_neurpir.evaluation import evaluate_annotated, evaluate_recordings, format_table, write_report

        if split not in _SPLITS:
            raise NeurPIRError(f"--split must be one of {', '.join(_SPLITS)}, not {split!r}")
        if model is not None and (train or train_config is not None):
            raise NeurPIRError("give either --model or --train/--train-config, not both")
        options = dict(label=label, grouping=grouping, split=split, probe=probe, normalize=normalize,
                       n_splits=folds, seed=seed or 0, progress=not as_json,
                       methods=[m for m in methods.split(",") if m.strip()] if methods else None)
        reader = {"unit_filter": unit_filter}
        if model is not None or train or train_config is not None:
            result = evaluate_recordings(
                sources, glob=glob, cache_dir=cache_dir, reader_kwargs=reader, model_dir=model,
                config=_read_config(train_config, max_steps, seed) if model is None else None,
                protocol="transductive" if transductive else None, **options)
        else:
            from nwb_neurpir.evaluation.inputs import local_paths
            from nwb_neurpir.sources import resolve_sources

            paths = local_paths(resolve_sources(sources, glob, cache_dir=cache_dir))
            result = evaluate_annotated(paths, name=embeddings_name, reader_kwargs=reader, **options)
        written = write_report(result, out, plots=not no_plots, projection=projection) if out is not None else {}
        if as_json:
            payload = result.to_dict()
            payload["written"] = {key: str(path) for key, path in written.items()}
            typer.echo(json.dumps(payload, indent=2, default=float))
            return
        typer.echo(format_table(result))
        for path in written.values():
            typer.echo(f"wrote {path}")


__all__ = ["register"]

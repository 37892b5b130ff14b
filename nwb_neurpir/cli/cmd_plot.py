"""`neurpir plot`: UMAP of the embeddings in annotated NWB files, coloured by a label and by animal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.cmd_evaluate import Normalize, Progress
from nwb_neurpir.cli.options import CacheDir, Glob, JsonOutput, Sources, UnitFilter


def register(app: typer.Typer) -> None:
    """Add `plot` to the app."""

    @app.command("plot")
    def plot(
        sources: Sources,
        label: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--label", help="Neuron column to colour by [default: cell_type, brain_area or location, the first "
                            "present].")] = None,
        grouping: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--grouping", help="Preset (steinmetz-4region) or YAML/JSON file grouping the label values.")] = None,
        embeddings_name: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--embeddings", help="Which embedding table (when a file has several).")] = None,
        out: Annotated[Path, typer.Option("--out", help="PNG file to write.")] = Path("umap.png"),
        seed: Annotated[int, typer.Option("--seed", help="UMAP random seed.")] = 0,
        projection: Annotated[str, typer.Option(
            "--projection", help="umap, or pca (instant preview).")] = "umap",
        normalize: Normalize = "auto",
        glob: Glob = None,
        unit_filter: UnitFilter = None,
        cache_dir: CacheDir = None,
        progress: Progress = True,
        as_json: JsonOutput = False,
    ) -> None:
        """Draw a UMAP of annotated files' embeddings: one panel by label, one by animal (do animals mix?).

        The vectors are normalised as `neurpir evaluate` does before its probe (--normalize, same default).

        Example: neurpir plot neurpir-demo/data --label cell_type --out umap.png
        """
        from nwb_neurpir.evaluation import load_grouping, read_annotated
        from nwb_neurpir.evaluation.inputs import annotated_view, local_paths
        from nwb_neurpir.evaluation.plots import plot_embeddings
        from nwb_neurpir.io.access import DataAccess
        from nwb_neurpir.io.resolve import resolve_sources

        table = read_annotated(local_paths(resolve_sources(sources, glob, access=DataAccess(cache_dir=cache_dir))),
                               embeddings_name)
        view = annotated_view(table, label, load_grouping(grouping), normalize=normalize, unit_filter=unit_filter)
        if progress and not as_json:
            typer.echo(f"drawing a {projection.upper()} of {len(view.labels)} neurons ...", err=True)
        written = plot_embeddings(view, out, seed=seed, projection=projection)
        if as_json:
            typer.echo(json.dumps({"written": str(written), "n_neurons": int(len(view.labels)),
                                   "label": view.label_name, "normalization": view.normalization,
                                   "title": view.title}, indent=2))
            return
        typer.echo(f"wrote {written} ({len(view.labels)} neurons)")


__all__ = ["register"]

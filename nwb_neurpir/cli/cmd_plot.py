"""`neurpir plot`: UMAP of the embeddings in annotated NWB files, coloured by a label and by animal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.cmd_evaluate import PROJECTIONS, Dpi, Normalize, Progress
from nwb_neurpir.cli.options import GROUPING_HELP, Glob, JsonOutput, Sources, choice


PlotFilter = Annotated[Optional[str], typer.Option(  # noqa: UP007
    "--filter", help="Draw only the neurons matching this expression on their columns, e.g. 'quality == \"good\"'; "
                     "their vectors are those stored (plot embeds nothing).")]


def register(app: typer.Typer) -> None:
    """Add `plot` to the app."""

    @app.command("plot")
    def plot(
        sources: Sources,
        label: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--label", help="Neuron column to colour by [default: cell_type, brain_area or location, the first "
                            "present].")] = None,
        grouping: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--grouping", help=GROUPING_HELP)] = None,
        embeddings_name: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--embeddings", help="Which embedding table (when a file has several).")] = None,
        out: Annotated[Path, typer.Option(
            "--out", help="Figure to write: .png, .svg, .pdf or .jpg (the suffix picks the format).")
        ] = Path("umap.png"),
        dpi: Dpi = None,
        seed: Annotated[int, typer.Option("--seed", help="UMAP random seed.")] = 0,
        projection: Annotated[str, choice(
            PROJECTIONS, "--projection", help="umap, or pca (instant preview).")] = "umap",
        palette: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--palette", help='JSON file of name -> colour for classes and animals, e.g. {"TH": "#0072B2"} '
                              "[default: colour-blind-safe colours, the same for a name in every figure].")] = None,
        max_classes: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--max-classes", min=1, help="Values per panel drawn in their own colour; the rest are grey 'other', "
                                         "named in the legend and a warning [default: 12].")] = None,
        normalize: Normalize = "auto",
        glob: Glob = None,
        unit_filter: PlotFilter = None,
        progress: Progress = None,
        as_json: JsonOutput = False,
    ) -> None:
        """Draw a UMAP of annotated files' embeddings: one panel by label, one by animal (do animals mix?).

        The vectors are normalised as `neurpir evaluate` does before its probe (--normalize, same default).

        Example: neurpir plot neurpir-demo/data --label cell_type --out umap.pdf
        """
        from nwb_neurpir.workflows.plotting import plot_annotated

        def status(text: str) -> None:
            if progress and not as_json:
                typer.echo(text, err=True)

        shown = plot_annotated(sources, out, glob=glob, label=label, grouping=grouping,
                               embeddings_name=embeddings_name, normalize=normalize, unit_filter=unit_filter,
                               seed=seed, projection=projection, palette=palette, max_classes=max_classes,
                               say=status, **({} if dpi is None else {"dpi": dpi}))
        if as_json:
            typer.echo(json.dumps(shown.to_dict(), indent=2))
            return
        typer.echo(f"wrote {shown.written} ({len(shown.view.labels)} neurons)")


__all__ = ["register"]

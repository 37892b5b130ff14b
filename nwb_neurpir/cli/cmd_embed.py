"""`neurpir embed`: one vector per neuron from a trained model, to a .npz, .csv or .tsv file or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import (
    CacheDir,
    During,
    EmbedThreads,
    Glob,
    JsonOutput,
    ModelFolder,
    OneSeries,
    Progress,
    Series,
    Sources,
    UnitFilter,
)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `embed` to the app."""

    @app.command("embed", cls=OneSeries)
    def embed(
        model_dir: ModelFolder,
        sources: Sources,
        out: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--out", help=("Write embeddings, neuron ids, sessions and label columns to this .npz file, or to a "
                           ".csv/.tsv table (one row per neuron; its numbers read back exactly). Missing folders "
                           "are made; a place that cannot be written is refused before embedding."))] = None,
        as_json: JsonOutput = False,
        progress: Progress = None,
        glob: Glob = None,
        unit_filter: UnitFilter = None,
        series: Series = None,
        during: During = None,
        cache_dir: CacheDir = None,
        threads: EmbedThreads = 0,
    ) -> None:
        """Embed every neuron of SOURCES with a trained model (read on the model's time grid).

        By default a neuron's vector is made from at most 64 s (spikes) or 600 s (calcium) of its activity, spread
        over the session (the model's embed_max_seconds), while training used the whole recordings. Context inputs of
        the model that a file lacks are set to their training mean, with a warning. Sidecar files among SOURCES are
        skipped.

        Example: neurpir embed model ../shared/data/steinmetz2019-nwb/sub-Cori --out cori.npz
        """
        from tqdm import tqdm

        from nwb_neurpir.workflows.embedding_export import check_output, embed_sources

        if out is not None:
            check_output(out)

        def say(recording, vectors) -> None:  # noqa: ANN001 - a Recording and its vectors
            if not as_json:
                quiet = int(recording.silent().sum())
                tqdm.write(f"{recording.source.label()}: {recording.n_neurons} neurons -> {vectors.shape[1]}-d"
                           + (f" ({quiet} without activity, marked silent)" if quiet else ""))

        embedded = embed_sources(model_dir, sources, glob, cache_dir=cache_dir, unit_filter=unit_filter,
                                 series=series, during=during,
                                 progress=progress, on_recording=say,
                                 num_threads=threads)
        if out is not None:
            embedded.write(out)
            if not as_json:
                typer.echo(f"wrote {out}")
        if as_json:
            typer.echo(json.dumps(embedded.to_dict()))

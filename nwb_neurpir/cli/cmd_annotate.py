"""`neurpir annotate`: embed every neuron with a trained model and store the vectors in NWB."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nwb_neurpir.cli.options import (
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

if TYPE_CHECKING:
    from nwb_neurpir.workflows.annotation import AnnotateOutcome


def register(app: typer.Typer) -> None:
    """Add `annotate` to the app."""

    @app.command("annotate", cls=OneSeries)
    def annotate(
        model_dir: ModelFolder,
        sources: Sources,
        glob: Glob = None,
        output_dir: Annotated[
            Optional[Path],  # noqa: UP007
            typer.Option("--out", "--output-dir", "-o", help=(
                "Write annotated copies here instead of in place, keeping the files' layout below the folder given "
                "(sub-*/...; a file named sub-<subject>_*.nwb goes into sub-<subject>/); sidecars go here too.")),
        ] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace embeddings of the same name.")] = False,
        name: Annotated[str, typer.Option("--name", help="Name of the embeddings table in the file.")] =
            "NeurPIREmbeddings",
        sidecar: Annotated[bool, typer.Option("--sidecar", help=(
            "Always write a small sidecar NWB file, never touch the source. Sidecars are named "
            "sub-<subject>/sub-<subject>_ses-<session>_desc-<name>.nwb (DANDI's layout) and go to --out, else to "
            "./neurpir-sidecars."))] = False,
        lock_timeout: LockTimeout = 120.0,
        unit_filter: UnitFilter = None,
        series: Series = None,
        during: During = None,
        cache_dir: CacheDir = None,
        as_json: JsonOutput = False,
        progress: Progress = None,
        threads: EmbedThreads = 0,
    ) -> None:
        """Write one embedding per neuron into each source: in place (atomic) for local files, into copies with --out,
        as sidecar NWB files for DANDI assets and (without --out) read-only files. Another user's file is not
        replaced in place (it would become yours): use --out or --sidecar for it. Sidecar files among SOURCES are
        skipped. Continues past a failing source and exits 1 if any failed.

        Example: neurpir annotate neurpir-demo/model neurpir-demo/data --overwrite
        """
        from nwb_neurpir.cli.outcomes import print_outcomes
        from nwb_neurpir.workflows.annotation import annotate as annotate_files
        from nwb_neurpir.workflows.model_inputs import load_model_folder

        outcomes = annotate_files(load_model_folder(model_dir, threads), sources, glob, output_dir=output_dir,
                                  overwrite=overwrite, name=name,
                                  sidecar=True if sidecar else None, cache_dir=cache_dir, unit_filter=unit_filter,
                                  series=series, during=during,
                                  lock_timeout=lock_timeout, progress=progress, raise_on_failure=False)
        print_outcomes(outcomes, "annotated", as_json, where=_where)


def _where(outcome: AnnotateOutcome) -> str:
    """The path written, and how many of its neurons have no activity (as ``embed`` says it)."""
    return str(outcome.path) + (f" ({outcome.n_silent} without activity, marked silent)" if outcome.n_silent else "")

"""Options shared by every command that reads data, so SOURCES mean the same thing everywhere; and loading the model
folder that ``embed`` and ``annotate`` take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

SOURCES_HELP = (
    "Local .nwb files, folders (searched recursively), globs, DANDI asset IDs, "
    "DANDI:<dandiset>[/<version>][/<path>] or DANDI/https URLs."
)

Sources = Annotated[list[str], typer.Argument(help=SOURCES_HELP, show_default=False)]
Glob = Annotated[
    Optional[str],  # noqa: UP007
    typer.Option("--glob", help="With a dandiset or folder: only assets whose path matches this glob."),
]
CacheDir = Annotated[
    Optional[Path],  # noqa: UP007
    typer.Option("--cache-dir", help="Where streamed DANDI data is cached (default: the user cache dir)."),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
Modality = Annotated[
    str, typer.Option("--modality", help="auto (units if present, else calcium ROIs), spikes or ophys.")
]
UnitFilter = Annotated[
    Optional[str],  # noqa: UP007
    typer.Option("--filter", help="Keep only neurons matching this expression on their columns, "
                                  "e.g. 'quality == \"good\"'."),
]
BinSize = Annotated[
    Optional[float],  # noqa: UP007
    typer.Option("--bin-size", help="Bin size in seconds (default: 0.01 for spikes, the frame period for calcium)."),
]
Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")]


def load_model(model_dir: Path):  # noqa: ANN201 - a NeurPIR, imported lazily (torch)
    """The model in ``model_dir``; a missing folder or a file is named as such, before the manifest is looked at."""
    from nwb_neurpir.errors import NeurPIRError
    from nwb_neurpir.model import NeurPIR

    if not model_dir.exists():
        raise NeurPIRError("model folder not found", model_dir)
    if not model_dir.is_dir():
        raise NeurPIRError("is a file, not a model folder written by `neurpir train`", model_dir)
    return NeurPIR.load(model_dir)

"""Options shared by every command that reads data, so SOURCES mean the same thing everywhere."""

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


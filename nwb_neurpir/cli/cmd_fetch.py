"""`neurpir fetch`: download remote NWB files (DANDI assets, URLs) into the cache as whole, verified files."""

from __future__ import annotations

import json

import typer

from nwb_neurpir.cli.options import CacheDir, Glob, JsonOutput, Progress, Sources

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `fetch` to the app."""

    @app.command("fetch")
    def fetch(sources: Sources, glob: Glob = None, cache_dir: CacheDir = None, as_json: JsonOutput = False,
              progress: Progress = None) -> None:
        """Download DANDI assets and URLs into the cache (checked against the archive's digest); local files are
        listed as they are. Later commands given the same asset IDs or download URLs then read the cached copies
        without the network; a DANDI:<dandiset>/<path> source still asks the archive which asset the path names.

        The DANDI API is NEURPIR_DANDI_API_URL (default: the public archive); the cache is --cache-dir or
        NEURPIR_CACHE_DIR, bounded by NEURPIR_CACHE_MAX_BYTES (default 20GB).

        Example: neurpir fetch DANDI:000021 --glob "sub-7*/sub-*_ses-*.nwb"
        """
        from nwb_neurpir.workflows.fetching import fetch_files

        rows = []
        for row in fetch_files(sources, glob, cache_dir=cache_dir, progress=progress):
            rows.append(row)
            if not as_json:
                typer.echo(f"{row['status']:<10} {row['size'] / 1e6:9.1f} MB  {row['source']}  ->  {row['path']}")
        if as_json:
            typer.echo(json.dumps(rows, indent=2))

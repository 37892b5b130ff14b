"""``fetch_files``: remote NWB files (DANDI assets, URLs) downloaded into the cache as whole, verified files, one row per
file as it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["fetch_files"]


def fetch_files(sources: list[str], glob: str | None = None, *, cache_dir: str | Path | None = None,
                progress: bool = True) -> Iterator[dict[str, Any]]:
    """Per file the sources name: its label, ``status`` (as ``nwb_neurpir.io.fetch_sources`` reports it), local
    ``path`` and ``size``, bytes downloaded, and its DANDI identity (None for local files and plain URLs)."""
    from nwb_neurpir.io import fetch_sources
    from nwb_neurpir.io.access import DataAccess

    for fetched in fetch_sources(sources, glob, access=DataAccess(cache_dir=cache_dir), progress=progress):
        info = fetched.source.info
        yield {"source": fetched.source.label(), "status": fetched.status, "path": str(fetched.path),
               "size": fetched.path.stat().st_size, "bytes_downloaded": fetched.bytes_downloaded,
               "dandiset": info.dandiset, "version": info.version, "asset_id": info.asset_id,
               "asset_path": info.asset_path}

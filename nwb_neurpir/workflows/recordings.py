"""``open_recordings``: NWB sources (files, folders, globs, DANDI) read into a list of ``Recording`` objects."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nwb_neurpir.recording import Recording

__all__ = ["as_recordings", "open_recordings"]


def open_recordings(sources: str | Path | Iterable[str | Path], glob: str | None = None, *, progress: bool = True,
                    **options: Any) -> list[Recording]:
    """Read every NWB file the sources name, one ``Recording`` per session (binned activity, neuron ids, labels).

    ``sources`` are local files, folders (searched recursively), globs, DANDI asset IDs, ``DANDI:<dandiset>/<path>``
    or URLs (streamed and cached); ``glob`` filters folders and dandisets. ``options`` go to the reader and to
    ``nwb_neurpir.io.open_recordings`` (``modality``, ``unit_filter``, ``bin_size``, ``cache_dir``, ...).

    >>> import nwb_neurpir as npir
    >>> recordings = npir.open_recordings(["sim/sub-sim01", "sim/sub-sim02"])   # doctest: +SKIP
    >>> recordings[0].n_neurons, recordings[0].subject_id                       # doctest: +SKIP
    (250, 'sim01')
    """
    from nwb_neurpir.io import open_recordings as read_all
    from nwb_neurpir.io.access import DataAccess

    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    access = DataAccess(cache_dir=options.pop("cache_dir", None))
    return list(read_all(items, glob, access=access, progress=progress, **options))


def as_recordings(items: Any, *, progress: bool = True, **options: Any) -> list[Recording]:  # noqa: ANN401
    """``items`` as a list of recordings: a ``Recording`` or a list of them passes through; sources are read. Anything
    else, or a list holding anything else (numbers, arrays), is a ``TypeError``."""
    from nwb_neurpir.recording import Recording

    if isinstance(items, Recording):
        return [items]
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    elif isinstance(items, Iterable):
        items = list(items)
    else:
        raise _not_sources(items)
    if all(isinstance(item, Recording) for item in items):
        return items
    if any(isinstance(item, Recording) for item in items):
        raise TypeError("give either recordings or sources, not a mix of both")
    strange = [item for item in items if not isinstance(item, (str, os.PathLike))]
    if strange:
        raise _not_sources(strange[0])
    return open_recordings([item if isinstance(item, str) else Path(item) for item in items], progress=progress,
                           **options)


def _not_sources(value: Any) -> TypeError:  # noqa: ANN401 - what was given instead of a source
    return TypeError(f"expected sources (paths, folders, DANDI asset IDs or URLs) or Recording objects, not "
                     f"{type(value).__name__}")

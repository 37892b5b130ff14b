"""``open_recordings``: NWB sources (files, folders, globs, DANDI) read into a list of ``Recording`` objects."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from nwb_neurpir.renamed import accepts_ophys_series

if TYPE_CHECKING:
    from nwb_neurpir.recording import Recording

__all__ = ["NWBFileLike", "RecordingsOrSources", "Source", "Sources", "as_recordings", "given_recordings",
           "open_recordings", "recordings_or_sources", "source_items"]


class NWBFileLike(Protocol):
    """A pynwb ``NWBFile`` as type checkers see it: pynwb has no type information (mypy takes its classes as
    ``Any``, which would let anything pass as a source), so an object with a ``container_source`` matches;
    ``source_items`` checks at run time that it is an ``NWBFile`` read from a local file."""

    @property
    def container_source(self) -> object: ...


Source: TypeAlias = "str | os.PathLike[str] | NWBFileLike"
"""One source: a path (``str`` or path-like) to a file or folder, a glob, a DANDI asset ID, ``DANDI:<dandiset>/<path>``
or URL (``str``), or a pynwb ``NWBFile`` read from a local file."""

Sources: TypeAlias = "Source | Iterable[Source]"
"""What the API takes as sources: one source or an iterable of them (``source_items``)."""

RecordingsOrSources: TypeAlias = "Recording | Iterable[Recording] | Sources"
"""What ``NeurPIR.fit``/``transform`` and ``evaluate`` take: recordings read already, or sources to read
(``recordings_or_sources``)."""


@accepts_ophys_series
def open_recordings(sources: Sources, glob: str | None = None, *, progress: bool | None = None,
                    **options: Any) -> list[Recording]:  # noqa: ANN401 - the reader's options
    """Read every NWB file the sources name, one ``Recording`` per session (binned activity, neuron ids, labels).

    ``sources`` are local files, folders (searched recursively), globs, DANDI asset IDs, ``DANDI:<dandiset>/<path>``
    or URLs (streamed and cached), or pynwb ``NWBFile`` objects read from local files (see ``source_items``);
    ``glob`` filters folders and dandisets. ``options`` go to the reader and to ``nwb_neurpir.io.open_recordings``
    (``modality``, ``unit_filter``, ``series`` -- ``--series``: the calcium traces or the units table, by name or
    path --, ``bin_size``, ``time_range=(start, stop)`` in seconds, ``cache_dir``, ...). ``progress``: a bar on
    stderr; None, as in every call of the API, draws it unless ``NEURPIR_PROGRESS=0`` (or ``TQDM_DISABLE=1``).

    >>> import nwb_neurpir as npir
    >>> recordings = npir.open_recordings(["sim/sub-sim01", "sim/sub-sim02"])   # doctest: +SKIP
    >>> recordings[0].n_neurons, recordings[0].subject_id                       # doctest: +SKIP
    (250, 'sim01')
    """
    from nwb_neurpir.io import open_recordings as read_all
    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.progress import progress_or_environment

    access = DataAccess(cache_dir=options.pop("cache_dir", None))
    return list(read_all(source_items(sources), glob, access=access, progress=progress_or_environment(progress),
                         **options))


def source_items(sources: Sources) -> list[str | Path]:
    """``sources`` as a list of sources: one source or an iterable of them, each a path (``str`` or path-like), a
    DANDI asset ID or URL (``str``), or a pynwb ``NWBFile`` read from a local file, which stands for that file (a
    notebook's open ``nwbfile`` can be given as it is). Anything else -- numbers, arrays, an ``NWBFile`` built in
    memory or streamed -- is a ``TypeError`` that says what to give instead."""
    if isinstance(sources, (str, os.PathLike)) or _is_nwbfile(sources):
        sources = [sources]
    elif not isinstance(sources, Iterable):
        raise _not_sources(sources)
    return [_source_of(item) for item in sources]


def _source_of(item: Any) -> str | Path:  # noqa: ANN401 - one item of the sources
    if isinstance(item, str):
        return item
    if isinstance(item, os.PathLike):
        return Path(item)
    if _is_nwbfile(item):
        return _nwbfile_path(item)
    raise _not_sources(item)


def _is_nwbfile(value: Any) -> bool:  # noqa: ANN401
    """Whether ``value`` is a pynwb ``NWBFile`` (without importing pynwb: an object of a module never loaded is not)."""
    pynwb = sys.modules.get("pynwb")
    return pynwb is not None and isinstance(value, pynwb.NWBFile)


def _nwbfile_path(nwbfile: Any) -> Path:  # noqa: ANN401 - a pynwb NWBFile
    """The local file an ``NWBFile`` was read from; a ``TypeError`` for one built in memory or read from a stream."""
    source = getattr(nwbfile, "container_source", None)
    if source and Path(source).is_file():
        return Path(source)
    where = f"was read from {source!r}, not a local file" if source else "was built in memory, not read from a file"
    raise TypeError(f"NWBFile {nwbfile.identifier!r} {where}: write it with pynwb.NWBHDF5IO and give the file's path, "
                    f"or give the DANDI asset ID or URL it was streamed from")


def as_recordings(items: RecordingsOrSources, *, progress: bool | None = None,
                  **options: Any) -> list[Recording]:  # noqa: ANN401 - open_recordings' options
    """``items`` as a list of recordings: a ``Recording`` or a list of them passes through; sources
    (``source_items``) are read. Anything else, or a list holding anything else (numbers, arrays), is a
    ``TypeError``."""
    items = recordings_or_sources(items)
    if given_recordings(items):
        return items
    return open_recordings(items, progress=progress, **options)


def recordings_or_sources(items: RecordingsOrSources) -> list[Recording] | list[str | Path]:
    """``items`` as a list: a ``Recording`` or an iterable of them (a list, a generator) as recordings, anything
    else as sources (``source_items``); a mix of both, or what is neither, is a ``TypeError``."""
    from nwb_neurpir.recording import Recording

    if isinstance(items, Recording):
        return [items]
    if isinstance(items, Iterable) and not isinstance(items, (str, os.PathLike)):
        items = list(items)
        if all(isinstance(item, Recording) for item in items):
            return items
        if any(isinstance(item, Recording) for item in items):
            raise TypeError("give either recordings or sources, not a mix of both")
    return source_items(items)


def given_recordings(items: list[Recording] | list[str | Path]) -> bool:
    """Whether ``recordings_or_sources`` gave recordings (an empty list counts as recordings: none to read)."""
    from nwb_neurpir.recording import Recording

    return all(isinstance(item, Recording) for item in items)


def _not_sources(value: Any) -> TypeError:  # noqa: ANN401 - what was given instead of a source
    return TypeError(f"expected sources (paths, folders, DANDI asset IDs, URLs or NWBFile objects read from files) "
                     f"or Recording objects, not {type(value).__name__}")

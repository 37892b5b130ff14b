"""Readers: NWB files (local or streamed from DANDI) into ``Recording`` objects.

``open_recording(source)`` takes anything ``nwb_neurpir.io.sources.parse_source`` understands -- a local path, a DANDI
asset ID, ``DANDI:<dandiset>/<path>``, a DANDI or https/s3 URL -- resolves it, opens it (streaming remote files with
remfile + h5py and caching what it reads) and hands the open file to ``read_nwb``. ``open_recordings`` does the same
for many sources, folders, dandisets and globs, one file open at a time. Where remote data comes from and where it
is cached is one ``DataAccess`` (``nwb_neurpir.io.access``), passed as ``access`` to every function here.

Environment: ``NEURPIR_DANDI_API_URL`` (DANDI API, default the public archive), ``NEURPIR_CACHE_DIR`` (cache root,
default the user cache dir), ``NEURPIR_CACHE_MAX_BYTES`` (cache bound, e.g. ``20GB``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir.io.resolve import resolve_sources
from nwb_neurpir.renamed import accepts_ophys_series

if TYPE_CHECKING:
    from nwb_neurpir.io.access import DataAccess, FetchedFile
    from nwb_neurpir.io.sources import ResolvedSource, SourceSpec
    from nwb_neurpir.recording import Recording

__all__ = ["fetch_sources", "open_recording", "open_recordings", "read_resolved", "resolve_sources"]


def _access_or_default(access: DataAccess | None) -> DataAccess:
    from nwb_neurpir.io.access import access_or_default

    return access_or_default(access)


@accepts_ophys_series
def open_recording(
    source: str | Path | SourceSpec | ResolvedSource,
    *,
    access: DataAccess | None = None,
    download: bool = False,
    **reader_kwargs: Any,
) -> Recording:
    """Resolve, open and read one NWB file into a ``Recording``.

    ``access`` (default ``DataAccess()``) names the DANDI API, the cache and the HTTP policy. Remote files are streamed
    (only the bytes the reader needs, cached) unless ``download`` asks for a whole verified copy first; a whole copy
    already in the cache is always used. ``reader_kwargs`` go to ``read_nwb`` (``modality``, ``unit_filter``,
    ``series``, ``bin_size``, ``time_range``, ``keep_spike_times``, ...). For a DANDI asset the recording's ``source`` carries
    dandiset, version, asset ID and path. Raises ``NeurPIRError`` when the source names more or less than one file.
    """
    access = _access_or_default(access)
    resolved = resolve_sources([source], access=access)
    if len(resolved) != 1:
        from nwb_neurpir.errors import NeurPIRError

        raise NeurPIRError(f"names {len(resolved)} files; use open_recordings for folders, dandisets and globs",
                           source=str(getattr(source, "text", source)))
    return read_resolved(resolved[0], access, download=download, **reader_kwargs)


@accepts_ophys_series
def open_recordings(
    sources: Iterable[str | Path | SourceSpec | ResolvedSource],
    glob: str | None = None,
    *,
    access: DataAccess | None = None,
    download: bool = False,
    progress: bool = True,
    desc: str = "reading",
    **reader_kwargs: Any,
) -> Iterator[Recording]:
    """Resolve all sources (``glob`` filters folders and dandisets), then read them one at a time, in order, under a
    progress bar labelled ``desc`` (say what the caller does with each file); ``reader_kwargs`` go to ``read_nwb``.

    Files without neurons are skipped with a warning: NeurPIR sidecar files (embeddings of other files), files
    with neither units nor ROIs (e.g. the LFP-only probe files of a dandiset) and files whose units all lack spikes
    (a failed spike sorting); a ``NeurPIRError`` says so when nothing else was named (a single file without spikes,
    or without a neuron passing the filter, gives its own error). With a ``modality`` asked for, files holding only
    the other kind of neurons (the ``_ophys.nwb`` beside the ``_ecephys.nwb`` files of a dandiset) are skipped too,
    with one warning at the end; when no file holds the kind asked for, the first one's ``ModalityMismatch`` is
    raised.
    """
    import warnings

    from tqdm import tqdm

    from nwb_neurpir.errors import NeurPIRError, NoNeurons, NoneSelected, NoSpikes
    from nwb_neurpir.io.nwb_reader import ModalityMismatch, SidecarFile

    access = _access_or_default(access)
    resolved = resolve_sources(sources, glob, access=access)
    n_read, other_kind, none_selected = 0, [], []
    for source in tqdm(resolved, desc=desc, unit="file", disable=not progress or len(resolved) < 2):
        try:
            recording = read_resolved(source, access, download=download, **reader_kwargs)
        except (SidecarFile, NoNeurons) as exc:
            if len(resolved) == 1 and isinstance(exc, (NoneSelected, NoSpikes)):
                raise
            none_selected += [exc] if isinstance(exc, NoneSelected) else []
            warnings.warn(f"{exc.one_line()}; skipped", stacklevel=2)
            continue
        except ModalityMismatch as exc:
            other_kind.append(exc)
            continue
        n_read += 1
        yield recording
    if other_kind and n_read:
        names = ", ".join(str(exc.source) for exc in other_kind[:3]) + (", ..." if len(other_kind) > 3 else "")
        files = "1 file holds" if len(other_kind) == 1 else f"{len(other_kind)} files hold"
        warnings.warn(f"{files} {other_kind[0].found} data only, not the {other_kind[0].wanted} data being read; "
                      f"skipped: {names}", stacklevel=2)
    elif other_kind:
        raise other_kind[0]
    if not n_read and none_selected:
        raise NeurPIRError(f"no neuron of any source passes the filter ({none_selected[0].one_line()})")
    if not n_read:
        raise NeurPIRError("none of the sources holds units or ROIs to read (only NeurPIR sidecar files or files "
                           "without neurons or spikes); `neurpir inspect` lists what each file holds")


def read_resolved(source: ResolvedSource, access: DataAccess, *, download: bool = False,
                  **reader_kwargs: Any) -> Recording:
    """Open one resolved source through ``access`` and read it with ``read_nwb``."""
    from nwb_neurpir.io.nwb_reader import read_nwb

    with access.open_h5(source, download=download) as h5:
        return read_nwb(h5, source_info=source.info, **reader_kwargs)


def fetch_sources(
    sources: Iterable[str | Path | SourceSpec | ResolvedSource],
    glob: str | None = None,
    *,
    access: DataAccess | None = None,
    progress: bool = True,
) -> Iterator[FetchedFile]:
    """Download remote sources as whole, verified files into the cache (local files pass through unchanged)."""
    access = _access_or_default(access)
    for source in resolve_sources(sources, glob, access=access):
        yield access.fetch(source, progress=progress)

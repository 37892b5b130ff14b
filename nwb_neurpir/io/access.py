"""Opening a resolved source as an ``h5py.File``: local files directly, remote files streamed (remfile + h5py, chunks
cached on disk) or from a whole verified copy in the cache; and downloading whole files into the cache.

What is verified:
- whole downloads: the byte count, then the archive's SHA-256 (``dandi:sha2-256``) or, when only that is given, its
  ``dandi:dandi-etag``; a mismatch deletes the temp file and raises. Plain URLs have no archive digest: only the
  byte count is checked, against the total of a Range answer or, from a server that ignores Range (a download
  needs no Range support; streaming does), its Content-Length when it sends one.
- streamed chunks: every Range answer must be a 206 whose ``Content-Range`` is exactly the requested range of a
  file of the expected total size, with a body of exactly that length (otherwise retried); chunks on disk carry
  their SHA-256 and are re-fetched when it does not match. A whole-file digest cannot be checked from partial reads.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.cache import AssetCache, cache_key
from nwb_neurpir.io.dandi import AssetDetails, DandiResolver, default_api_url
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.io.remote import HttpPolicy, HttpSession, RemoteAccessDenied, RemoteError, download_to, probe_size
from nwb_neurpir.io.sources import ResolvedSource
from nwb_neurpir.redaction import redact_url

__all__ = ["DataAccess", "FetchedFile", "StreamStats", "access_or_default"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchedFile:
    """A source made available as a local file."""

    source: ResolvedSource
    path: Path
    status: Literal["local", "cached", "downloaded"]
    bytes_downloaded: int = 0


@dataclass
class StreamStats:
    """Network use of the last ``open_h5``."""

    mode: Literal["local", "cached-file", "streamed"] = "local"
    bytes_received: int = 0
    requests_sent: int = 0
    chunk_hits: int = 0
    chunk_misses: int = 0


@dataclass(frozen=True)
class _Remote:
    key: str
    name: str
    size: int | None
    stream_url: str
    download_url: str
    details: AssetDetails | None
    stream_error: str | None = None
    """Why the file cannot be streamed (its server ignores Range, or gives no size); None when it can."""


class DataAccess:
    """Where remote data comes from and where it is kept: the one set of access options (DANDI API, cache folder and
    bound, HTTP policy, API key) that resolving, opening and downloading sources take. Opens and downloads resolved
    sources, sharing one cache, HTTP policy and DANDI client per API; ``None`` options come from the environment.
    ``token`` is the DANDI API key for this access's API (embargoed or private dandisets); it is sent to that API's
    host only, and other APIs use their own ``*_API_KEY`` variable."""

    def __init__(self, *, api_url: str | None = None, cache_dir: str | Path | None = None,
                 cache_max_bytes: int | str | None = None, http: HttpPolicy | None = None,
                 token: str | None = None) -> None:
        self.api_url = api_url
        self.cache = AssetCache(cache_dir, cache_max_bytes)
        self.policy = http or HttpPolicy()
        self.last_stats = StreamStats()
        self._token = token
        self._resolvers: dict[str, DandiResolver] = {}

    def resolver(self, api_url: str | None = None) -> DandiResolver:
        """The DANDI resolver for ``api_url`` (default: this access's API, which alone gets ``token``)."""
        default = (self.api_url or default_api_url()).rstrip("/")
        url = (api_url or default).rstrip("/")
        if url not in self._resolvers:
            token = self._token if url == default else None
            self._resolvers[url] = DandiResolver(url, cache=self.cache, policy=self.policy, token=token)
        return self._resolvers[url]

    def _session(self, source: ResolvedSource) -> HttpSession:
        """A fresh session for one source; a DANDI asset's carries its API's key (sent to that API's host only)."""
        api_key = self.resolver(source.api_url).api_key if source.kind == "dandi" else None
        return HttpSession(self.policy, api_key)

    @contextmanager
    def open_h5(self, source: ResolvedSource, *, download: bool = False) -> Iterator[object]:
        """Yield the source as an open read-only ``h5py.File``; closed (and the cache trimmed) on exit."""
        if source.is_local:
            self.last_stats = StreamStats(mode="local")
            with open_nwb(source.location, label=source.label()) as h5:
                yield h5
            return
        remote = self._remote(source)
        path = self.cache.cached_file(remote.key, remote.name, remote.size)
        if path is None and download:
            path = self.fetch(source).path
        if path is not None:
            self.last_stats = StreamStats(mode="cached-file")
            with open_nwb(path, label=source.label()) as h5:
                yield h5
            return
        if remote.stream_error is not None:
            raise RemoteError(remote.stream_error, source=source.label())
        with self._streamed(source, remote) as h5:
            yield h5

    @contextmanager
    def _streamed(self, source: ResolvedSource, remote: _Remote) -> Iterator[object]:
        """Stream through the blob URL; when that is refused (401/403: an embargoed asset's unsigned URL), through
        the API's download URL, whose every Range request is redirected to a freshly signed blob URL."""
        _close_hdf5_before_python_exits()

        chunks = self.cache.chunks(remote.key)
        stats = self.last_stats = StreamStats(mode="streamed")
        sessions: list[HttpSession] = []
        h5 = None
        try:
            h5 = self._open_streamed(source, remote, chunks, sessions)
            try:
                yield h5
            except Exception as exc:
                if sessions[-1].failure is not None:
                    raise _labelled(sessions[-1].failure, source) from exc
                raise
        finally:
            if h5 is not None:
                h5.close()
            stats.bytes_received = sum(session.bytes_received for session in sessions)
            stats.requests_sent = sum(session.requests_sent for session in sessions)
            stats.chunk_hits, stats.chunk_misses = chunks.hits, chunks.misses
            for session in sessions:
                session.close()
            self.cache.trim()

    def _open_streamed(self, source: ResolvedSource, remote: _Remote, chunks: object,
                       sessions: list[HttpSession]) -> object:
        """Open the blob URL, or the download URL when the blob URL is refused; each try's session is appended to
        ``sessions`` (closed by the caller)."""
        urls = list(dict.fromkeys([remote.stream_url, remote.download_url]))
        for url in urls:
            sessions.append(self._session(source))
            try:
                return _open_stream(sessions[-1], url, remote.size, chunks)
            except Exception as exc:
                if url == urls[-1] or not isinstance(sessions[-1].failure, RemoteAccessDenied):
                    raise _stream_error(sessions[-1], source, exc) from exc
                log.info("%s: the blob URL was refused; streaming through the DANDI API", source.label())
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch(self, source: ResolvedSource, *, progress: bool = False) -> FetchedFile:
        """Make ``source`` a verified local file in the cache (no-op for local files)."""
        if source.is_local:
            return FetchedFile(source=source, path=Path(source.location), status="local")
        remote = self._remote(source)
        if (path := self.cache.cached_file(remote.key, remote.name, remote.size)) is not None:
            return FetchedFile(source=source, path=path, status="cached")
        session = self._session(source)

        def write(tmp: Path) -> None:
            bar = _progress_bar(remote.size, source.label(), progress)
            try:
                with open(tmp, "wb") as out:
                    download_to(session, remote.download_url, out, size=remote.size,
                                progress=bar.update if bar is not None else None)
            except RemoteError as exc:
                raise _labelled(exc, source) from None
            finally:
                if bar is not None:
                    bar.close()

        path = self.cache.store_file(remote.key, remote.name, write,
                                     lambda tmp: _verify(tmp, remote, source.label()), size=remote.size)
        # another process may have stored it while this one waited for the lock
        status = "downloaded" if session.bytes_received else "cached"
        return FetchedFile(source=source, path=path, status=status, bytes_downloaded=session.bytes_received)

    def _remote(self, source: ResolvedSource) -> _Remote:
        if source.kind == "dandi":
            details = self.resolver(source.api_url).details(source.info.asset_id or "")
            details.check_nwb(source.label())
            return _Remote(key=cache_key("dandi", details.asset_id), name=details.path, size=details.size,
                           stream_url=details.stream_url, download_url=details.download_url, details=details)
        probed = probe_size(self._session(source), source.location)
        name = source.location.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        # the URL without its signature: the same object under a fresh signature finds what is cached
        return _Remote(key=cache_key("url", f"{redact_url(source.location)}|{probed.size}"), name=name,
                       size=probed.size, stream_url=source.location, download_url=source.location, details=None,
                       stream_error=probed.stream_error)


def access_or_default(access: DataAccess | None) -> DataAccess:
    """``access``, or a ``DataAccess`` configured from the environment when it is ``None``."""
    return access if access is not None else DataAccess()


def _verify(path: Path, remote: _Remote, label: str) -> None:
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise NeurPIRError(f"download has {size} bytes, the archive says {remote.size}", source=label)
    digests = remote.details.digests if remote.details else {}
    if expected := digests.get("dandi:sha2-256"):
        actual = _sha256(path)
        kind = "SHA-256"
    elif expected := digests.get("dandi:dandi-etag"):
        from dandischema.digests.dandietag import DandiETag

        actual, kind = DandiETag.from_file(path).as_str(), "dandi-etag"
    else:
        log.info("%s: the archive lists no digest; checked the size only", label)
        return
    if actual != expected:
        raise NeurPIRError(f"downloaded file does not match the archive's {kind} ({actual} != {expected}); "
                           "it was not kept", source=label)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _progress_bar(total: int | None, label: str, enabled: bool):  # noqa: ANN202 - tqdm or None
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False)


def _open_stream(session: HttpSession, url: str, size: int, chunks: object) -> object:
    """``url`` opened as an ``h5py.File`` through remfile, on ``session`` (our timeouts, retries, Range checks)."""
    import h5py
    import remfile

    session.expected_sizes[url] = size
    stream = remfile.File(url, disk_cache=chunks, _size=size)
    stream.session = session
    return h5py.File(stream, "r")


def _labelled(error: RemoteError, source: ResolvedSource) -> RemoteError:
    """The same failure named by the source (asset path or ID) instead of the URL it happened at."""
    return type(error)(error.message, source=source.label())


def _stream_error(session: HttpSession, source: ResolvedSource, exc: Exception) -> NeurPIRError:
    if session.failure is not None:
        return _labelled(session.failure, source)
    if isinstance(exc, RemoteError):
        return _labelled(exc, source)
    if isinstance(exc, NeurPIRError):
        return exc
    return NeurPIRError(f"not a readable HDF5/NWB file ({' '.join(str(exc).split())[:200]})", source=source.label())


@functools.cache
def _close_hdf5_before_python_exits() -> None:
    """Register ``H5close`` to run while Python is still alive.

    When reading a Python file object (remfile) fails, HDF5 keeps a file-access property list that holds a reference
    to that object; HDF5's own exit hook then frees it after the interpreter has shut down and the process dies with
    SIGSEGV. Closing the library from an ``atexit`` handler frees it in time.
    """
    import ctypes
    import re

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            loaded = maps.read()
    except OSError:  # not Linux: nothing to find this way
        return
    libraries = {match.group(0) for match in re.finditer(r"/\S*libhdf5[-.][^/\s]*\.so[.\d]*", loaded)
                 if "_hl" not in match.group(0)}
    for library in libraries:
        atexit.register(ctypes.CDLL(library).H5close)

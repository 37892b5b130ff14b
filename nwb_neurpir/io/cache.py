"""The on-disk cache for remote NWB data: whole verified files, streamed chunks and asset metadata, size-bounded.

Layout under the cache root (default: ``NEURPIR_CACHE_DIR`` or the user cache dir from platformdirs)::

    files/<key>/<safe name>.nwb   whole files, written to a temp file, verified, then renamed into place
    chunks/<key>/<chunk>.bin      Range-read chunks of streamed files (remfile's disk cache), checksummed
    meta/<key>.json               asset metadata (DANDI asset IDs are immutable, so it never goes stale)
    locks/<key>.lock              one downloader per file across processes

Keys are built by ``cache_key`` from a validated DANDI asset ID or a hash of a URL -- never from an asset path --
and the file name is sanitised, so nothing in an archive listing (``../``, absolute paths) can point outside the
root; every write also checks, after resolving symlinks, that its target is inside the root.

The bound (``NEURPIR_CACHE_MAX_BYTES``, default 20 GB) is enforced by evicting the least recently used files and
chunks after each open or download; one open may exceed it by what it reads until it finishes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nwb_neurpir.atomic_files import atomic_path, atomic_write_bytes
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.input_files import parse_json

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_MAX_BYTES_ENV",
    "AssetCache",
    "CacheUsage",
    "ChunkStore",
    "cache_key",
    "default_cache_dir",
    "default_max_bytes",
    "parse_size",
]

CACHE_DIR_ENV = "NEURPIR_CACHE_DIR"
CACHE_MAX_BYTES_ENV = "NEURPIR_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 20 * 10**9
_KEY_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
          "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_CHECKSUM_BYTES = 32
_PARTIAL = ".partial-"
"""Name prefix of files being written into the cache (a killed writer's are deleted by the next one)."""
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
"""The cache holds bytes of embargoed data and asset paths: only its owner may read it."""
_Method = TypeVar("_Method", bound=Callable[..., Any])


def default_cache_dir() -> Path:
    """``NEURPIR_CACHE_DIR`` if set, else the platform's user cache dir for ``nwb-neurpir``."""
    if value := os.environ.get(CACHE_DIR_ENV):
        return Path(value).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("nwb-neurpir", appauthor=False))


def parse_size(text: str | int) -> int:
    """Bytes from ``1234``, ``"500MB"``, ``"20 GB"`` or ``"2GiB"``."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match[2].upper() if match else ""
    if not match or unit not in _UNITS:
        raise NeurPIRError(f"not a size: {text!r} (e.g. 500MB, 20GB, 2GiB)", source=CACHE_MAX_BYTES_ENV)
    return int(float(match[1]) * _UNITS[unit])


def default_max_bytes() -> int:
    """``NEURPIR_CACHE_MAX_BYTES`` if set (e.g. ``20GB``), else 20 GB."""
    value = os.environ.get(CACHE_MAX_BYTES_ENV)
    return parse_size(value) if value else DEFAULT_MAX_BYTES


def cache_key(kind: str, identity: str) -> str:
    """A cache key: ``dandi-<asset id>`` for DANDI assets, ``url-<sha256 prefix>`` for anything else."""
    if kind == "dandi" and re.fullmatch(r"[0-9a-f-]{36}", identity):
        return f"dandi-{identity}"
    return f"{kind}-{hashlib.sha256(identity.encode()).hexdigest()[:40]}"


def _safe_name(name: str) -> str:
    """A file name that is one plain path component: the last part of ``name``, odd characters replaced."""
    base = re.sub(r"[^A-Za-z0-9._+-]", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".")[:120]
    return base if base else "asset.nwb"


def _private(method: _Method) -> _Method:
    """``method`` of an object with a cache ``root``, a ``PermissionError`` in the cache turned into one line naming
    the cache folder and what to do: a folder another user's run created (0700) cannot be used (the cache is
    private)."""
    @functools.wraps(method)
    def guarded(owner: AssetCache | ChunkStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(owner, *args, **kwargs)
        except PermissionError as exc:
            raise _not_ours(owner.root, exc.filename) from None

    return guarded  # type: ignore[return-value]


def _not_ours(root: Path, path: str | None) -> NeurPIRError:
    """The error for a cache folder this user may not use (``path``: what was refused, when known)."""
    inner = os.path.relpath(os.path.dirname(path), root) if path else "."
    where = f" (permission denied in {inner})" if inner != "." else ""
    return NeurPIRError(f"this cache folder belongs to another user or is not writable{where}; the cache is private: "
                        f"use one of your own (--cache-dir or {CACHE_DIR_ENV})", source=root)


@dataclass(frozen=True)
class CacheUsage:
    """What the cache holds."""

    files: int
    chunks: int
    bytes: int


class AssetCache:
    """Whole files, streamed chunks and metadata under one root, bounded by ``max_bytes`` (LRU eviction)."""

    def __init__(self, root: str | Path | None = None, max_bytes: int | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.max_bytes = parse_size(max_bytes) if max_bytes is not None else default_max_bytes()
        if self.max_bytes <= 0:
            raise NeurPIRError("the cache bound must be positive", source=CACHE_MAX_BYTES_ENV)

    # -- paths -------------------------------------------------------------------------------------------------
    def _inside(self, *parts: str) -> Path:
        """``root/parts...`` after checking each part is a plain name and the real path stays inside the root."""
        for part in parts:
            if part in ("", ".", "..") or "/" in part or "\\" in part or "\x00" in part:
                raise NeurPIRError(f"refusing cache path component {part!r}", source=self.root)
        path = self.root.joinpath(*parts)
        real_root = os.path.realpath(self.root)
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            raise NeurPIRError(f"cache path {path} resolves outside the cache folder (a symlink?); refusing to use it",
                               source=self.root)
        return path

    def _checked_key(self, key: str) -> str:
        if not _KEY_RE.fullmatch(key):
            raise NeurPIRError(f"invalid cache key {key!r}", source=self.root)
        return key

    def file_path(self, key: str, name: str) -> Path:
        """Where the whole file for ``key`` lives (whether or not it is there yet)."""
        return self._inside("files", self._checked_key(key), _safe_name(name))

    # -- whole files -------------------------------------------------------------------------------------------
    @_private
    def cached_file(self, key: str, name: str, size: int | None = None) -> Path | None:
        """The verified whole file for ``key``, or None. A file of the wrong size is removed, not returned."""
        path = self.file_path(key, name)
        if path.is_symlink() or not path.is_file():
            return None
        if size is not None and path.stat().st_size != size:
            path.unlink(missing_ok=True)
            return None
        os.utime(path)
        return path

    @_private
    def store_file(self, key: str, name: str, write: Callable[[Path], None], verify: Callable[[Path], None],
                   size: int | None = None) -> Path:
        """Create the whole file for ``key``: ``write(tmp)`` fills a temp file next to the target, ``verify(tmp)``
        raises if it is wrong, then an atomic rename publishes it. Nothing partial or unverified is ever left."""
        if size is not None and size > self.max_bytes:
            raise NeurPIRError(f"the file has {size / 1e9:.2f} GB, more than the cache bound "
                               f"({self.max_bytes / 1e9:.2f} GB; raise it with {CACHE_MAX_BYTES_ENV})", source=key)
        target = self.file_path(key, name)
        with self.lock(key):
            if (existing := self.cached_file(key, name, size)) is not None:
                return existing
            self._makedirs(target.parent)
            for stale in target.parent.glob(f"{_PARTIAL}*"):  # left by a killed download of this key
                stale.unlink(missing_ok=True)
            with atomic_path(target, prefix=_PARTIAL, mode=PRIVATE_FILE_MODE) as tmp:
                write(tmp)
                verify(tmp)
        self.trim(protect={target})
        return target

    @contextmanager
    def lock(self, key: str, timeout: float = 600.0) -> Iterator[None]:
        """Hold the cross-process lock for ``key`` (raises ``NeurPIRError`` after ``timeout`` seconds)."""
        from filelock import FileLock, Timeout

        path = self._inside("locks", self._checked_key(key) + ".lock")
        self._makedirs(path.parent)
        try:
            with FileLock(str(path), timeout=timeout, mode=PRIVATE_FILE_MODE):
                yield
        except Timeout:
            raise NeurPIRError(f"another process has held the cache lock for {timeout:.0f} s; try again later",
                               source=path) from None

    # -- streamed chunks and metadata --------------------------------------------------------------------------
    def chunks(self, key: str) -> ChunkStore:
        """remfile's disk cache for the streamed file ``key``."""
        return ChunkStore(self, self._checked_key(key))

    def read_meta(self, key: str) -> dict | None:
        """The metadata stored for ``key``, or None."""
        path = self._inside("meta", self._checked_key(key) + ".json")
        try:
            return parse_json(path.read_text(), path.name, path)
        except (OSError, UnicodeDecodeError, NeurPIRError):
            return None

    def write_meta(self, key: str, meta: dict) -> None:
        """Store metadata for ``key`` (atomically)."""
        path = self._inside("meta", self._checked_key(key) + ".json")
        self.write_atomic(path, json.dumps(meta, sort_keys=True).encode())

    @_private
    def write_atomic(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically (a temp file next to it, fsync, rename), creating its folder."""
        self._makedirs(path.parent)
        atomic_write_bytes(path, data, prefix=_PARTIAL, mode=PRIVATE_FILE_MODE)

    def _makedirs(self, folder: Path) -> None:
        """Create ``folder`` below the root, and the root: each folder created here only its owner may open (a
        folder that exists keeps its permissions)."""
        parts = folder.relative_to(self.root).parts
        self.root.parent.mkdir(parents=True, exist_ok=True)
        for depth in range(len(parts) + 1):
            self.root.joinpath(*parts[:depth]).mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)
        self._inside(*parts)  # re-check now that it exists (symlinks)

    # -- bound -------------------------------------------------------------------------------------------------
    def _entries(self) -> Iterator[tuple[float, int, Path]]:
        for folder in ("files", "chunks"):
            top = self.root / folder
            if not top.is_dir() or top.is_symlink():
                continue
            for dirpath, _dirs, names in os.walk(top):
                for name in names:
                    path = Path(dirpath, name)
                    try:
                        info = path.lstat()
                    except FileNotFoundError:
                        continue
                    yield info.st_mtime, info.st_size, path

    def usage(self) -> CacheUsage:
        """Files, chunks and bytes held (metadata and locks are not counted)."""
        entries = list(self._entries())
        files = sum(1 for _, _, path in entries if path.parts[-3] == "files")
        return CacheUsage(files=files, chunks=len(entries) - files, bytes=sum(size for _, size, _ in entries))

    @_private
    def trim(self, protect: set[Path] | None = None) -> int:
        """Evict least recently used entries until the cache fits its bound; returns the bytes freed."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _, size, path in entries:
            if total - freed <= self.max_bytes:
                break
            if protect and path in protect:
                continue
            path.unlink(missing_ok=True)
            freed += size
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only succeeds once the folder is empty
        return freed

    def clear(self) -> None:
        """Remove everything the cache holds."""
        for folder in ("files", "chunks", "meta", "locks"):
            shutil.rmtree(self.root / folder, ignore_errors=True)


class ChunkStore:
    """remfile's ``disk_cache`` interface (``get``/``set``) over the cache: one checksummed file per chunk.

    remfile's key is ``<url>|<chunk size>|<index>``; the URL part is dropped (the cache key already names the
    file), so a changed download URL still finds its chunks. Each chunk file starts with the SHA-256 of its bytes;
    a chunk that fails the check is deleted and reported as missing, so it is fetched again.
    """

    def __init__(self, cache: AssetCache, key: str) -> None:
        self._cache = cache
        self._key = key
        self.hits = 0
        self.misses = 0

    @property
    def root(self) -> Path:
        """The cache folder the chunks are in (what ``_private`` names when it cannot be used)."""
        return self._cache.root

    def _path(self, remfile_key: str) -> Path:
        _url, chunk_size, index = remfile_key.rsplit("|", 2)
        if not (chunk_size.isdigit() and index.isdigit()):
            raise NeurPIRError(f"unexpected chunk key {remfile_key!r}", source=self._cache.root)
        return self._cache._inside("chunks", self._key, f"{int(chunk_size)}-{int(index)}.bin")

    @_private
    def get(self, remfile_key: str) -> bytes | None:
        """The chunk's bytes if cached and intact, else None."""
        path = self._path(remfile_key)
        try:
            blob = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        data = blob[_CHECKSUM_BYTES:]
        if hashlib.sha256(data).digest() != blob[:_CHECKSUM_BYTES]:
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        os.utime(path)
        self.hits += 1
        return data

    def set(self, remfile_key: str, value: bytes) -> None:
        """Store a chunk (atomically, with its checksum)."""
        self._cache.write_atomic(self._path(remfile_key), hashlib.sha256(value).digest() + value)

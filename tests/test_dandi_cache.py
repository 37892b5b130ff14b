"""The on-disk cache on its own: where it lives, its bound and LRU order, atomic writes, checksummed chunks, keys
that cannot escape it, and one downloader per asset across threads."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dandi_server import LoopbackDandi

from nwb_neurpir.atomic_files import atomic_write_bytes
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io import fetch_sources
from nwb_neurpir.io.resolve import resolve_sources
from nwb_neurpir.io.cache import (
    CACHE_DIR_ENV,
    CACHE_MAX_BYTES_ENV,
    AssetCache,
    cache_key,
    default_cache_dir,
    parse_size,
)

pytest_plugins = ["dandi_fixtures"]

KEY = cache_key("dandi", "5f2a1c3e-0b1d-4c6e-9a7f-1234567890ab")


def test_cache_dir_and_bound_come_from_parameters_or_environment(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    monkeypatch.setenv(CACHE_MAX_BYTES_ENV, "2GB")
    assert default_cache_dir() == tmp_path / "from-env"
    assert AssetCache().root == tmp_path / "from-env" and AssetCache().max_bytes == 2 * 10**9
    assert AssetCache(tmp_path / "given", "500MiB").root == tmp_path / "given"
    assert AssetCache(tmp_path / "given", "500MiB").max_bytes == 500 * 2**20
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert "nwb-neurpir" in str(default_cache_dir())


@pytest.mark.parametrize(("text", "expected"), [("1234", 1234), ("20GB", 20 * 10**9), ("1.5 G", 15 * 10**8),
                                                ("2GiB", 2 * 2**30), ("10kb", 10_000), (7, 7)])
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-5GB", "5 parsecs"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(NeurPIRError, match="not a size"):
        parse_size(text)


def test_keys_never_come_from_paths() -> None:
    assert KEY == "dandi-5f2a1c3e-0b1d-4c6e-9a7f-1234567890ab"
    url_key = cache_key("url", "https://example.org/../../etc/passwd")
    assert url_key.startswith("url-") and "/" not in url_key and ".." not in url_key
    assert cache_key("dandi", "../../evil").startswith("dandi-") and "/" not in cache_key("dandi", "../../evil")


def test_bad_keys_are_refused(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path)
    for key in ["../x", "a/b", "", "UPPER", ".hidden"]:
        with pytest.raises(NeurPIRError, match="invalid cache key"):
            cache.file_path(key, "a.nwb")


def test_store_file_is_atomic_and_verified(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path)

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError("network went away")

    with pytest.raises(OSError, match="network went away"):
        cache.store_file(KEY, "a.nwb", write, lambda tmp: None)

    def reject(tmp: Path) -> None:
        raise NeurPIRError("digest mismatch")

    with pytest.raises(NeurPIRError, match="digest mismatch"):
        cache.store_file(KEY, "a.nwb", lambda tmp: tmp.write_bytes(b"bad"), reject)
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []

    stale = cache.file_path(KEY, "a.nwb").parent / ".partial-left-by-a-killed-run"
    stale.write_bytes(b"x")
    path = cache.store_file(KEY, "sub/../a.nwb", lambda tmp: tmp.write_bytes(b"good"), lambda tmp: None, size=4)
    assert path.read_bytes() == b"good" and path.name == "a.nwb" and not stale.exists()
    assert cache.cached_file(KEY, "a.nwb", size=4) == path
    assert cache.cached_file(KEY, "a.nwb", size=5) is None and not path.exists()  # wrong size: dropped


def test_trim_evicts_least_recently_used_first(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path, max_bytes=1000)
    paths = {}
    for age, name in enumerate(["old", "middle", "new"]):
        key = cache_key("url", name)
        paths[name] = cache.store_file(key, f"{name}.nwb", lambda tmp: tmp.write_bytes(b"x" * 100), lambda tmp: None)
        os.utime(paths[name], (1000 + age, 1000 + age))
    cache.cached_file(cache_key("url", "old"), "old.nwb")  # touching it makes it the most recent
    cache = AssetCache(tmp_path, max_bytes=250)
    assert cache.trim() == 100
    assert paths["old"].exists() and not paths["middle"].exists() and paths["new"].exists()
    assert cache.usage().bytes == 200 and cache.usage().files == 2


def test_chunks_are_checksummed(tmp_path: Path) -> None:
    chunks = AssetCache(tmp_path).chunks(KEY)
    chunks.set("https://blob|102400|3", b"abc" * 10)
    assert chunks.get("https://another-url|102400|3") == b"abc" * 10  # the URL part of remfile's key is ignored
    stored = next((tmp_path / "chunks").rglob("*.bin"))
    stored.write_bytes(stored.read_bytes()[:-1] + b"X")
    assert chunks.get("https://blob|102400|3") is None and not stored.exists()
    assert chunks.get("https://blob|102400|4") is None
    with pytest.raises(NeurPIRError, match="unexpected chunk key"):
        chunks.get("https://blob|1|../../x")


def test_one_download_when_two_threads_fetch_the_same_asset(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                            cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    loopback_dandi.set_fault("trickle", rate=2_000_000.0)  # a download that takes ~0.25 s
    statuses: list[str] = []

    def fetch() -> None:
        for fetched in fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False):
            statuses.append(fetched.status)

    workers = [threading.Thread(target=fetch) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(statuses) == ["cached", "downloaded"]
    assert loopback_dandi.requests_to("^/blobs/") == 1


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common umask, under which files are readable by everyone unless created otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_only_the_owner_can_read_the_cache(loopback_dandi: LoopbackDandi, small_nwb: Path, tmp_path: Path,
                                           umask_022: None) -> None:
    asset = loopback_dandi.add_asset("sub-1/sub-1_ses-1.nwb", small_nwb)
    access = loopback_dandi.access(tmp_path / "new" / "cache")
    assert [row.status for row in fetch_sources([asset.asset_id], access=access)] == ["downloaded"]
    [streamed] = resolve_sources([f"{loopback_dandi.base_url}/blobs/{asset.blob_id}"], access=access)
    with access.open_h5(streamed) as h5:
        assert "units" in h5  # chunks
    root = access.cache.root
    folders = [root, *(path for path in root.rglob("*") if path.is_dir())]
    files = [path for path in root.rglob("*") if path.is_file()]
    assert {path.relative_to(root).parts[0] for path in files} >= {"files", "chunks", "meta"}
    assert {str(path): oct(_mode(path)) for path in folders if _mode(path) != 0o700} == {}
    assert {str(path): oct(_mode(path)) for path in files if _mode(path) != 0o600} == {}
    assert _mode(tmp_path / "new") == 0o755  # above the cache: the usual permissions


def test_files_written_outside_the_cache_keep_the_usual_permissions(tmp_path: Path, umask_022: None) -> None:
    atomic_write_bytes(tmp_path / "report.md", b"# report")
    assert _mode(tmp_path / "report.md") == 0o644


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("folder", ["files", "chunks"])
def test_a_cache_folder_this_user_cannot_write_is_named_with_what_to_do(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                                        tmp_path: Path, folder: str,
                                                                        deny: Callable[[Path], Path]) -> None:
    """As when the cache is shared: another user's run made its folders 0700 (here: this user's folder made 500)."""
    asset = loopback_dandi.add_asset("sub-1/sub-1_ses-1.nwb", small_nwb)
    access = loopback_dandi.access(tmp_path / "cache")
    (access.cache.root / folder).mkdir(parents=True)
    deny(access.cache.root / folder)
    with pytest.raises(NeurPIRError) as caught:
        if folder == "files":
            list(fetch_sources([asset.asset_id], access=access))
        else:
            [streamed] = resolve_sources([f"{loopback_dandi.base_url}/blobs/{asset.blob_id}"], access=access)
            with access.open_h5(streamed):
                pass
    assert caught.value.one_line() == (f"{access.cache.root}: this cache folder belongs to another user or is not "
                                       f"writable (permission denied in {folder}); the cache is private: use one of "
                                       f"your own (--cache-dir or {CACHE_DIR_ENV})")

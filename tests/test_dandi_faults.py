"""Network faults against the loopback archive: transient ones are retried, the rest end in one clear error, fast;
the cache never keeps a partial or unverified file and nothing is written outside it."""

from __future__ import annotations

import hashlib
import importlib
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
from dandi_server import FAST_HTTP, LoopbackDandi, ServedAsset

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io import fetch_sources, open_recording
from nwb_neurpir.io.access import FetchedFile
from nwb_neurpir.io.remote import HttpPolicy, RemoteError
from nwb_neurpir.recording import Recording

pytest_plugins = ["dandi_fixtures"]

CHUNK_BYTES = 100 * 1024  # remfile's default chunk


@pytest.fixture
def asset(loopback_dandi: LoopbackDandi, small_nwb: Path) -> ServedAsset:
    return loopback_dandi.add_asset("sub-1/sub-1_ses-1.nwb", small_nwb)


def _stream(server: LoopbackDandi, asset_id: str, cache: Path, policy: HttpPolicy = FAST_HTTP) -> Recording:
    return open_recording(asset_id, access=server.access(cache, policy))


def _fetch(server: LoopbackDandi, asset_id: str, cache: Path, policy: HttpPolicy = FAST_HTTP) -> FetchedFile:
    [fetched] = fetch_sources([asset_id], access=server.access(cache, policy), progress=False)
    return fetched


def _assert_cache_clean(cache: Path, tmp_path: Path) -> None:
    """No whole file or temp file was kept, every chunk on disk is intact, and nothing lies outside the cache."""
    assert not [p for p in (cache / "files").rglob("*") if p.is_file()]
    for chunk in (cache / "chunks").rglob("*"):
        if chunk.is_file():
            assert not chunk.name.startswith(".partial-")
            blob = chunk.read_bytes()
            assert hashlib.sha256(blob[32:]).digest() == blob[:32]
    assert {p.name for p in tmp_path.iterdir()} <= {"cache"}


def test_remote_errors_are_not_retried_again_by_remfile() -> None:
    remfile_module = importlib.import_module("remfile.RemFile")
    assert issubclass(RemoteError, remfile_module._PermanentHTTPError)


@pytest.mark.parametrize("kind", ["error500", "reset", "truncate", "length_over", "length_under"])
def test_transient_blob_faults_are_retried(loopback_dandi: LoopbackDandi, asset: ServedAsset, cache_dir: Path,
                                           kind: str) -> None:
    loopback_dandi.set_fault(kind, times=2)
    recording = _stream(loopback_dandi, asset.asset_id, cache_dir)
    assert recording.n_neurons == 20
    n_chunks = -(-asset.size // CHUNK_BYTES)
    assert loopback_dandi.requests_to("^/blobs/") >= 3  # the two faulty answers were retried
    assert len(list((cache_dir / "chunks").rglob("*.bin"))) <= n_chunks


@pytest.mark.parametrize("kind", ["error500", "reset", "truncate", "length_over", "length_under"])
def test_persistent_blob_faults_end_in_one_clear_error(loopback_dandi: LoopbackDandi, asset: ServedAsset,
                                                       cache_dir: Path, tmp_path: Path, kind: str) -> None:
    loopback_dandi.set_fault(kind)
    started = time.monotonic()
    with pytest.raises(NeurPIRError, match="failed after 3 attempt") as caught:
        _stream(loopback_dandi, asset.asset_id, cache_dir)
    assert time.monotonic() - started < 5
    assert "\n" not in caught.value.one_line()
    assert loopback_dandi.requests_to("^/blobs/") == 3  # the session gave up for good: no more requests
    _assert_cache_clean(cache_dir, tmp_path)


def test_a_server_ignoring_range_is_refused_without_retrying(loopback_dandi: LoopbackDandi, asset: ServedAsset,
                                                             cache_dir: Path, tmp_path: Path) -> None:
    loopback_dandi.set_fault("ignore_range")
    with pytest.raises(NeurPIRError, match="ignored the HTTP Range request"):
        _stream(loopback_dandi, asset.asset_id, cache_dir)
    assert loopback_dandi.requests_to("^/blobs/") == 1
    _assert_cache_clean(cache_dir, tmp_path)


def test_a_silent_server_times_out(loopback_dandi: LoopbackDandi, asset: ServedAsset, cache_dir: Path,
                                   tmp_path: Path) -> None:
    loopback_dandi.set_fault("slow", delay=5.0)
    policy = replace(FAST_HTTP, read_timeout=0.3, attempts=2)
    started = time.monotonic()
    with pytest.raises(NeurPIRError, match="timed out"):
        _stream(loopback_dandi, asset.asset_id, cache_dir, policy)
    assert time.monotonic() - started < 3
    _assert_cache_clean(cache_dir, tmp_path)


def test_a_trickling_server_hits_the_attempt_deadline(loopback_dandi: LoopbackDandi, asset: ServedAsset,
                                                      cache_dir: Path, tmp_path: Path) -> None:
    loopback_dandi.set_fault("trickle", rate=20_000.0)  # 100 KiB chunks would take 5 s each
    policy = replace(FAST_HTTP, attempt_deadline=0.3, min_bytes_per_second=1e9, attempts=2)
    started = time.monotonic()
    with pytest.raises(NeurPIRError, match="too slow"):
        _stream(loopback_dandi, asset.asset_id, cache_dir, policy)
    assert time.monotonic() - started < 3
    _assert_cache_clean(cache_dir, tmp_path)


def test_a_vanished_blob_is_a_clear_error(loopback_dandi: LoopbackDandi, asset: ServedAsset, cache_dir: Path) -> None:
    loopback_dandi.set_fault("not_found")
    with pytest.raises(NeurPIRError, match="HTTP 404"):
        _stream(loopback_dandi, asset.asset_id, cache_dir)
    assert loopback_dandi.requests_to("^/blobs/") == 1


def test_a_blob_that_changed_size_is_refused(loopback_dandi: LoopbackDandi, asset: ServedAsset, cache_dir: Path,
                                             small_nwb: Path) -> None:
    loopback_dandi.replace_content(asset, small_nwb.read_bytes() + b"appended")
    with pytest.raises(NeurPIRError, match="the file changed on the server"):
        _stream(loopback_dandi, asset.asset_id, cache_dir)
    assert loopback_dandi.requests_to("^/blobs/") == 1


def test_download_resumes_after_a_truncated_body(loopback_dandi: LoopbackDandi, asset: ServedAsset,
                                                 cache_dir: Path) -> None:
    loopback_dandi.set_fault("truncate", times=1)
    fetched = _fetch(loopback_dandi, asset.asset_id, cache_dir)
    assert hashlib.sha256(fetched.path.read_bytes()).hexdigest() == asset.sha256
    statuses = [status for _, path, status in loopback_dandi.log if path.startswith("/blobs/")]
    assert statuses == [200, 206]  # the second request resumed where the first was cut


@pytest.mark.parametrize("kind", ["error500", "reset", "truncate"])
def test_download_failing_for_good_keeps_nothing(loopback_dandi: LoopbackDandi, asset: ServedAsset, cache_dir: Path,
                                                 tmp_path: Path, kind: str) -> None:
    loopback_dandi.set_fault(kind)
    with pytest.raises(NeurPIRError, match="failed after 3 attempt"):
        _fetch(loopback_dandi, asset.asset_id, cache_dir)
    _assert_cache_clean(cache_dir, tmp_path)


def test_redirect_to_a_dead_host_is_a_clear_error(loopback_dandi: LoopbackDandi, asset: ServedAsset, cache_dir: Path,
                                                  tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        loopback_dandi.redirect_port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NeurPIRError, match="connection refused"):
        _fetch(loopback_dandi, asset.asset_id, cache_dir)
    assert time.monotonic() - started < 5
    _assert_cache_clean(cache_dir, tmp_path)

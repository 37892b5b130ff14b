"""Streaming and caching DANDI assets from the loopback archive: bytes read, cache reuse, digests, cache safety."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from dandi_server import LoopbackDandi

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io import fetch_sources, open_recording, open_recordings
from nwb_neurpir.io.cache import AssetCache
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import Recording

pytest_plugins = ["dandi_fixtures"]


def _open(server: LoopbackDandi, source: str, cache: Path, **kwargs: object) -> Recording:
    return open_recording(source, access=server.access(cache), **kwargs)


def _tree(folder: Path, skip: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if skip not in p.parents and p != skip}


def test_streaming_units_reads_a_small_fraction_of_a_large_file(loopback_dandi: LoopbackDandi, large_nwb: Path,
                                                                cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/sub-1_ses-1_ecephys.nwb", large_nwb)
    recording = _open(loopback_dandi, asset.asset_id, cache_dir)

    assert loopback_dandi.blob_bytes < 0.2 * asset.size, (loopback_dandi.blob_bytes, asset.size)
    with h5py.File(large_nwb, "r") as truth:
        assert recording.n_neurons == truth["units/id"].shape[0] == 20
        assert recording.source.identifier == truth["identifier"][()].decode()
        n_spikes = truth["units/spike_times"].shape[0]
    assert int(recording.activity.sum()) == n_spikes
    assert (recording.source.asset_id, recording.source.asset_path) == (asset.asset_id, asset.path)
    assert not recording.source.is_local


def test_second_open_is_served_from_the_cache(loopback_dandi: LoopbackDandi, large_nwb: Path,
                                              cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/sub-1_ses-1_ecephys.nwb", large_nwb)
    first = _open(loopback_dandi, "DANDI:000123/sub-1/sub-1_ses-1_ecephys.nwb", cache_dir)
    assert (first.source.dandiset, first.source.version) == ("000123", "draft")
    loopback_dandi.reset_counters()

    again = _open(loopback_dandi, asset.asset_id, cache_dir)
    assert loopback_dandi.log == []  # not one request: details and chunks both came from the cache
    np.testing.assert_array_equal(again.activity, first.activity)


def test_corrupted_cached_chunk_is_fetched_again(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                 cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    first = _open(loopback_dandi, asset.asset_id, cache_dir)
    chunk = sorted((cache_dir / "chunks").rglob("*.bin"))[0]
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 0xFF
    chunk.write_bytes(bytes(data))
    loopback_dandi.reset_counters()

    again = _open(loopback_dandi, asset.asset_id, cache_dir)
    assert loopback_dandi.requests_to("^/blobs/") == 1
    np.testing.assert_array_equal(again.activity, first.activity)


def test_fetch_downloads_a_verified_copy_that_later_opens_use(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                             cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    [fetched] = fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False)
    assert fetched.status == "downloaded" and fetched.bytes_downloaded == asset.size
    assert hashlib.sha256(fetched.path.read_bytes()).hexdigest() == asset.sha256
    assert cache_dir in fetched.path.parents
    loopback_dandi.reset_counters()

    [again] = fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False)
    recording = _open(loopback_dandi, asset.asset_id, cache_dir)
    assert again.status == "cached" and loopback_dandi.log == []
    assert recording.n_neurons == 20


def test_download_flag_fetches_the_whole_file_before_reading(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                            cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    recording = _open(loopback_dandi, asset.asset_id, cache_dir, download=True)
    assert loopback_dandi.blob_bytes == asset.size
    assert AssetCache(cache_dir).usage().files == 1
    assert recording.source.asset_id == asset.asset_id


@pytest.mark.parametrize(("digests", "kind"), [("sha256+etag", "SHA-256"), ("etag", "dandi-etag")])
def test_download_not_matching_the_archive_digest_is_not_kept(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                              cache_dir: Path, digests: str, kind: str) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb, digests=digests)
    content = bytearray(small_nwb.read_bytes())
    content[len(content) // 2] ^= 0xFF
    loopback_dandi.replace_content(asset, bytes(content))
    with pytest.raises(NeurPIRError, match=f"does not match the archive's {kind}"):
        list(fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False))
    assert not list((cache_dir / "files").rglob("*.*"))  # neither the file nor a .partial- temp file


def test_etag_only_digest_verifies_a_good_download(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                   cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb, digests="etag")
    [fetched] = fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False)
    assert fetched.path.stat().st_size == asset.size


def test_redirect_to_another_host_is_followed(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                              cache_dir: Path) -> None:
    loopback_dandi.blob_urls_in_metadata = False  # stream through /download/, which redirects
    loopback_dandi.redirect_host = "localhost"
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    recording = _open(loopback_dandi, asset.asset_id, cache_dir)
    assert recording.n_neurons == 20
    assert loopback_dandi.requests_to(r"/download/$") >= 1
    assert loopback_dandi.requests_to(r"^/blobs/") == loopback_dandi.requests_to(r"/download/$")


def test_plain_url_and_local_file_give_the_same_recording(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                          cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    url = f"{loopback_dandi.base_url}/blobs/{asset.blob_id}"
    streamed = _open(loopback_dandi, url, cache_dir)
    local = open_recording(small_nwb)
    assert streamed.source.location == url and streamed.source.asset_id is None
    assert local.source.location == str(small_nwb) and local.source.is_local
    np.testing.assert_array_equal(streamed.activity, local.activity)
    np.testing.assert_array_equal(local.activity, read_nwb(small_nwb).activity)


def test_open_recordings_reads_a_dandiset_glob_in_order(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                        cache_dir: Path) -> None:
    for path in ["sub-2/b_ecephys.nwb", "sub-1/a_ecephys.nwb", "sub-1/c_ophys.nwb"]:
        loopback_dandi.add_asset(path, small_nwb)
    recordings = list(open_recordings(["DANDI:000123"], glob="*ecephys.nwb", access=loopback_dandi.access(cache_dir),
                                      progress=False))
    assert [r.source.asset_path for r in recordings] == ["sub-1/a_ecephys.nwb", "sub-2/b_ecephys.nwb"]
    with pytest.raises(NeurPIRError, match="names 3 files"):
        _open(loopback_dandi, "DANDI:000123", cache_dir)


def test_cache_bound_evicts_least_recently_used_files(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                      cache_dir: Path) -> None:
    size = small_nwb.stat().st_size
    first = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    second = loopback_dandi.add_asset("sub-2/b.nwb", small_nwb)
    access = loopback_dandi.access(cache_dir, cache_max_bytes=int(1.5 * size))
    [kept_first] = fetch_sources([first.asset_id], access=access, progress=False)
    [kept_second] = fetch_sources([second.asset_id], access=access, progress=False)
    assert not kept_first.path.exists() and kept_second.path.exists()
    assert AssetCache(cache_dir, int(1.5 * size)).usage().bytes <= 1.5 * size
    with pytest.raises(NeurPIRError, match="more than the cache bound"):
        list(fetch_sources([first.asset_id], access=loopback_dandi.access(cache_dir, cache_max_bytes=size // 2),
                           progress=False))


@pytest.mark.parametrize("hostile", ["../../escaped.nwb", "/tmp/absolute.nwb", "a/../../../b.nwb", "../.nwb",
                                     "./.hidden.nwb"])
def test_asset_paths_cannot_escape_the_cache(loopback_dandi: LoopbackDandi, small_nwb: Path, tmp_path: Path,
                                             cache_dir: Path, hostile: str) -> None:
    asset = loopback_dandi.add_asset(hostile, small_nwb)
    before = _tree(tmp_path, cache_dir)
    for fetched in fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False):
        assert cache_dir in fetched.path.parents and ".." not in fetched.path.parts
    assert _open(loopback_dandi, asset.asset_id, cache_dir).source.asset_path == hostile
    assert _tree(tmp_path, cache_dir) == before
    assert not Path("/tmp/absolute.nwb").exists()


def test_a_symlink_planted_in_the_cache_is_refused(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                   tmp_path: Path, cache_dir: Path) -> None:
    asset = loopback_dandi.add_asset("sub-1/a.nwb", small_nwb)
    outside = tmp_path / "outside"
    outside.mkdir()
    (cache_dir / "files").mkdir(parents=True)
    (cache_dir / "files" / f"dandi-{asset.asset_id}").symlink_to(outside, target_is_directory=True)
    with pytest.raises(NeurPIRError, match="outside the cache folder"):
        list(fetch_sources([asset.asset_id], access=loopback_dandi.access(cache_dir), progress=False))
    assert list(outside.iterdir()) == []

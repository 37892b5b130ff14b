"""Resolving DANDI sources through the real dandi client against the loopback archive."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dandi_server import LoopbackDandi

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.access import DataAccess
from nwb_neurpir.io.dandi import API_URL_ENV, DEFAULT_API_URL, default_api_url
from nwb_neurpir.io.resolve import resolve_sources

pytest_plugins = ["dandi_fixtures"]

PATHS = ["sub-1/sub-1_ses-1_ecephys.nwb", "sub-1/sub-1_ses-2_ecephys.nwb", "sub-2/sub-2_ses-1_ophys.nwb",
         "sub-2/sub-2_ses-1_ecephys.nwb", "sub-3/sub-3_ses-1_ecephys.nwb"]


@pytest.fixture
def archive(loopback_dandi: LoopbackDandi, small_nwb: Path) -> LoopbackDandi:
    """Five NWB assets, a README, a Zarr asset; listings paginated two at a time."""
    loopback_dandi.page_size = 2
    for path in PATHS:
        loopback_dandi.add_asset(path, small_nwb)
    loopback_dandi.add_asset("README.txt", b"not data")
    loopback_dandi.add_asset("sub-3/sub-3_ses-1_image.nwb.zarr", b"zarr", zarr=True)
    return loopback_dandi


def _paths(resolved: list) -> list[str]:
    return [r.info.asset_path for r in resolved]


def test_resolve_by_asset_id_url_and_dandiset_path(archive: LoopbackDandi, cache_dir: Path) -> None:
    access = archive.access(cache_dir)
    asset = next(a for a in archive.assets.values() if a.path == PATHS[2])
    [by_id] = resolve_sources([asset.asset_id], access=access)
    assert (by_id.kind, by_id.info.asset_id, by_id.info.asset_path, by_id.size) == (
        "dandi", asset.asset_id, PATHS[2], asset.size)
    assert by_id.api_url == archive.api_url
    assert by_id.info.location == f"{archive.api_url}/assets/{asset.asset_id}/download/"

    [by_url] = resolve_sources([f"{archive.api_url}/assets/{asset.asset_id}/download/"], access=access)
    assert by_url.info.asset_id == asset.asset_id
    versioned_url = f"{archive.api_url}/dandisets/000123/versions/draft/assets/{asset.asset_id}/"
    [by_versioned_url] = resolve_sources([versioned_url], access=access)
    assert (by_versioned_url.info.dandiset, by_versioned_url.info.version) == ("000123", "draft")

    [by_path] = resolve_sources([f"DANDI:000123/{PATHS[2]}"], access=access)
    assert (by_path.info.asset_id, by_path.info.dandiset, by_path.info.version) == (asset.asset_id, "000123", "draft")
    assert by_path.label() == f"DANDI:000123/{PATHS[2]}"


def test_dandiset_glob_and_folder_expansion(archive: LoopbackDandi, cache_dir: Path) -> None:
    access = archive.access(cache_dir)
    everything = resolve_sources(["DANDI:000123"], access=access)
    assert _paths(everything) == sorted(PATHS)  # README and the Zarr asset are skipped; 3 pages followed
    ecephys = resolve_sources(["DANDI:000123"], glob="sub-*/*ecephys.nwb", access=access)
    assert _paths(ecephys) == sorted(p for p in PATHS if p.endswith("ecephys.nwb"))
    assert _paths(resolve_sources(["DANDI:000123/draft/sub-2/*"], access=access)) == sorted(PATHS[2:4])
    assert _paths(resolve_sources(["DANDI:000123/sub-1/"], access=access)) == PATHS[:2]
    assert _paths(resolve_sources(["DANDI:000123/sub-2/"], glob="*ophys.nwb", access=access)) == [PATHS[2]]
    web = f"{archive.base_url}/dandiset/000123/draft/files?location=sub-3"
    assert _paths(resolve_sources([web], access=access)) == [PATHS[4]]
    api_listing = f"{archive.api_url}/dandisets/000123/versions/draft/assets/?path={PATHS[0]}"
    assert _paths(resolve_sources([api_listing], access=access)) == [PATHS[0]]


def test_default_version_is_the_latest_published(archive: LoopbackDandi, cache_dir: Path,
                                                 small_nwb: Path) -> None:
    archive.publish("0.240101.1200")
    archive.add_asset("sub-9/sub-9_draft-only.nwb", small_nwb)
    access = archive.access(cache_dir)
    published = resolve_sources(["DANDI:000123"], access=access)
    assert {r.info.version for r in published} == {"0.240101.1200"}
    assert "sub-9/sub-9_draft-only.nwb" not in _paths(published)
    assert "sub-9/sub-9_draft-only.nwb" in _paths(resolve_sources(["DANDI:000123/draft"], access=access))


def test_api_url_from_environment(monkeypatch: pytest.MonkeyPatch, archive: LoopbackDandi,
                                  cache_dir: Path) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)
    assert default_api_url() == DEFAULT_API_URL
    monkeypatch.setenv(API_URL_ENV, archive.api_url)
    assert _paths(resolve_sources(["DANDI:000123/sub-1/"], access=DataAccess(cache_dir=cache_dir))) == PATHS[:2]


@pytest.mark.parametrize(("source", "message"), [
    ("00000000-0000-0000-0000-00000000dead", "not found in the DANDI archive"),
    ("DANDI:999999", "not found in the DANDI archive"),
    ("DANDI:000123/0.999999.9999", "not found in the DANDI archive"),
    ("DANDI:000123/sub-1/missing.nwb", "not found in the DANDI archive"),
    ("DANDI:000123/README.txt", "not an NWB file"),
    ("DANDI:000123/sub-3/sub-3_ses-1_image.nwb.zarr", "Zarr asset"),
    ("DANDI:000123", "no NWB assets matching"),
    ("DANDI:000123/sub-1/*", "give the glob once"),
])
def test_clear_errors_for_unknown_or_non_nwb_assets(archive: LoopbackDandi, cache_dir: Path,
                                                    source: str, message: str) -> None:
    glob = "*.none" if source == "DANDI:000123" else "*.nwb" if source.endswith("*") else None
    with pytest.raises(NeurPIRError, match=message) as caught:
        resolve_sources([source], glob=glob, access=archive.access(cache_dir))
    assert "\n" not in caught.value.one_line()


def test_non_nwb_asset_ids_are_refused(archive: LoopbackDandi, cache_dir: Path) -> None:
    by_path = {a.path: a.asset_id for a in archive.assets.values()}
    access = archive.access(cache_dir)
    with pytest.raises(NeurPIRError, match="not an NWB file"):
        resolve_sources([by_path["README.txt"]], access=access)
    with pytest.raises(NeurPIRError, match="Zarr asset"):
        resolve_sources([by_path["sub-3/sub-3_ses-1_image.nwb.zarr"]], access=access)


def test_api_500s_are_retried(archive: LoopbackDandi, cache_dir: Path) -> None:
    archive.set_fault("error500", target=r"^/api/dandisets/000123/versions/draft/assets/$", times=2)
    assert _paths(resolve_sources(["DANDI:000123/draft/sub-1/"], access=archive.access(cache_dir))) == PATHS[:2]
    assert archive.requests_to(r"/assets/$") >= 3


def test_api_failing_for_good_gives_one_clear_error(archive: LoopbackDandi, cache_dir: Path) -> None:
    archive.set_fault("error500", target=r"^/api/dandisets/")
    started = time.monotonic()
    with pytest.raises(NeurPIRError, match="failed after 3 attempt"):
        resolve_sources(["DANDI:000123"], access=archive.access(cache_dir))
    assert time.monotonic() - started < 5


def test_unreachable_server_fails_fast(cache_dir: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NeurPIRError, match="cannot use this DANDI API|connection refused"):
        resolve_sources(["DANDI:000123"],
                        access=DataAccess(api_url=f"http://127.0.0.1:{port}/api", cache_dir=cache_dir))
    assert time.monotonic() - started < 10


def test_asset_details_are_cached_so_a_known_asset_resolves_offline(archive: LoopbackDandi,
                                                                     cache_dir: Path) -> None:
    asset_id = next(iter(archive.assets))
    first = resolve_sources([asset_id], access=archive.access(cache_dir))
    archive.reset_counters()
    again = resolve_sources([asset_id], access=archive.access(cache_dir))
    assert again == first
    assert archive.log == []


def test_listings_resolve_from_the_cache_when_fixed_or_when_the_archive_is_down(archive: LoopbackDandi,
                                                                                cache_dir: Path,
                                                                                small_nwb: Path) -> None:
    archive.publish("0.240101.1200")
    pinned = resolve_sources(["DANDI:000123/0.240101.1200/sub-1/"], access=archive.access(cache_dir))
    draft = resolve_sources([f"DANDI:000123/draft/{PATHS[2]}"], access=archive.access(cache_dir))
    archive.add_asset("sub-1/sub-1_ses-3_ecephys.nwb", small_nwb)
    archive.reset_counters()
    assert resolve_sources(["DANDI:000123/0.240101.1200/sub-1/"], access=archive.access(cache_dir)) == pinned
    assert archive.log == []  # a published version cannot change: no request at all
    assert len(resolve_sources(["DANDI:000123/draft/sub-1/"], access=archive.access(cache_dir))) == 3

    archive.stop()
    with pytest.warns(UserWarning, match="cannot be reached.*using its listing of 20"):
        assert resolve_sources([f"DANDI:000123/draft/{PATHS[2]}"], access=archive.access(cache_dir)) == draft
    with pytest.raises(NeurPIRError, match="connection refused"):
        resolve_sources(["DANDI:000123/draft/sub-2/"], access=archive.access(cache_dir))  # never listed

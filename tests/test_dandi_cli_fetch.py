"""`neurpir fetch` against the loopback archive: downloads, reports, reuses the cache, fails in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dandi_server import LoopbackDandi
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.io.dandi import API_URL_ENV

pytest_plugins = ["dandi_fixtures"]

runner = CliRunner()


@pytest.fixture
def archive(loopback_dandi: LoopbackDandi, small_nwb: Path, monkeypatch: pytest.MonkeyPatch) -> LoopbackDandi:
    monkeypatch.setenv(API_URL_ENV, loopback_dandi.api_url)
    for path in ["sub-1/sub-1_ecephys.nwb", "sub-2/sub-2_ecephys.nwb", "sub-2/sub-2_ophys.nwb"]:
        loopback_dandi.add_asset(path, small_nwb)
    return loopback_dandi


def test_fetch_a_dandiset_glob_as_json_then_again_from_the_cache(archive: LoopbackDandi, cache_dir: Path,
                                                                 small_nwb: Path) -> None:
    args = ["fetch", "DANDI:000123", "--glob", "*ecephys.nwb", "--cache-dir", str(cache_dir), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["asset_path"] for row in rows] == ["sub-1/sub-1_ecephys.nwb", "sub-2/sub-2_ecephys.nwb"]
    assert {row["status"] for row in rows} == {"downloaded"}
    for row in rows:
        assert Path(row["path"]).read_bytes() == small_nwb.read_bytes()
        assert cache_dir in Path(row["path"]).parents
    archive.reset_counters()

    again = json.loads(runner.invoke(app, args).stdout)
    assert {row["status"] for row in again} == {"cached"}
    assert archive.requests_to("^/blobs/") == 0


def test_fetch_prints_one_line_per_file(archive: LoopbackDandi, cache_dir: Path, small_nwb: Path) -> None:
    result = runner.invoke(app, ["fetch", "DANDI:000123/sub-2/sub-2_ophys.nwb", str(small_nwb),
                                 "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("downloaded") and "DANDI:000123/sub-2/sub-2_ophys.nwb" in lines[0]
    assert lines[1].startswith("local") and str(small_nwb) in lines[1]


def test_fetch_of_a_missing_asset_is_one_error_line(archive: LoopbackDandi, cache_dir: Path) -> None:
    result = runner.invoke(app, ["fetch", "DANDI:000123/sub-9/nothing.nwb", "--cache-dir", str(cache_dir)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: DANDI:000123/sub-9/nothing.nwb: not found")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("fault", ["ignore_range", "ignore_range_no_length"])
def test_fetch_of_a_url_whose_server_ignores_range_downloads_it_whole(loopback_dandi: LoopbackDandi, cache_dir: Path,
                                                                      small_nwb: Path, fault: str) -> None:
    url = f"{loopback_dandi.base_url}/blobs/{loopback_dandi.add_asset('sub-1/a.nwb', small_nwb).blob_id}"
    loopback_dandi.set_fault(fault)
    args = ["fetch", url, "--cache-dir", str(cache_dir), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["status"] == "downloaded" and Path(row["path"]).read_bytes() == small_nwb.read_bytes()
    assert [row["status"] for row in json.loads(runner.invoke(app, args).stdout)] == ["cached"]
    assert runner.invoke(app, ["inspect", url, "--cache-dir", str(cache_dir)]).exit_code == 0  # the copy


def test_a_url_whose_server_ignores_range_is_not_streamed_and_the_error_says_to_fetch_it(
        loopback_dandi: LoopbackDandi, cache_dir: Path, small_nwb: Path) -> None:
    url = f"{loopback_dandi.base_url}/blobs/{loopback_dandi.add_asset('sub-1/a.nwb', small_nwb).blob_id}"
    loopback_dandi.set_fault("ignore_range")
    result = runner.invoke(app, ["inspect", url, "--cache-dir", str(cache_dir)])
    assert result.exit_code == 1
    assert (f"{url}\n  unreadable: the server ignored the HTTP Range request (answered 200 with the whole file), so "
            "the file cannot be streamed; download it instead (`neurpir fetch` or download=True)") in result.stdout


@pytest.mark.slow
def test_fetch_and_inspect_write_nothing_outside_the_cache(archive: LoopbackDandi, tmp_path: Path) -> None:
    """Run the installed command in a fresh HOME: the cache folder is the only thing that appears."""
    home, work, cache = tmp_path / "home", tmp_path / "work", tmp_path / "cache"
    home.mkdir()
    work.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_CONFIG_HOME": str(home / ".config"), "NEURPIR_CACHE_DIR": str(cache)}
    asset_id = next(iter(archive.assets))
    for command in (["fetch", "DANDI:000123", "--glob", "*ecephys.nwb"], ["inspect", asset_id, "--json"]):
        done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", *command], env=env, cwd=work,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} == {"home", "work", "cache"}
    assert {p.name for p in cache.iterdir()} <= {"files", "chunks", "meta", "locks"}

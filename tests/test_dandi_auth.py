"""Embargoed dandisets on the loopback archive's embargo mode: the API key (instance variable or ``token=``) is sent
to the API's host only, streaming and downloads go through signed redirects, and refusals say what to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from dandi_server import EMBARGO_KEY, FAST_HTTP, LoopbackDandi, ServedAsset
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io import fetch_sources, open_recording
from nwb_neurpir.io.access import DataAccess
from nwb_neurpir.io.dandi import API_URL_ENV, api_key_env_var

pytest_plugins = ["dandi_fixtures"]

ASSET_PATH = "sub-1/a.nwb"
SOURCE = f"DANDI:000123/{ASSET_PATH}"


@pytest.fixture
def asset(embargoed_dandi: LoopbackDandi, small_nwb: Path) -> ServedAsset:
    return embargoed_dandi.add_asset(ASSET_PATH, small_nwb)


def _access(server: LoopbackDandi, cache_dir: Path, **options: object) -> DataAccess:
    return DataAccess(api_url=server.api_url, cache_dir=cache_dir, http=FAST_HTTP, **options)


def _files_mention(folder: Path, text: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


def test_the_key_variable_is_the_one_the_dandi_client_reads(embargoed_dandi: LoopbackDandi, cache_dir: Path) -> None:
    client = _access(embargoed_dandi, cache_dir).resolver().client
    assert api_key_env_var(embargoed_dandi.api_url) == client.api_key_env_var
    assert api_key_env_var("https://api.dandiarchive.org/api") == "DANDI_API_KEY"
    assert api_key_env_var("https://api.sandbox.dandiarchive.org/api/") == "DANDI_SANDBOX_API_KEY"


def test_key_from_the_instance_variable_streams_an_embargoed_asset(embargoed_dandi: LoopbackDandi, asset: ServedAsset,
                                                                   cache_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(api_key_env_var(embargoed_dandi.api_url), EMBARGO_KEY)
    recording = open_recording(SOURCE, access=_access(embargoed_dandi, cache_dir))
    assert recording.n_neurons == 20
    api_requests = [auth for host, path, auth in embargoed_dandi.auth_log if path.startswith("/api/")]
    assert api_requests and set(api_requests) == {f"token {EMBARGO_KEY}"}
    blob_requests = [(host, auth) for host, path, auth in embargoed_dandi.auth_log if path.startswith("/blobs/")]
    assert len(blob_requests) > 1  # several Range reads, each through a fresh signed redirect
    assert {host.split(":")[0] for host, _ in blob_requests} == {"localhost"}
    assert {auth for _, auth in blob_requests} == {None}  # the key never left the API's host
    assert embargoed_dandi.requests_to(r"/download/$") == len(blob_requests)
    assert _files_mention(cache_dir, EMBARGO_KEY) == []


def test_token_parameter_downloads_a_verified_copy(embargoed_dandi: LoopbackDandi, asset: ServedAsset,
                                                   cache_dir: Path) -> None:
    [fetched] = fetch_sources([asset.asset_id], access=_access(embargoed_dandi, cache_dir, token=EMBARGO_KEY),
                              progress=False)
    assert fetched.status == "downloaded"
    assert hashlib.sha256(fetched.path.read_bytes()).hexdigest() == asset.sha256
    assert {auth for _, path, auth in embargoed_dandi.auth_log if path.startswith("/blobs/")} == {None}
    assert _files_mention(cache_dir, EMBARGO_KEY) == []


def test_a_refused_blob_url_falls_back_to_the_signed_download_url(small_nwb: Path, cache_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with LoopbackDandi(api_key=EMBARGO_KEY, embargo_in_metadata=False) as server:
        server.add_asset(ASSET_PATH, small_nwb)
        recording = open_recording(SOURCE, access=_access(server, cache_dir, token=EMBARGO_KEY))
        statuses = [status for _, path, status in server.log if path.startswith("/blobs/")]
    assert recording.n_neurons == 20
    first_read = statuses.index(206)  # the unsigned URL refused (more than once seen on a loaded machine),
    assert first_read > 0 and set(statuses[:first_read]) == {403}  # then only signed redirects, every one served
    assert set(statuses[first_read:]) == {206}, statuses


def test_without_a_key_the_error_says_embargoed_and_which_variable(embargoed_dandi: LoopbackDandi,
                                                                   asset: ServedAsset, cache_dir: Path) -> None:
    with pytest.raises(NeurPIRError) as caught:
        open_recording(asset.asset_id, access=_access(embargoed_dandi, cache_dir))
    message = caught.value.one_line()
    assert "HTTP 401" in message and "embargoed or private" in message
    assert f"no API key was sent; set {api_key_env_var(embargoed_dandi.api_url)}" in message


def test_a_wrong_key_is_reported_as_sent_and_never_shown(embargoed_dandi: LoopbackDandi, asset: ServedAsset,
                                                         cache_dir: Path) -> None:
    with pytest.raises(NeurPIRError) as caught:
        open_recording(SOURCE, access=_access(embargoed_dandi, cache_dir, token="wrong-key-42"))
    message = caught.value.one_line()
    assert "refused access (HTTP 401)" in message and "an API key was sent (from token=)" in message
    assert "wrong-key-42" not in message


def test_a_hidden_dandiset_not_found_without_a_key_says_it_may_be_embargoed(
        small_nwb: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with LoopbackDandi(api_key=EMBARGO_KEY, hide_embargoed=True) as server:
        server.add_asset(ASSET_PATH, small_nwb)
        result = CliRunner().invoke(app, ["fetch", SOURCE, "--cache-dir", str(cache_dir)],
                                    env={API_URL_ENV: server.api_url})
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: DANDI:000123/") and "No such Dandiset" in line
    assert f"embargoed or private: no API key was sent; set {api_key_env_var(server.api_url)}" in line


def test_stream_errors_name_the_asset_not_the_url(embargoed_dandi: LoopbackDandi, asset: ServedAsset,
                                                  cache_dir: Path) -> None:
    embargoed_dandi.set_fault("not_found")
    with pytest.raises(NeurPIRError) as caught:
        open_recording(SOURCE, access=_access(embargoed_dandi, cache_dir, token=EMBARGO_KEY))
    assert caught.value.source == SOURCE and "HTTP 404" in caught.value.message
    assert "signature" not in caught.value.one_line()

"""Presigned URLs (a signature in the query) and URLs with ``user:password@``: the credentials never reach a sidecar,
a report, a printed line or an error, and one object under a fresh signature is one source (one cache entry, one
sidecar)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from dandi_server import LoopbackDandi
from nwb_neurpir.cli.app import app
from nwb_neurpir.cli.options import command_line
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.resolve import resolve_sources
from nwb_neurpir.recording import SourceInfo
from nwb_neurpir.redaction import is_signed_url, redact_url
from nwb_neurpir.store import write_sidecar
from nwb_neurpir.store.sidecar import sidecar_of_other_source, sidecar_path
from nwb_neurpir.testing import make_spikes_nwbfile, tiny_config, write_nwbfile
from store_helpers import PROVENANCE, vectors

pytest_plugins = ["dandi_fixtures"]

runner = CliRunner()
SECRET = "s3cr3tSIGNATURE"


def _signed(url: str, signature: str = SECRET) -> str:
    """``url`` as S3 presigns it."""
    return (f"{url}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-2"
            f"&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=TOKEN{signature}"
            f"&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}")


@pytest.mark.parametrize(("url", "expected"), [
    (_signed("https://bucket.s3.amazonaws.com/blobs/a.nwb"), "https://bucket.s3.amazonaws.com/blobs/a.nwb"),
    ("https://d.cloudfront.net/a.nwb?versionId=7&Expires=1&Signature=x&Key-Pair-Id=k&Policy=p",
     "https://d.cloudfront.net/a.nwb?versionId=7"),
    ("https://acct.blob.core.windows.net/c/a.nwb?sv=2022&se=2024&sr=b&sp=r&sig=x%3D",
     "https://acct.blob.core.windows.net/c/a.nwb"),
    ("https://host/a.nwb?x-goog-signature=x&X-GOOG-CREDENTIAL=y&part=2", "https://host/a.nwb?part=2"),
    ("https://host/a.nwb?access_token=x&TOKEN=y&sig=z", "https://host/a.nwb"),
    ("https://user:pass@host:8080/a.nwb?a=1#frag", "https://host:8080/a.nwb?a=1#frag"),
    ("https://host/a.nwb?a=1&b=%2F", "https://host/a.nwb?a=1&b=%2F"),
    ("https://host/a.nwb?auth_token=t&X-Amz-Signature=s&X-Amz-Date=d&part=1", "https://host/a.nwb?part=1"),
    ("https://host/a.nwb?private_token=t#access_token=f", "https://host/a.nwb"),
    ("https://host/a.nwb?sv=2022&st=1#page", "https://host/a.nwb?sv=2022&st=1#page"),  # no signature: all kept
    ("https://host/a.nwb?" + "&".join(f"{name}=v" for name in (
        "api-key", "X-Api-Key", "access-token", "jwt", "code", "sessionid", "private_token", "auth_token", "sig",
        "signature", "credential", "passwd", "pwd", "ticket", "bearer", "session", "Client%2DSecret")) + "&a=1",
     "https://host/a.nwb?a=1"),
])
def test_redact_url_removes_signatures_and_passwords_and_keeps_the_rest(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert not is_signed_url(expected)


def test_a_signed_url_is_shown_without_its_signature_in_labels_errors_and_recorded_commands(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = _signed("https://user:pa55@bucket.s3.amazonaws.com/blobs/a.nwb")
    assert SourceInfo(location=url).label() == "https://bucket.s3.amazonaws.com/blobs/a.nwb"
    error = NeurPIRError(f"HTTP 500 (Max retries exceeded with url: /blobs/a.nwb?X-Amz-Signature={SECRET}&a=1)",
                         source=url)
    assert SECRET not in str(error) and "pa55" not in str(error)
    assert str(error).endswith("with url: /blobs/a.nwb?a=1)")
    monkeypatch.setattr(sys, "argv", ["neurpir", "evaluate", url, "--label", "cell_type"])
    assert command_line() == "neurpir evaluate https://bucket.s3.amazonaws.com/blobs/a.nwb --label cell_type"


def test_a_sidecar_of_a_signed_url_records_it_without_the_signature_and_owns_it_under_a_fresh_one(
        tmp_path: Path) -> None:
    blob = "https://bucket.s3.amazonaws.com/blobs/0a1b2c"
    first, fresh = SourceInfo(location=_signed(blob), identifier="ses-1"), SourceInfo(location=_signed(blob, "NEW"))
    out = write_sidecar(sidecar_path(first, "NeurPIREmbeddings", tmp_path, "m1", "ses-1"), first, [0, 1],
                        vectors(2), PROVENANCE, neuron_table="units", session_start_time="2024-01-01T00:00:00+00:00")
    with h5py.File(out) as file:
        assert file["processing/neurpir/source"].attrs["location"] == blob
        assert file["session_description"][()].decode().startswith(f"NeurPIR embeddings of the neurons of {blob};")
    assert SECRET.encode() not in out.read_bytes()
    assert not sidecar_of_other_source(out, fresh)  # the same object: --overwrite decides, no second sidecar
    assert sidecar_of_other_source(out, SourceInfo(location=_signed("https://bucket.s3.amazonaws.com/blobs/ffff")))


def test_a_fresh_signature_of_a_fetched_url_is_served_from_the_cache(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                                     cache_dir: Path) -> None:
    blob = loopback_dandi.add_asset("sub-1/sub-1.nwb", small_nwb).blob_id
    access = loopback_dandi.access(cache_dir)
    url = f"{loopback_dandi.base_url}/blobs/{blob}"
    [first] = resolve_sources([_signed(url)], access=access)
    assert access.fetch(first).status == "downloaded"
    loopback_dandi.reset_counters()
    [fresh] = resolve_sources([_signed(url, "NEW")], access=access)
    again = access.fetch(fresh)
    assert again.status == "cached" and again.path.read_bytes() == small_nwb.read_bytes()
    assert loopback_dandi.blob_bytes <= 1  # the size probe only
    assert len(list((cache_dir / "files").iterdir())) == 1


def test_fetch_prints_and_reports_a_signed_url_without_its_signature(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                                     cache_dir: Path) -> None:
    blob = loopback_dandi.add_asset("sub-1/sub-1.nwb", small_nwb).blob_id
    url = f"{loopback_dandi.base_url}/blobs/{blob}"
    done = runner.invoke(app, ["fetch", _signed(url), "--cache-dir", str(cache_dir), "--json", "--no-progress"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)[0]["source"] == url
    missing = runner.invoke(app, ["fetch", _signed(f"{loopback_dandi.base_url}/blobs/nothing"),
                                  "--cache-dir", str(cache_dir), "--no-progress"])
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"error: {loopback_dandi.base_url}/blobs/nothing: HTTP 404")
    assert SECRET not in done.output + missing.output


def test_an_expired_signed_url_is_named_as_such_in_one_line(loopback_dandi: LoopbackDandi, small_nwb: Path,
                                                           cache_dir: Path) -> None:
    url = f"{loopback_dandi.base_url}/blobs/{loopback_dandi.add_asset('sub-1/sub-1.nwb', small_nwb).blob_id}"
    loopback_dandi.set_fault("expired")
    signed = runner.invoke(app, ["fetch", _signed(url), "--cache-dir", str(cache_dir), "--no-progress"])
    assert signed.exit_code == 1
    assert signed.stderr == (f"error: {url}: HTTP 403 Forbidden while reading bytes 0-0; the signed URL has probably "
                             "expired: get a new one, or give the file's DANDI asset ID (with DANDI_API_KEY for "
                             "embargoed data)\n")
    unsigned = runner.invoke(app, ["fetch", url, "--cache-dir", str(cache_dir), "--no-progress"])
    assert unsigned.stderr == f"error: {url}: HTTP 403 Forbidden while reading bytes 0-0\n"


CREDENTIALS = ("PASSW0RD1", "TOKVAL1", "AUTHTOK2", "AMZSIG2", "PRIVTOK3", "FRAGTOK3")


def _credentialed(urls: list[str]) -> list[str]:
    """``urls`` with a password and token, an auth token beside an S3 signature, and a private token beside an
    access token in the fragment."""
    first, second, third = urls
    return [first.replace("://", "://alice:PASSW0RD1@") + "?token=TOKVAL1",
            f"{second}?auth_token=AUTHTOK2&X-Amz-Signature=AMZSIG2",
            f"{third}?private_token=PRIVTOK3#access_token=FRAGTOK3"]


def test_no_credential_of_a_source_url_reaches_a_model_sidecar_report_or_printed_line(
        loopback_dandi: LoopbackDandi, tmp_path: Path) -> None:
    plain = []
    for seed in range(3):
        path = write_nwbfile(make_spikes_nwbfile(n_units=12, duration=20.0, seed=seed, subject_id=f"mouse{seed}",
                                                 session_id=f"ses{seed}"), tmp_path / f"s{seed}.nwb")
        plain.append(f"{loopback_dandi.base_url}/blobs/{loopback_dandi.add_asset(path.name, path).blob_id}")
    urls, cache = _credentialed(plain), ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    config = tmp_path / "config.json"
    config.write_text(tiny_config(max_steps=2).to_json())
    out = tmp_path / "out"
    runs = [["train", *urls, "--out", str(out / "model"), "--config", str(config), *cache],
            ["embed", str(out / "model"), *urls, "--json", *cache],
            ["inspect", *urls, "--json", *cache],
            ["annotate", str(out / "model"), *urls, "--output-dir", str(out / "sidecars"), *cache],
            ["evaluate", *urls, "--label", "brain_area", "--model", str(out / "model"), "--methods", "neurpir,hand",
             "--out", str(out / "report"), *cache]]
    printed = ""
    for argv in runs:
        done = runner.invoke(app, argv)
        assert done.exit_code == 0, done.output
        printed += done.output
    assert sorted(entry["source"] for entry in json.loads(runner.invoke(app, runs[2]).stdout)) == sorted(plain)
    written = [path for path in out.rglob("*") if path.is_file()]
    assert {path.name for path in written} >= {"model.json", "report.json", "report.md", "predictions.csv"}
    assert len(list((out / "sidecars").rglob("*.nwb"))) == 3
    for secret in CREDENTIALS:
        assert secret not in printed
        assert not [path for path in written if secret.encode() in path.read_bytes()], secret
    assert all(url in printed for url in plain)  # the URLs are shown, without their credentials


def test_a_recording_of_a_credentialed_url_shows_it_without_the_credentials(loopback_dandi: LoopbackDandi,
                                                                            small_nwb: Path, cache_dir: Path) -> None:
    plain = [f"{loopback_dandi.base_url}/blobs/{loopback_dandi.add_asset(f'{n}.nwb', small_nwb).blob_id}"
             for n in range(3)]
    urls = _credentialed(plain)
    recordings = npir.open_recordings(urls, cache_dir=cache_dir, progress=False)
    assert [recording.source.location for recording in recordings] == urls  # still what reads the data
    shown = repr(recordings)
    assert not [secret for secret in CREDENTIALS if secret in shown]
    assert all(f"SourceInfo(location={url!r}, identifier=" in shown for url in plain)

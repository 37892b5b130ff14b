"""The source resolver on its own: every string form, local expansion, and clear errors (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.resolve import resolve_each, resolve_sources
from nwb_neurpir.io.sources import ResolvedSource, SourceSpec, parse_source

ASSET = "5f2a1c3e-0b1d-4c6e-9a7f-1234567890ab"
API = "https://api.dandiarchive.org/api"


@pytest.mark.parametrize(("text", "expected"), [
    (ASSET, SourceSpec(text=ASSET, kind="dandi_asset", asset_id=ASSET)),
    (ASSET.upper(), SourceSpec(text=ASSET.upper(), kind="dandi_asset", asset_id=ASSET)),
    ("DANDI:000021", SourceSpec(text="DANDI:000021", kind="dandiset", dandiset="000021")),
    ("dandi:000021/draft", SourceSpec(text="dandi:000021/draft", kind="dandiset", dandiset="000021",
                                      version="draft")),
    ("DANDI:000021/0.210913.1639", SourceSpec(text="DANDI:000021/0.210913.1639", kind="dandiset",
                                              dandiset="000021", version="0.210913.1639")),
    ("DANDI:000021/sub-1/sub-1_ecephys.nwb", SourceSpec(text="DANDI:000021/sub-1/sub-1_ecephys.nwb",
                                                        kind="dandiset", dandiset="000021",
                                                        path="sub-1/sub-1_ecephys.nwb")),
    ("DANDI:000021/draft/sub-1/", SourceSpec(text="DANDI:000021/draft/sub-1/", kind="dandiset", dandiset="000021",
                                             version="draft", path="sub-1/")),
    ("DANDI:000021/draft/sub-*/*ecephys.nwb", SourceSpec(text="DANDI:000021/draft/sub-*/*ecephys.nwb",
                                                         kind="dandiset", dandiset="000021", version="draft",
                                                         path="sub-*/*ecephys.nwb")),
    (f"DANDI:000021/draft/{ASSET}", SourceSpec(text=f"DANDI:000021/draft/{ASSET}", kind="dandi_asset",
                                               dandiset="000021", version="draft", asset_id=ASSET)),
    ("dandi://DANDI/000021@0.210913.1639/sub-1/", SourceSpec(text="dandi://DANDI/000021@0.210913.1639/sub-1/",
                                                            kind="dandiset", dandiset="000021",
                                                            version="0.210913.1639", path="sub-1/")),
    ("dandi://dandi/000021", SourceSpec(text="dandi://dandi/000021", kind="dandiset", dandiset="000021")),
    ("dandi://dandi-sandbox/000021/sub-1/", SourceSpec(text="dandi://dandi-sandbox/000021/sub-1/", kind="dandiset",
                                                       dandiset="000021", path="sub-1/",
                                                       api_url="https://api.sandbox.dandiarchive.org/api")),
    ("dandi://LINC/000021@draft", SourceSpec(text="dandi://LINC/000021@draft", kind="dandiset", dandiset="000021",
                                             version="draft", api_url="https://api.lincbrain.org/api")),
])
def test_parse_dandi_identifiers(text: str, expected: SourceSpec) -> None:
    assert parse_source(text) == expected


@pytest.mark.parametrize(("url", "kind", "fields"), [
    (f"{API}/assets/{ASSET}/download/", "dandi_asset", {"asset_id": ASSET, "api_url": API}),
    (f"{API}/assets/{ASSET}/", "dandi_asset", {"asset_id": ASSET, "api_url": API}),
    (f"{API}/assets/{ASSET}/info/", "dandi_asset", {"asset_id": ASSET, "api_url": API}),
    (f"{API}/dandisets/000021/versions/draft/assets/{ASSET}/", "dandi_asset",
     {"asset_id": ASSET, "dandiset": "000021", "version": "draft", "api_url": API}),
    (f"{API}/dandisets/000021/versions/0.210913.1639/assets/{ASSET}/download/", "dandi_asset",
     {"asset_id": ASSET, "dandiset": "000021", "version": "0.210913.1639"}),
    (f"{API}/dandisets/000021/versions/draft/assets/?path=sub-1/x.nwb", "dandiset",
     {"dandiset": "000021", "version": "draft", "path": "sub-1/x.nwb", "api_url": API}),
    (f"{API}/dandisets/000021/", "dandiset", {"dandiset": "000021", "api_url": API}),
    ("https://dandiarchive.org/dandiset/000021", "dandiset", {"dandiset": "000021", "api_url": API}),
    ("https://dandiarchive.org/dandiset/000021/draft/files?location=sub-1%2F", "dandiset",
     {"dandiset": "000021", "version": "draft", "path": "sub-1/", "api_url": API}),
    ("https://gui.dandiarchive.org/#/dandiset/000021/0.210913.1639/files?location=sub-2", "dandiset",
     {"dandiset": "000021", "version": "0.210913.1639", "path": "sub-2/"}),
    ("https://sandbox.dandiarchive.org/dandiset/000123/draft", "dandiset",
     {"api_url": "https://api.sandbox.dandiarchive.org/api"}),
    ("http://127.0.0.1:8000/dandiset/000123", "dandiset", {"dandiset": "000123", "api_url": None}),
    ("https://example.org/data/session.nwb", "url", {"url": "https://example.org/data/session.nwb"}),
    ("s3://dandiarchive/blobs/abc/def", "url", {"url": "https://dandiarchive.s3.amazonaws.com/blobs/abc/def"}),
])
def test_parse_urls(url: str, kind: str, fields: dict) -> None:
    spec = parse_source(url)
    assert spec.kind == kind
    for name, value in fields.items():
        assert getattr(spec, name) == value, name


def test_parse_local_forms(tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    folder.mkdir()
    assert parse_source(str(folder)).kind == "folder"
    assert parse_source(folder).kind == "folder"
    assert parse_source(str(folder / "a.nwb")).kind == "file"
    assert parse_source(f"{folder}/**/*.nwb").kind == "glob"
    rerun = folder / "ses 1 [rerun].nwb"
    assert parse_source(str(rerun)).kind == "glob"  # names nothing yet
    rerun.touch()
    assert parse_source(str(rerun)) == SourceSpec(text=str(rerun), kind="file", path=str(rerun))  # as cp takes it
    assert parse_source(folder / "gone [x]*.nwb").kind == "file"  # a pathlib.Path is never a glob


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty source"),
    ("   ", "empty source"),
    ("DANDI:", "six digits"),
    ("DANDI:21", "six digits"),
    ("DANDI:abcdef/draft", "six digits"),
    ("DANDI:000021/../secrets.nwb", "plain relative path"),
    ("DANDI:000021/draft/a/../../b.nwb", "plain relative path"),
    ("DANDI:000021/draft/a//b.nwb", "plain relative path"),
    ("ftp://example.org/a.nwb", "unsupported URL scheme"),
    ("dandi://DANDI/21/sub-1/", "a dandi:// URL reads dandi://<instance>/<six-digit dandiset>"),
    ("dandi://nosuch-archive/000021/sub-1/", "unknown DANDI instance 'nosuch-archive' .* known: .*dandi-sandbox"),
    ("s3://bucket-only", "bucket and a key"),
    (f"{API}/assets/not-a-uuid/download/", "not one of the known forms"),
    (f"{API}/dandisets/000021/versions/draft/assets/zzz/", "not one of the known forms"),
])
def test_malformed_sources_raise_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(NeurPIRError, match=message) as caught:
        parse_source(text)
    assert "\n" not in caught.value.one_line()


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    return path


def test_resolve_local_file_folder_and_globs(tmp_path: Path) -> None:
    a = _touch(tmp_path / "data" / "sub-1" / "sub-1_ecephys.nwb")
    b = _touch(tmp_path / "data" / "sub-2" / "sub-2_ophys.nwb")
    _touch(tmp_path / "data" / "notes.txt")
    _touch(tmp_path / "data" / "sub-2" / "sub-2.nwb.zarr" / "x")

    assert [r.location for r in resolve_sources([a])] == [str(a)]
    folder = resolve_sources([tmp_path / "data"])
    assert [r.location for r in folder] == [str(a), str(b)]
    assert all(r.kind == "local" and r.info.is_local and r.size == 8 for r in folder)
    assert [r.location for r in resolve_sources([tmp_path / "data"], glob="*ophys.nwb")] == [str(b)]
    assert [r.location for r in resolve_sources([tmp_path / "data"], glob="sub-1/*")] == [str(a)]
    assert [r.location for r in resolve_sources([f"{tmp_path}/data/**/*ecephys.nwb"])] == [str(a)]
    # a single file is never filtered by --glob; sources keep their order
    ordered = resolve_sources([b, a], glob="*ophys.nwb")
    assert [r.location for r in ordered] == [str(b), str(a)]


def test_resolved_sources_pass_through(tmp_path: Path) -> None:
    already = resolve_sources([_touch(tmp_path / "x.nwb")])[0]
    assert resolve_sources([already]) == [already]
    assert isinstance(already, ResolvedSource) and already.label() == str(tmp_path / "x.nwb")
    assert already.is_local


def test_resolve_each_keeps_going_past_a_failing_source(tmp_path: Path) -> None:
    good = _touch(tmp_path / "a.nwb")
    resolved, failures = resolve_each([tmp_path / "gone.nwb", good, "DANDI:12"])
    assert [r.location for r in resolved] == [str(good)]
    assert [text for text, _ in failures] == [str(tmp_path / "gone.nwb"), "DANDI:12"]
    assert "no such file" in failures[0][1].message and "six digits" in failures[1][1].message


def test_resolve_plain_url_needs_no_network() -> None:
    [resolved] = resolve_sources(["https://example.org/a.nwb"])
    assert resolved.kind == "url" and resolved.location == "https://example.org/a.nwb"
    assert not resolved.info.is_local and not resolved.is_local


@pytest.mark.parametrize(("sources", "glob", "message"), [
    ([], None, "no sources given"),
    (["does/not/exist.nwb"], None, "no such file or folder"),
    (["{tmp}/empty"], None, "no NWB files found"),
    (["{tmp}/data"], "*.missing", "matching --glob"),
    (["{tmp}/nothing-*.nwb"], None, "no NWB files found"),
])
def test_local_resolution_errors(tmp_path: Path, sources: list[str], glob: str | None, message: str) -> None:
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "data" / "a.nwb")
    with pytest.raises(NeurPIRError, match=message):
        resolve_sources([s.format(tmp=tmp_path) for s in sources], glob=glob)

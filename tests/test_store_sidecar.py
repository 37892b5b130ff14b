"""Sidecar files for sources that cannot be changed, and ``annotate`` choosing in place / copy / sidecar."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from nwbinspector import inspect_nwbfile, load_config
from pynwb import validate

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import SourceInfo
from nwb_neurpir.store import annotate, annotate_recording, read_embeddings, write_sidecar
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile
from store_helpers import PROVENANCE, cached_created_dtype, read_in_clean_process, vectors

DANDI_SOURCE = SourceInfo(location="https://api.example.org/api/assets/abc-123/download/", identifier="ses-remote",
                          dandiset="000207", version="draft", asset_id="abc-123",
                          asset_path="sub-4/sub-4_ses-4_ecephys+image.nwb")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import datetime, timezone

    nwbfile = make_spikes_nwbfile(n_units=8, duration=10.0, seed=3, n_trials=4)
    nwbfile.fields.update(experiment_description="a test session", institution="Lab U", lab="Neuro lab",
                          experimenter=("Doe, Jane", "Roe, Rick"), keywords=("test", "spikes"))
    nwbfile.subject.fields.update(description="MRN 1234567", genotype="wt", strain="C57BL/6J",
                                  date_of_birth=datetime(1972, 5, 3, tzinfo=timezone.utc))
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("template") / "spikes.nwb")


@pytest.fixture()
def session(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(template, tmp_path / "session.nwb"))


def test_read_only_file_gets_a_sidecar_in_its_own_folder(session: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    session.chmod(0o444)
    original = session.read_bytes()
    matrix = vectors(3, dim=4)
    monkeypatch.chdir(tmp_path)
    result = annotate(session, [6, 2, 5], matrix, PROVENANCE)
    assert result.kind == "sidecar"
    assert result.path == tmp_path / "neurpir-sidecars/sub-mouse1/sub-mouse1_ses-ses1_desc-NeurPIREmbeddings.nwb"
    assert session.read_bytes() == original
    frame = read_embeddings(result.path)
    assert frame["neuron_id"].tolist() == [6, 2, 5]
    np.testing.assert_array_equal(np.stack(frame["embedding"]), matrix)
    assert frame["brain_area"].tolist() == ["LGd", "LGd", "CA1"] and frame["location"].tolist() == ["LGd", "LGd", "CA1"]
    assert frame.attrs["source"]["location"] == str(session)
    with h5py.File(session, "r") as file:
        assert frame.attrs["source"]["identifier"] == file["identifier"][()].decode()
    assert validate(path=str(result.path)) == []
    messages = inspect_nwbfile(nwbfile_path=str(result.path), config=load_config("dandi"))
    serious = {m.check_function_name for m in messages
               if m.importance.name in ("CRITICAL", "BEST_PRACTICE_VIOLATION", "ERROR", "PYNWB_VALIDATION")}
    assert serious == set()
    with h5py.File(result.path, "r") as file, h5py.File(session, "r") as source:  # it names its source, no more
        assert sorted(file["general/subject"]) == ["age", "sex", "species", "subject_id"]
        assert sorted(set(file["general"]) - {"subject"}) == ["session_id"]
        assert file["session_start_time"][()] == source["session_start_time"][()]  # NWB requires one
        assert str(tmp_path) not in file["session_description"][()].decode()
        assert file["session_description"][()].decode().startswith("NeurPIR embeddings of the neurons of session.nwb;")
    seen = read_in_clean_process(result.path, "neurpir", "NeurPIREmbeddings")
    assert seen["target_ids"] == [6, 2, 5] and seen["rows"] == [0, 1, 2]
    assert cached_created_dtype(result.path) == "text" and seen["created"] == PROVENANCE.created


def test_a_sidecar_of_an_earlier_release_takes_its_sources_session_id(session: Path, tmp_path: Path) -> None:
    import warnings

    import nwb_neurpir as npir

    sidecar = annotate(session, [6, 2, 5], vectors(3, dim=4), PROVENANCE, output_dir=tmp_path, sidecar=True).path
    with h5py.File(sidecar, "a") as file:  # as releases before ca436fd wrote sidecars: no session id of their own
        del file["general/session_id"]
    with h5py.File(session, "r") as file:
        identifier = file["identifier"][()].decode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert npir.read_embeddings(sidecar)["session_id"].tolist() == ["ses1"] * 3  # the source's, read there
    session.rename(tmp_path / "moved.nwb")
    with pytest.warns(UserWarning, match=rf"^{re.escape(str(sidecar))}: the sidecar records no session id .* its "
                                         rf"source {re.escape(str(session))} cannot be read here; its session_id is "
                                         rf"the source's NWB identifier {identifier}$"):
        assert npir.read_embeddings(sidecar)["session_id"].tolist() == [identifier] * 3


def test_remote_source_sidecar_carries_identity_and_given_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    labels = pd.DataFrame({"brain_area": ["CA1", None], "depth": [120.5, np.nan], "spikes": [[1, 2], [3]]})
    monkeypatch.chdir(tmp_path)
    result = annotate(DANDI_SOURCE, [10, 30], vectors(2), PROVENANCE, label_columns=labels, neuron_table="units",
                      session_start_time="2019-01-01T10:00:00+00:00", subject_id="sub-4")
    assert result.kind == "sidecar"  # DANDI's layout, the session named by the source's identifier
    assert result.path == tmp_path / "neurpir-sidecars/sub-4/sub-4_ses-remote_desc-NeurPIREmbeddings.nwb"  # not doubled
    frame = read_embeddings(result.path)
    assert frame["brain_area"].tolist() == ["CA1", ""] and "spikes" not in frame
    assert frame["depth"].iloc[0] == 120.5 and np.isnan(frame["depth"].iloc[1])
    assert frame.attrs["source"] == {"identifier": "ses-remote", "location": DANDI_SOURCE.location,
                                     "neuron_table": "units", "dandiset_id": "000207", "dandiset_version": "draft",
                                     "asset_id": "abc-123", "asset_path": DANDI_SOURCE.asset_path}
    assert validate(path=str(result.path)) == []


def test_sources_without_a_subject_get_a_subject_each_named_as_their_animals(session: Path, tmp_path: Path) -> None:
    import nwb_neurpir as npir

    twin = Path(shutil.copy(session, tmp_path / "twin.nwb"))
    for path, session_id in ((session, "ses-m15a"), (twin, "m20")):
        with h5py.File(path, "a") as file:
            del file["general/subject"], file["general/session_id"]
            file["general/session_id"] = session_id
    with pytest.warns(UserWarning, match="no general/subject/subject_id"):
        recording = read_nwb(session, bin_size=0.1)
    assert recording.subject_id == "(ses-m15a)"
    out = tmp_path / "sidecars"
    first = annotate_recording(recording, vectors(recording.n_neurons), PROVENANCE, sidecar=True, output_dir=out)
    second = annotate(twin, [0], vectors(1), PROVENANCE, sidecar=True, output_dir=out)
    assert first.path == out / "sub-m15a/sub-m15a_ses-m15a_desc-NeurPIREmbeddings.nwb"  # two animals, not one
    assert second.path == out / "sub-m20/sub-m20_ses-m20_desc-NeurPIREmbeddings.nwb"
    assert set(npir.read_embeddings(first.path)["subject_id"]) == {"(ses-m15a)"}  # as reading the source gives
    assert set(npir.read_embeddings(second.path)["subject_id"]) == {"(m20)"}
    messages = inspect_nwbfile(nwbfile_path=str(first.path), config=load_config("dandi"))
    critical = {message.check_function_name for message in messages if message.importance.name == "CRITICAL"}
    assert critical == {"check_subject_species_exists", "check_subject_age"}  # what no source records is not made up


def test_ids_too_long_for_a_file_name_are_shortened_to_a_prefix_and_a_hash(session: Path, tmp_path: Path) -> None:
    subject = "京都の" * 25  # 225 bytes in UTF-8
    twin = Path(shutil.copy(session, tmp_path / "twin.nwb"))
    out = tmp_path / "sidecars"
    written = []
    for path, last in ((session, "一"), (twin, "二")):
        with h5py.File(path, "a") as file:
            del file["general/subject/subject_id"], file["general/session_id"]
            file["general/subject/subject_id"] = subject
            file["general/session_id"] = "視覚刺激セッション" * 10 + last  # 273 bytes: over 255 alone
        written.append(annotate(path, [0, 1], vectors(2), PROVENANCE, sidecar=True, output_dir=out).path)
    first, second = written
    assert first != second and first.parent == second.parent  # one animal's folder, a file per session
    for path in written:
        assert path.name.startswith("sub-京都の京都の") and "_ses-視覚刺激セッション視覚刺激" in path.name
        assert path.name.endswith("_desc-NeurPIREmbeddings.nwb")
        for part in path.relative_to(out).parts:  # within 255 bytes with its temporary file's name too
            assert len(f".{part}.neurpir-tmp-{'0' * 16}.nwb".encode()) <= 255
        assert read_embeddings(path)["neuron_id"].tolist() == [0, 1]


def test_sidecar_refuses_to_replace_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "side.nwb"
    options = dict(neuron_table="units", session_start_time="2019-01-01T10:00:00+00:00")
    write_sidecar(out, DANDI_SOURCE, [1], vectors(1), PROVENANCE, **options)
    with pytest.raises(NeurPIRError, match="sidecar file already exists"):
        write_sidecar(out, DANDI_SOURCE, [1], vectors(1, seed=1), PROVENANCE, **options)
    write_sidecar(out, DANDI_SOURCE, [1], vectors(1, seed=1), PROVENANCE, overwrite=True, **options)
    np.testing.assert_array_equal(read_embeddings(out)["embedding"].iloc[0], vectors(1, seed=1)[0])
    with pytest.raises(NeurPIRError, match="needs its neuron table and session start time"):
        write_sidecar(tmp_path / "other.nwb", DANDI_SOURCE, [1], vectors(1), PROVENANCE)
    with pytest.raises(NeurPIRError, match="label columns have 2 rows but 1 neuron ids"):
        write_sidecar(tmp_path / "other.nwb", DANDI_SOURCE, [1], vectors(1), PROVENANCE,
                      label_columns=pd.DataFrame({"a": [1, 2]}), **options)


def test_annotate_writes_in_place_or_into_a_copy(session: Path, tmp_path: Path) -> None:
    original = session.read_bytes()
    copy = annotate(session, [0, 1], vectors(2), PROVENANCE, output_dir=tmp_path / "annotated")
    assert copy.kind == "copy" and copy.path == tmp_path / "annotated" / session.name
    assert session.read_bytes() == original and len(read_embeddings(copy.path)) == 2
    in_place = annotate(session, [0, 1], vectors(2), PROVENANCE)
    assert in_place.kind == "in-place" and in_place.path == session and len(read_embeddings(session)) == 2
    assert cached_created_dtype(copy.path) == cached_created_dtype(session) == "text"  # old pynwb reads both
    session.chmod(0o444)
    with pytest.raises(NeurPIRError, match="read-only; write a sidecar"):
        annotate(session, [0], vectors(1), PROVENANCE, sidecar=False, overwrite=True)
    read_only_copy = annotate(session, [0, 1], vectors(2), PROVENANCE, output_dir=tmp_path / "from-read-only",
                              overwrite=True)
    assert read_only_copy.kind == "copy" and read_only_copy.path == tmp_path / "from-read-only" / session.name
    assert len(read_embeddings(read_only_copy.path)) == 2 and read_only_copy.path.stat().st_mode & 0o200
    with pytest.raises(NeurPIRError, match="no such file"):
        annotate(tmp_path / "gone.nwb", [0], vectors(1), PROVENANCE)


def test_annotate_recording_uses_what_the_reader_found(session: Path, tmp_path: Path) -> None:
    recording = read_nwb(session, bin_size=0.1)
    matrix = vectors(recording.n_neurons)
    assert annotate_recording(recording, matrix, PROVENANCE).kind == "in-place"
    assert read_embeddings(session)["neuron_id"].tolist() == recording.neuron_ids.tolist()
    remote = dataclasses.replace(recording, source=DANDI_SOURCE)
    result = annotate_recording(remote, matrix, PROVENANCE, output_dir=tmp_path / "sidecars")
    frame = read_embeddings(result.path)
    assert result.kind == "sidecar"
    assert frame["brain_area"].tolist() == recording.neuron_metadata["brain_area"].tolist()
    assert frame["location"].tolist() == recording.neuron_metadata["location"].tolist()


def test_two_sources_of_one_session_get_two_sidecars_and_a_rerun_replaces_its_own(session: Path,
                                                                                 tmp_path: Path) -> None:
    twin = Path(shutil.copy(session, tmp_path / "twin.nwb"))  # same subject and session, another file
    out = tmp_path / "sidecars"
    first = annotate(session, [0], vectors(1), PROVENANCE, sidecar=True, output_dir=out)
    second = annotate(twin, [0], vectors(1), PROVENANCE, sidecar=True, output_dir=out)
    assert first.path == out / "sub-mouse1/sub-mouse1_ses-ses1_desc-NeurPIREmbeddings.nwb"
    assert second.path.parent == first.path.parent
    assert re.fullmatch(r"sub-mouse1_ses-ses1_desc-NeurPIREmbeddings_obj-[0-9a-f]{8}\.nwb", second.path.name)
    assert read_embeddings(first.path).attrs["source"]["location"] == str(session)
    assert read_embeddings(second.path).attrs["source"]["location"] == str(twin)
    again = annotate(session, [0], vectors(1, seed=2), PROVENANCE, sidecar=True, output_dir=out, overwrite=True)
    assert again.path == first.path
    np.testing.assert_array_equal(read_embeddings(first.path)["embedding"].iloc[0], vectors(1, seed=2)[0])

"""`neurpir annotate` leaves users' data folders as other tools expect them (issue #15, items 1-3): no lock or temporary
files after a run (finished or failed), sidecars in their own folder with DANDI's names and skipped by every reader,
and `--out` keeping the layout of the folder given. nwbinspector and `dandi validate` run on the results.

Commands run as real processes forked from a warm interpreter (``CliForkServer``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest

from hardening_support import CliForkServer, sha256
from nwb_neurpir.store import read_embeddings
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

pytest_plugins = ["hardening_fixtures"]

SESSIONS = {"sub-a/x.nwb": ("a", "s1"), "sub-b/x.nwb": ("b", "s2")}
"""Two files of one name in two subject folders (the layout of a dandiset)."""


def _data(folder: Path) -> Path:
    for relative, (subject, session) in SESSIONS.items():
        write_nwbfile(make_spikes_nwbfile(n_units=12, duration=10.0, seed=ord(subject), n_trials=4,
                                          subject_id=subject, session_id=session), folder / relative)
    return folder


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _inspector_problems(folder: Path) -> list[str]:
    """nwbinspector's messages at or above BEST_PRACTICE_VIOLATION for the folder (the `dandi` config)."""
    report = folder.parent / f"{folder.name}-inspector.json"
    done = subprocess.run([shutil.which("nwbinspector") or "nwbinspector", str(folder), "--config", "dandi",
                           "--threshold", "BEST_PRACTICE_VIOLATION", "--json-file-path", str(report)],
                          capture_output=True, text=True, timeout=300)
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    messages = json.loads(report.read_text())["messages"]
    return [f"{m['importance']} {m['file_path']} {m['check_function_name']}: {m['message']}" for m in messages]


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> Path:
    return tiny_model


def test_annotate_in_place_leaves_only_the_nwb_files_and_nwbinspector_finds_no_error(
        cli_server: CliForkServer, model: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    before = _tree(data)
    assert not [p for p in _inspector_problems(data) if "ERROR" in p or "CRITICAL" in p]
    done = cli_server.run(["annotate", model, data, "--no-progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    assert _tree(data) == before  # no lock or temporary files beside the user's files
    again = cli_server.run(["annotate", model, data, "--no-progress", "--json"], tmp_path / "logs")  # a rerun
    assert again.code == 0, again.stderr[-2000:]
    assert [o["status"] for o in json.loads(again.stdout)] == ["unchanged"] * 2
    assert "annotated 0 of 2 sources; 2 unchanged (already annotated)" in again.stderr
    failed = cli_server.run(["annotate", model, data, "--no-progress", "--filter", 'quality == "good"'],
                            tmp_path / "logs")
    assert failed.code == 1 and "already has embeddings" in failed.stdout + failed.stderr  # other neurons: refused
    assert _tree(data) == before
    problems = [p for p in _inspector_problems(data) if "ERROR" in p or "CRITICAL" in p or "neurpir" in p.lower()]
    assert problems == []


def test_annotate_out_keeps_the_layout_and_refuses_to_merge_two_files_into_one(
        cli_server: CliForkServer, model: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    before = {relative: sha256(data / relative) for relative in SESSIONS}
    done = cli_server.run(["annotate", model, data, "--out", tmp_path / "out", "--no-progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    assert _tree(tmp_path / "out") == sorted(SESSIONS)
    for relative, (subject, _) in SESSIONS.items():
        assert read_embeddings(tmp_path / "out" / relative)["neuron_id"].tolist() == list(range(12))
        with h5py.File(tmp_path / "out" / relative, "r") as file:
            assert file["general/subject/subject_id"][()].decode() == subject
        assert sha256(data / relative) == before[relative]
    both = [data / relative for relative in SESSIONS]
    done = cli_server.run(["annotate", model, *both, "-o", tmp_path / "flat", "--overwrite", "--no-progress"],
                          tmp_path / "logs")
    assert done.code == 1
    assert "another source of this run was already written to" in done.stdout
    with h5py.File(tmp_path / "flat" / "x.nwb", "r") as file:  # the first file's copy, not overwritten by the second
        assert file["general/subject/subject_id"][()].decode() == "a"


def test_sidecars_go_to_their_own_folder_and_every_reader_skips_them(
        cli_server: CliForkServer, model: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    before = _tree(data)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = cli_server.run(["annotate", model, data, "--sidecar", "--no-progress"], tmp_path / "logs", cwd=cwd)
    assert done.code == 0, done.stderr[-2000:]
    assert _tree(data) == before
    names = ["neurpir-sidecars/sub-a/sub-a_ses-s1_desc-NeurPIREmbeddings.nwb",
             "neurpir-sidecars/sub-b/sub-b_ses-s2_desc-NeurPIREmbeddings.nwb"]
    assert _tree(cwd) == names
    assert read_embeddings(cwd / names[0]).attrs["source"]["location"] == str(data / "sub-a/x.nwb")
    assert [p for p in _inspector_problems(cwd / "neurpir-sidecars") if "ERROR" in p or "CRITICAL" in p] == []
    # sidecars inside the data folder: readers skip them instead of failing on them
    shutil.copytree(cwd / "neurpir-sidecars", data / "derived")
    inspected = cli_server.run(["inspect", data, "--json", "--no-progress"], tmp_path / "logs")
    assert inspected.code == 0, inspected.stderr[-2000:]
    assert [s["holds"] for s in json.loads(inspected.stdout)] == ["NeurPIR sidecar"] * 2 + ["units"] * 2
    embedded = cli_server.run(["embed", model, data, "--json", "--no-progress"], tmp_path / "logs")
    assert embedded.code == 0, embedded.stderr[-2000:]
    assert len(json.loads(embedded.stdout)["recordings"]) == 2 and "NeurPIR sidecar file" in embedded.stderr
    annotated = cli_server.run(["annotate", model, data, "--json", "--no-progress"], tmp_path / "logs")
    assert annotated.code == 0, annotated.stderr[-2000:]
    assert sorted(o["status"] for o in json.loads(annotated.stdout)) == ["in-place", "in-place", "skipped", "skipped"]
    only_sidecars = cli_server.run(["embed", model, data / "derived"], tmp_path / "logs")
    assert only_sidecars.code == 1 and "only NeurPIR sidecar files or files without neurons" in only_sidecars.stderr


def test_a_modality_asked_for_skips_the_files_of_the_other_kind(cli_server: CliForkServer, model: Path,
                                                                 tmp_path: Path) -> None:
    from nwb_neurpir.io import open_recordings
    from nwb_neurpir.io.nwb_reader import ModalityMismatch
    from nwb_neurpir.testing import make_ophys_nwbfile

    data = tmp_path / "data"
    write_nwbfile(make_spikes_nwbfile(n_units=6, duration=5.0, seed=1, subject_id="a", session_id="s1"),
                  data / "sub-a" / "sub-a_ses-s1_ecephys.nwb")
    write_nwbfile(make_ophys_nwbfile(n_rois=5, n_frames=100, with_context=False),
                  data / "sub-a" / "sub-a_ses-s1_ophys.nwb")
    with pytest.warns(UserWarning, match=r"1 file holds spikes data only, not the ophys data being read; skipped: "
                                         r".*sub-a_ses-s1_ecephys\.nwb$"):
        recordings = list(open_recordings([data], modality="ophys", progress=False))
    assert [recording.modality for recording in recordings] == ["ophys"]
    with pytest.raises(ModalityMismatch, match="spikes data was asked for"):
        list(open_recordings([data / "sub-a" / "sub-a_ses-s1_ophys.nwb"], modality="spikes", progress=False))
    annotated = cli_server.run(["annotate", model, data, "--out", tmp_path / "out", "--json", "--no-progress"],
                               tmp_path / "logs")
    assert annotated.code == 0, annotated.stderr[-2000:]
    assert sorted(o["status"] for o in json.loads(annotated.stdout)) == ["copy", "skipped"]
    again = cli_server.run(["annotate", model, data, "--out", tmp_path / "out", "--json", "--no-progress"],
                           tmp_path / "logs")  # the copy holds these embeddings already; the other kind stays skipped
    assert again.code == 0 and sorted(o["status"] for o in json.loads(again.stdout)) == ["skipped", "unchanged"]
    shutil.copy(data / "sub-a" / "sub-a_ses-s1_ophys.nwb", tmp_path / "out" / "sub-a")  # not annotated: left out
    plotted = cli_server.run(["plot", tmp_path / "out", "--projection", "pca", "--out", tmp_path / "p.png", "--json",
                              "--no-progress"], tmp_path / "logs")
    assert plotted.code == 0 and json.loads(plotted.stdout)["n_neurons"] == 6, plotted.stderr[-2000:]
    shown = cli_server.run(["evaluate", tmp_path / "out", "--label", "brain_area", "--split", "kfold", "--folds", "2",
                            "--methods", "neurpir", "--json", "--no-progress"], tmp_path / "logs")
    assert shown.code == 0, shown.stderr[-2000:]


def test_a_sidecar_names_its_source_from_any_folder(cli_server: CliForkServer, model: Path, tmp_path: Path) -> None:
    _data(tmp_path / "data")
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    relative = os.path.relpath(tmp_path / "data" / "sub-a" / "x.nwb", work)
    done = cli_server.run(["annotate", model, relative, "--sidecar", "--out", "../sidecars", "--no-progress"],
                          tmp_path / "logs", cwd=work)
    assert done.code == 0, done.stderr[-2000:]
    sidecar = tmp_path / "sidecars/sub-a/sub-a_ses-s1_desc-NeurPIREmbeddings.nwb"
    assert read_embeddings(sidecar).attrs["source"]["location"] == str((tmp_path / "data/sub-a/x.nwb").resolve())
    again = cli_server.run(["annotate", model, tmp_path / "data" / "sub-a" / "x.nwb", "--sidecar", "--out",
                            tmp_path / "sidecars", "--overwrite", "--no-progress"], tmp_path / "logs", cwd=elsewhere)
    assert again.code == 0, again.stderr[-2000:]
    assert _tree(tmp_path / "sidecars") == ["sub-a/sub-a_ses-s1_desc-NeurPIREmbeddings.nwb"]
    shown = cli_server.run(["evaluate", tmp_path / "sidecars", "--label", "brain_area", "--split", "kfold", "--folds",
                            "2", "--methods", "hand", "--json"], tmp_path / "logs", cwd=elsewhere)
    assert shown.code == 0, shown.stderr[-2000:]
    (tmp_path / "data").rename(tmp_path / "moved")
    gone = cli_server.run(["evaluate", tmp_path / "sidecars", "--label", "brain_area", "--split", "kfold", "--folds",
                           "2", "--methods", "hand"], tmp_path / "logs", cwd=elsewhere)
    assert gone.code == 1 and f"this sidecar holds is not at {(tmp_path / 'data/sub-a/x.nwb').resolve()} any more, " \
        "and none of the 1 files given has its NWB identifier" in gone.stderr


@pytest.mark.skipif(shutil.which("dandi") is None, reason="the dandi CLI is not installed")
def test_dandi_validate_finds_no_error_in_a_folder_of_sidecars(cli_server: CliForkServer, model: Path,
                                                              tmp_path: Path) -> None:
    """The folder as a derived dandiset (a dandiset.yaml makes `dandi validate` check names and content offline)."""
    data = _data(tmp_path / "data")
    out = tmp_path / "derived"
    done = cli_server.run(["annotate", model, data, "--sidecar", "--out", out, "--no-progress"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    (out / "dandiset.yaml").write_text("identifier: '000999'\nname: NeurPIR embeddings\ndescription: test\n")
    checked = subprocess.run(["dandi", "validate", "--format", "json", str(out)], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "DANDI_NO_ET": "1"}, cwd=tmp_path)
    issues = json.loads(checked.stdout)
    assert [f"{i['severity']} {i['id']} {i.get('path')}" for i in issues if i["severity"] in ("ERROR", "CRITICAL")
            or i["id"] == "DANDI.NON_DANDI_FILENAME"] == []
    assert len(list(out.rglob("*.nwb"))) == 2

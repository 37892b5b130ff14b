"""How sources on a lab's shared filesystem are found and named: a file name with ``[ ]`` is that file, not a glob; a
folder is searched into linked folders (each real folder once) but not into hidden ones; file names that are not
UTF-8, a file another program holds open for writing, a link into a read-only folder, ``--out`` for a file that
already holds the embeddings, and a read-only source run from a folder that cannot be written.

Real NWB files written by pynwb; commands run as real processes forked from a warm interpreter (``CliForkServer``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import pandas as pd
import pytest

import nwb_neurpir as npir
from hardening_support import CliForkServer, sha256
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.store import list_embeddings, read_embeddings
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

pytest_plugins = ["hardening_fixtures"]


def _session(path: Path, seed: int = 1, subject: str = "a") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_nwbfile(make_spikes_nwbfile(n_units=10, duration=10.0, seed=seed, n_trials=4, subject_id=subject,
                                      session_id=f"s{seed}"), path)
    return path


def _annotated(path: Path) -> bool:
    return bool(list_embeddings(path))


def _statuses(stdout: str) -> dict[str, str]:
    return {Path(outcome["source"]).name: outcome["status"] for outcome in json.loads(stdout)}


def test_a_name_with_brackets_is_that_file_and_a_missing_one_is_still_a_glob(
        cli_server: CliForkServer, tiny_model: Path, tmp_path: Path) -> None:
    rerun = _session(tmp_path / "brk" / "ses 1 [rerun].nwb", seed=1)
    lookalike = _session(tmp_path / "brk" / "ses 1 r.nwb", seed=2)  # what the glob [rerun] matches
    untouched = sha256(lookalike)
    done = cli_server.run(["annotate", tiny_model, rerun, "--no-progress", "--json"], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    assert _statuses(done.stdout) == {"ses 1 [rerun].nwb": "in-place"}
    assert _annotated(rerun) and sha256(lookalike) == untouched
    for given in (rerun, str(rerun)):  # the Python API: a pathlib.Path and a string alike
        [outcome] = npir.annotate(tiny_model, given, progress=False)
        assert outcome.status == "unchanged" and Path(outcome.path) == rerun
    assert sha256(lookalike) == untouched
    with pytest.raises(NeurPIRError, match="no such file"):
        npir.annotate(tiny_model, tmp_path / "brk" / "ses 1 [r]*.nwb", progress=False)  # a Path is never a glob
    from nwb_neurpir.io.resolve import resolve_sources
    assert [Path(r.location).name for r in resolve_sources([f"{tmp_path}/brk/ses 1 [r]*.nwb"])] == ["ses 1 r.nwb"]


def test_a_folder_is_searched_into_linked_folders_once_and_not_into_hidden_ones(
        cli_server: CliForkServer, tiny_model: Path, tmp_path: Path) -> None:
    real = _session(tmp_path / "steinmetz" / "sub-b" / "sub-b_ses-1.nwb", seed=3, subject="b")
    share = tmp_path / "share"
    plain = _session(share / "projA" / "sub-a" / "sub-a_ses-1.nwb", seed=4)
    (share / "projA" / "steinmetz (lien)").symlink_to(tmp_path / "steinmetz", target_is_directory=True)
    (share / "alias").symlink_to(share / "projA", target_is_directory=True)  # the same real folder again
    (share / "projA" / "loop").symlink_to(share, target_is_directory=True)  # a loop
    trash = _session(share / ".Trash-1000" / "files" / "sub-a_ses-1.nwb", seed=5)
    snapshot = _session(share / ".snapshot" / "hourly.0" / "sub-a_ses-1.nwb", seed=6)
    hidden = {path: sha256(path) for path in (trash, snapshot)}
    done = cli_server.run(["annotate", tiny_model, share, "--no-progress", "--json"], tmp_path / "logs",
                          cwd=tmp_path)
    assert done.code == 0, done.stderr[-2000:]
    assert sorted(o["source"] for o in json.loads(done.stdout)) == [
        str(share / "projA" / "steinmetz (lien)" / "sub-b" / "sub-b_ses-1.nwb"), str(plain)]
    assert _annotated(real) and _annotated(plain)
    assert {path: sha256(path) for path in hidden} == hidden


def _latin1_folder(tmp_path: Path) -> Path:
    """A folder holding an NWB file whose name is Latin-1 bytes (``donn\\xe9es ses 1.nwb``), not UTF-8."""
    folder = tmp_path / "latin1"
    folder.mkdir()
    name = os.fsdecode(b"donn\xe9es ses 1.nwb")
    try:
        (folder / name).touch()
    except (OSError, UnicodeEncodeError):
        pytest.skip("this filesystem takes only UTF-8 names")
    (folder / name).unlink()
    _session(folder / name, seed=8)
    return folder


def test_file_names_that_are_not_utf8_are_embedded_and_get_a_sidecar(
        cli_server: CliForkServer, tiny_model: Path, tmp_path: Path) -> None:
    folder = _latin1_folder(tmp_path)
    table = tmp_path / "x.csv"
    done = cli_server.run(["embed", tiny_model, folder, "--out", table], tmp_path / "logs")
    assert done.code == 0, done.stderr[-2000:]
    assert {Path(name).name for name in pd.read_csv(table)["file"]} == {r"donn\xe9es ses 1.nwb"}
    done = cli_server.run(["annotate", tiny_model, folder, "--sidecar", "--no-progress", "--json"], tmp_path / "logs",
                          cwd=tmp_path)
    assert done.code == 0, done.stderr[-2000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["status"] == "sidecar"
    source = read_embeddings(outcome["path"]).attrs["source"]
    assert source["location"] == str(folder.resolve() / r"donn\xe9es ses 1.nwb")
    again = cli_server.run(["annotate", tiny_model, folder, "--sidecar", "--no-progress", "--json"],
                           tmp_path / "logs", cwd=tmp_path)
    assert [o["status"] for o in json.loads(again.stdout)] == ["unchanged"]


def test_a_file_another_program_holds_open_for_writing_is_said_to_be_locked(
        cli_server: CliForkServer, tiny_model: Path, tmp_path: Path) -> None:
    path = _session(tmp_path / "busy.nwb", seed=9)
    with h5py.File(path, "a"):  # a colleague's script writing to it
        done = cli_server.run(["annotate", tiny_model, path, "--no-progress"], tmp_path / "logs")
    if "locked by another program" not in done.stdout + done.stderr and done.code == 0:
        pytest.skip("HDF5 file locking is off here (HDF5_USE_FILE_LOCKING or the filesystem)")
    assert done.code == 1
    said = done.stdout + done.stderr
    assert "locked by another program" in said and "try again when that program has closed it" in said
    assert "damaged" not in said
    assert not _annotated(path)


def test_a_link_into_a_read_only_folder_gets_a_sidecar(cli_server: CliForkServer, tiny_model: Path,
                                                       tmp_path: Path) -> None:
    real = _session(tmp_path / "dossier ro" / "sim02 copie.nwb", seed=10)
    real.parent.chmod(0o555)
    link = tmp_path / "projA" / "lien dossier ro.nwb"
    link.parent.mkdir()
    link.symlink_to(real)
    try:
        done = cli_server.run(["annotate", tiny_model, link, "--no-progress", "--json"], tmp_path / "logs",
                              cwd=tmp_path)
    finally:
        real.parent.chmod(0o755)
    assert done.code == 0, done.stdout + done.stderr[-2000:]
    [outcome] = json.loads(done.stdout)
    assert outcome["status"] == "sidecar" and Path(outcome["path"]).is_relative_to(tmp_path / "neurpir-sidecars")
    assert link.is_symlink() and not _annotated(real)


def test_out_copies_a_file_that_already_holds_the_embeddings_and_a_failed_out_leaves_no_folder(
        cli_server: CliForkServer, tiny_model: Path, tmp_path: Path) -> None:
    source = _session(tmp_path / "data" / "sub-a_ses-1_ecephys.nwb", seed=11)
    assert npir.annotate(tiny_model, source, progress=False)[0].status == "in-place"
    done = cli_server.run(["annotate", tiny_model, source, "--out", tmp_path / "out", "--no-progress", "--json"],
                          tmp_path / "logs")
    assert done.code == 0, done.stdout + done.stderr[-2000:]
    [outcome] = json.loads(done.stdout)
    copy = tmp_path / "out" / "sub-a" / source.name
    assert outcome["status"] == "copy" and Path(outcome["path"]) == copy and sha256(copy) == sha256(source)
    again = cli_server.run(["annotate", tiny_model, source, "--out", tmp_path / "out", "--no-progress", "--json"],
                           tmp_path / "logs")
    assert [o["status"] for o in json.loads(again.stdout)] == ["unchanged"]
    failed = cli_server.run(["annotate", tiny_model, source, "--out", tmp_path / "new" / "out", "--no-progress",
                             "--filter", "quality == 'good'"], tmp_path / "logs")  # other neurons: refused
    assert failed.code == 1 and "already has embeddings" in failed.stdout + failed.stderr
    assert not (tmp_path / "new").exists()


def test_a_read_only_source_run_from_a_folder_that_cannot_be_written_is_named_with_what_to_do(
        tiny_model: Path, tmp_path: Path, deny, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    source = _session(tmp_path / "ro" / "lecture seule.nwb", seed=12)
    source.chmod(0o444)
    here = tmp_path / "here"
    here.mkdir()
    deny(here)
    monkeypatch.chdir(here)
    [outcome] = npir.annotate(tiny_model, source, progress=False, raise_on_failure=False)
    assert outcome.status == "failed"
    assert outcome.error.startswith(str(source)) and "--out DIR" in outcome.error
    assert "neurpir-sidecars" in outcome.error and "Permission denied" in outcome.error


def test_open_nwb_says_locked_only_for_a_lock(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.nwb"
    damaged.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(NeurPIRError, match="damaged or truncated"), open_nwb(damaged):
        pass

"""Output paths and symbolic links another user planted (``followed_links``): `embed --out`, `plot --out`,
`evaluate --out` and in-place `annotate` refuse to write through a link that is neither the writer's nor its folder
owner's, and still write through the user's own links (real NWB files, a real model, the real commands).

A link of another user is made as root (``os.lchown``); those tests are skipped for anyone else.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from eval_files import simulated_folder
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.atomic_files import atomic_write_bytes
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import read_embeddings, write_embeddings
from store_helpers import PROVENANCE, vectors

runner = CliRunner()
OTHER_UID = 54321
"""The owner of a planted link: a user who is neither the writer nor the owner of the folder."""

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="a link of another user can only be made as root (lchown)")


def _refusal(link: Path) -> str:
    return (f"error: {link}: is a symbolic link owned by uid {OTHER_UID}, neither you nor the owner of its folder, so "
            "it is not followed for writing (it could make you replace a file it points at); remove the link, or "
            "write elsewhere\n")


def _planted(link: Path, points_at: Path) -> Path:
    """``link`` -> ``points_at`` (a file of the writer's), owned by another user, in a folder of the writer's."""
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(points_at, link.parent))
    os.lchown(link, OTHER_UID, -1)
    return link


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    """A file of the victim's that a planted link points at."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("my notes")
    return home / "notes.txt"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_folder(tmp_path_factory, seed=3)


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "model"
    npir.NeurPIR(max_steps=2, context="none", num_threads=1).fit(
        npir.open_recordings(simulated, progress=False), checkpoint_dir=folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def annotated(simulated: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("annotated")
    npir.annotate(model_dir, simulated, output_dir=folder, progress=False)
    return folder


@as_root
@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_embed_out_refuses_a_link_another_user_planted(model_dir: Path, annotated: Path, notes: Path,
                                                       tmp_path: Path, suffix: str) -> None:
    link = _planted(tmp_path / "shared" / f"vectors{suffix}", notes)
    done = runner.invoke(app, ["embed", str(model_dir), str(annotated), "--out", str(link), "--no-progress"])
    assert done.exit_code == 1 and done.stderr == _refusal(link)
    assert notes.read_text() == "my notes" and link.is_symlink()


@as_root
def test_plot_out_refuses_a_link_another_user_planted_and_follows_ones_own(annotated: Path, notes: Path,
                                                                          tmp_path: Path) -> None:
    link = _planted(tmp_path / "shared" / "umap.png", notes)
    command = ["plot", str(annotated), "--projection", "pca", "--no-progress", "--out"]
    done = runner.invoke(app, [*command, str(link)])
    assert done.exit_code == 1 and done.stderr == _refusal(link)
    assert notes.read_text() == "my notes"
    own = tmp_path / "latest.png"
    own.symlink_to("run3.png")
    done = runner.invoke(app, [*command, str(own)])
    assert done.exit_code == 0, done.output
    assert own.is_symlink() and (tmp_path / "run3.png").read_bytes().startswith(b"\x89PNG")


@as_root
def test_evaluate_out_refuses_a_planted_link_among_its_report_files(simulated: Path, notes: Path,
                                                                    tmp_path: Path) -> None:
    report = tmp_path / "shared" / "report"
    link = _planted(report / "predictions.csv", notes)
    command = ["evaluate", str(simulated), "--label", "cell_type", "--methods", "hand", "--no-plots", "--out",
               str(report), "--overwrite"]
    done = runner.invoke(app, command)
    assert done.exit_code == 1 and done.stderr == _refusal(link)
    assert notes.read_text() == "my notes"


@as_root
def test_a_link_of_the_folders_owner_is_followed_and_any_foreign_step_of_a_chain_is_not(notes: Path,
                                                                                      tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    link = _planted(theirs / "data.csv", notes)
    os.chown(theirs, OTHER_UID, -1)  # the link is its folder owner's: followed, as the kernel's rule does
    atomic_write_bytes(link, b"a,b\n")
    assert notes.read_text() == "a,b\n"
    os.chown(theirs, 0, -1)
    mine = tmp_path / "latest.csv"
    mine.symlink_to(link)  # own link -> planted link -> the file
    with pytest.raises(NeurPIRError, match=f"^{link}: is a symbolic link owned by uid {OTHER_UID}"):
        atomic_write_bytes(mine, b"x\n")
    folder_link = _planted(tmp_path / "shared" / "out", notes.parent)  # a planted folder on the way
    with pytest.raises(NeurPIRError, match=f"^{folder_link}: is a symbolic link"):
        atomic_write_bytes(folder_link / "vectors.csv", b"x\n")
    assert sorted(p.name for p in notes.parent.iterdir()) == ["notes.txt"] and notes.read_text() == "a,b\n"


@as_root
def test_annotate_in_place_refuses_a_planted_link_and_writes_through_ones_own(simulated: Path,
                                                                              tmp_path: Path) -> None:
    recording = Path(shutil.copy(next(simulated.rglob("*.nwb")), tmp_path / "recording.nwb"))
    before = recording.read_bytes()
    link = _planted(tmp_path / "shared" / "a.nwb", recording)
    with pytest.raises(NeurPIRError, match=f"^{link}: is a symbolic link owned by uid {OTHER_UID}"):
        write_embeddings(link, [0], vectors(1), PROVENANCE)
    assert recording.read_bytes() == before
    own = tmp_path / "linked.nwb"
    own.symlink_to(recording)
    write_embeddings(own, [0], vectors(1), PROVENANCE)
    assert own.is_symlink() and np.array_equal(read_embeddings(recording)["neuron_id"], [0])

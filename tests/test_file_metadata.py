"""What a written file keeps of the file it replaces or copies (``file_metadata``), on real files: the ACL and extended
attributes, the group, hard links, a copy's and a sidecar's permissions, symbolic links written through."""

from __future__ import annotations

import errno
import grp
import os
import shutil
import stat
import struct
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nwb_neurpir import remove_embeddings
from nwb_neurpir.simulate import SimulationConfig, planned_paths, write_dataset
from nwb_neurpir.recording import SourceInfo
from nwb_neurpir.store import read_embeddings, write_embeddings
from nwb_neurpir.store.sidecar import write_sidecar
from nwb_neurpir.testing import make_spikes_nwbfile, mock_recording, write_nwbfile
from nwb_neurpir.workflows.embedding_export import EmbeddedSources
from store_helpers import PROVENANCE, as_another_user, vectors

TESTS = Path(__file__).parent

# Annotates sys.argv[1] in place; prints "written" or the error's line.
_WRITER = """import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import write_embeddings
from store_helpers import PROVENANCE, vectors
try:
    write_embeddings(Path(sys.argv[1]), [0], vectors(1), PROVENANCE)
    print("written")
except NeurPIRError as error:
    print(error.one_line())
"""


@pytest.fixture(scope="module")
def spikes_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nwbfile(make_spikes_nwbfile(n_units=6, duration=5.0, seed=5),
                         tmp_path_factory.mktemp("template") / "spikes.nwb")


@pytest.fixture()
def spikes(spikes_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(spikes_template, tmp_path / "session.nwb"))


@pytest.fixture()
def umask_002() -> Iterator[None]:
    previous = os.umask(0o002)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _acl_reading_group(gid: int) -> bytes:
    """``system.posix_acl_access`` of ``u::rw-,g::r--,g:<gid>:r--,m::r--,o::---`` (as ``setfacl`` writes it)."""
    def entry(tag: int, perm: int, qualifier: int = 0xFFFFFFFF) -> bytes:
        return struct.pack("<HHI", tag, perm, qualifier)

    return struct.pack("<I", 2) + entry(1, 6) + entry(4, 4) + entry(8, 4, gid) + entry(0x10, 4) + entry(0x20, 0)


def _xattrs(path: Path) -> dict[str, bytes]:
    return {name: os.getxattr(path, name) for name in os.listxattr(path)}


def test_an_in_place_write_keeps_the_acl_and_extended_attributes(spikes: Path) -> None:
    spikes.chmod(0o640)
    try:
        os.setxattr(spikes, "system.posix_acl_access", _acl_reading_group(4000))
        os.setxattr(spikes, "user.lab_project", b"projet A")
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            pytest.skip(f"the temporary folder's file system has no ACLs or user attributes ({error.strerror})")
        raise
    before = _xattrs(spikes)
    write_embeddings(spikes, [0, 1], vectors(2), PROVENANCE)
    assert _xattrs(spikes) == before and _mode(spikes) == 0o640 and len(read_embeddings(spikes)) == 2
    remove_embeddings(spikes, "NeurPIREmbeddings")
    assert _xattrs(spikes) == before and _mode(spikes) == 0o640


def test_a_file_of_a_group_the_writer_is_not_in_is_refused_before_writing(spikes: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a file of a group this user is not in (in a folder they may write) needs root to make")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    target = spikes.rename(shared / spikes.name)
    os.chown(target, 65534, 4343)  # the writer's own file, of a group the writer is not in
    target.chmod(0o664)
    before = target.read_bytes()
    done = subprocess.run([*as_another_user(), sys.executable, "-c", _WRITER, str(target), str(TESTS)],
                          capture_output=True, text=True, check=False)
    try:
        group = f"group {grp.getgrgid(4343).gr_name}"
    except KeyError:
        group = "group 4343"
    assert done.stdout.strip() == (f"{target}: is in {group}, which you are not in; replacing it would move it to "
                                   f"another group and could lock {group}'s members out of it; write a copy (--out "
                                   f"DIR) or a sidecar file (--sidecar), or ask a member of {group} to write it"), \
        done.stderr[-2000:]
    assert target.read_bytes() == before and (target.stat().st_uid, target.stat().st_gid) == (65534, 4343)
    assert [p.name for p in shared.iterdir()] == [target.name]


def test_a_hard_linked_file_is_replaced_atomically_with_one_warning(spikes: Path) -> None:
    other = spikes.with_name("other name.nwb")
    os.link(spikes, other)
    old = other.read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_embeddings(spikes, [0], vectors(1), PROVENANCE)
    assert [str(w.message) for w in caught] == [
        f"{spikes.resolve()}: the file has 2 names (hard links); this one gets the new content, its other names keep "
        "the old content"]
    assert len(read_embeddings(spikes)) == 1 and other.read_bytes() == old


def test_a_copy_gets_the_sources_permissions_less_the_umask(spikes: Path, tmp_path: Path, umask_002: None) -> None:
    spikes.chmod(0o640)
    copy = write_embeddings(spikes, [0], vectors(1), PROVENANCE, output=tmp_path / "copy.nwb")
    assert _mode(copy) == 0o640
    spikes.chmod(0o2466)  # set-id bits are not copied; the owner may write the copy of a read-only file
    again = write_embeddings(spikes, [0], vectors(1), PROVENANCE, output=tmp_path / "again.nwb")
    assert _mode(again) == 0o664


def test_a_sidecar_of_a_local_file_gets_its_permissions_less_the_umask(spikes: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        spikes.chmod(0o640)  # its labels, ids and vectors are no more readable in the sidecar than in the source
        local = write_sidecar(tmp_path / "local.nwb", SourceInfo(location=str(spikes)), [0], vectors(1), PROVENANCE)
        assert _mode(local) == 0o640
        spikes.chmod(0o666)  # less the umask, as a copy
        write_sidecar(tmp_path / "open.nwb", SourceInfo(location=str(spikes)), [0], vectors(1), PROVENANCE)
        assert _mode(tmp_path / "open.nwb") == 0o644
        remote = SourceInfo(location="https://example.org/ses.nwb", identifier="ses-remote")
        write_sidecar(tmp_path / "remote.nwb", remote, [0], vectors(1), PROVENANCE, neuron_table="units",
                      session_start_time="2019-01-01T10:00:00+00:00")
        assert _mode(tmp_path / "remote.nwb") == 0o644  # a new file's
    finally:
        os.umask(previous)


def test_simulate_overwrite_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    config = SimulationConfig(n_animals=1, sessions_per_animal=1, n_neurons=20, duration_s=4.0, seed=2)
    planned = planned_paths(tmp_path / "sim", config)[0]
    planned.parent.mkdir(parents=True)
    real = tmp_path / "elsewhere.nwb"
    real.write_bytes(b"old content")
    real.chmod(0o600)
    planned.symlink_to(real)
    assert write_dataset(tmp_path / "sim", config, progress=False, overwrite=True) == [planned]
    assert planned.is_symlink() and real.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n" and _mode(real) == 0o600


def test_a_sidecar_overwrite_writes_through_a_symbolic_link(spikes: Path, tmp_path: Path) -> None:
    real = tmp_path / "real sidecar.nwb"
    write_sidecar(real, SourceInfo(location=str(spikes)), [0], vectors(1), PROVENANCE)
    link = tmp_path / "link.nwb"
    link.symlink_to(real)
    write_sidecar(link, SourceInfo(location=str(spikes)), [0, 1], vectors(2), PROVENANCE, overwrite=True)
    assert link.is_symlink() and len(read_embeddings(real)) == 2


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_embed_out_writes_through_a_link_and_keeps_the_files_mode(tmp_path: Path, suffix: str,
                                                                  umask_002: None) -> None:
    recording = mock_recording(n_per_kind=2)
    sources = EmbeddedSources(rows=[(recording, np.ones((recording.n_neurons, 3), np.float32))], model_sha256="0")
    real = tmp_path / f"vectors{suffix}"
    real.write_bytes(b"old")
    real.chmod(0o600)
    link = tmp_path / f"link{suffix}"
    link.symlink_to(real)
    sources.write(link)
    assert link.is_symlink() and real.read_bytes() != b"old" and _mode(real) == 0o600
    sources.write(real)
    assert _mode(real) == 0o600

"""write_embeddings / read_embeddings on real NWB files: round trip, validation, idempotence, the original kept."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from nwbinspector import inspect_nwbfile, load_config
from pynwb import validate

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import annotate, list_embeddings, read_embeddings, write_embeddings
from nwb_neurpir.store.atomic import lock_path, temp_files
from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, write_nwbfile
from store_helpers import (PROVENANCE, as_another_user, cached_created_dtype, h5_contents, read_in_clean_process,
                           serious_messages_about_ours, vectors)

TESTS = Path(__file__).parent

# Annotates sys.argv[1] in place in a process whose files may not grow past sys.argv[3] bytes ("-": no limit; SIGXFSZ
# ignored, so a write past the limit fails with EFBIG as one on a full disk fails with ENOSPC); prints the error's line.
_LIMITED_WRITER = """import resource, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import write_embeddings
from store_helpers import PROVENANCE, vectors
target = Path(sys.argv[1])
if sys.argv[3] != "-":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
try:
    write_embeddings(target, [0], vectors(1), PROVENANCE)
    print("written")
except NeurPIRError as error:
    print(error.one_line())
"""


@pytest.fixture(scope="module")
def spikes_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nwbfile = make_spikes_nwbfile(n_units=12, duration=10.0, seed=3, n_trials=4)
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("template") / "spikes.nwb")


@pytest.fixture()
def spikes(spikes_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(spikes_template, tmp_path / "session.nwb"))


def test_round_trip_joins_labels_and_validates(spikes: Path) -> None:
    ids = np.array([11, 3, 0, 7])
    matrix = vectors(4)
    assert write_embeddings(spikes, ids, matrix, PROVENANCE) == spikes
    frame = read_embeddings(spikes)
    assert frame["neuron_id"].tolist() == [11, 3, 0, 7]
    np.testing.assert_array_equal(np.stack(frame["embedding"]), matrix)
    areas = np.array(["VISp", "CA1", "LGd", "MRN"])
    assert frame["brain_area"].tolist() == areas[ids % 4].tolist()
    assert frame["location"].tolist() == areas[ids % 4].tolist()  # through units -> electrodes
    assert frame.attrs["neuron_table"] == "units"
    assert frame.attrs["model"]["hyperparameters"] == {"dim": 8, "lr": 0.001}
    assert frame.attrs["model"]["training_data"] == list(PROVENANCE.training_data)
    assert validate(path=str(spikes)) == []
    messages = list(inspect_nwbfile(nwbfile_path=str(spikes), config=load_config("dandi")))
    assert serious_messages_about_ours(messages) == []


def _embedding_group(file: h5py.File) -> h5py.Group:
    return file[f"processing/{list_embeddings(file.filename)[0]}"]


def test_hyperparameters_nested_too_deeply_are_one_line_naming_the_file(spikes: Path) -> None:
    write_embeddings(spikes, [0, 1], vectors(2), PROVENANCE)
    with h5py.File(spikes, "r+") as file:
        model = _embedding_group(file)["model"]
        del model["hyperparameters"]
        model["hyperparameters"] = "[" * 200_000
    with pytest.raises(NeurPIRError, match="hyperparameters is not valid JSON we can read \\(nested too deeply\\)") \
            as deep:
        read_embeddings(spikes)
    assert deep.value.source == str(spikes)


def test_embeddings_stored_outside_the_file_are_not_read(spikes: Path, tmp_path: Path) -> None:
    write_embeddings(spikes, [0, 1], vectors(2), PROVENANCE)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(16, dtype=np.float32).tobytes())
    with h5py.File(spikes, "r+") as file:
        group = _embedding_group(file)
        del group["embedding"]
        group.create_dataset("embedding", shape=(2, 8), dtype="<f4", external=[(str(secret), 0, 64)])
    with pytest.raises(NeurPIRError, match="/embedding is stored outside the file .*; it is not read") as refused:
        read_embeddings(spikes)
    assert refused.value.source == str(spikes)


def test_plain_pynwb_reads_it_without_our_packages(spikes: Path) -> None:
    matrix = vectors(12, dim=5)
    write_embeddings(spikes, np.arange(12), matrix, PROVENANCE, name="v1")
    seen = read_in_clean_process(spikes, "neurpir", "v1")
    assert seen["loaded"] == []
    assert seen["type"] == "NeuronEmbeddings"
    np.testing.assert_array_equal(np.array(seen["embedding"], dtype=np.float32), matrix)
    assert seen["target"] == "units" and seen["rows"] == list(range(12))
    assert seen["checkpoint_sha256"] == PROVENANCE.checkpoint_sha256
    # text, not isodatetime: pynwb before 3.0 could not read a file whose cached spec said isodatetime
    assert cached_created_dtype(spikes) == "text" and seen["created"] == PROVENANCE.created


def test_everything_that_was_there_stays_byte_for_byte(spikes: Path) -> None:
    before = h5_contents(spikes)
    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE)
    after = h5_contents(spikes)
    added = set(after) - set(before)
    assert {name for name in before if after.get(name) != before[name]} == set()
    assert all(name.startswith(("processing/neurpir", "specifications/ndx-neurpir")) for name in added), added


def test_a_file_without_cached_specs_gets_the_core_its_extension_needs(spikes: Path) -> None:
    with h5py.File(spikes, "a") as file:  # as pynwb writes with cache_spec=False: dandi validate accepts it
        del file["specifications"], file.attrs[".specloc"]
    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE)
    with h5py.File(spikes, "r") as file:
        assert sorted(file["specifications"]) == ["core", "hdmf-common", "ndx-neurpir"]
    assert validate(path=str(spikes)) == []  # from the file's own specs, as dandi validate and nwbinspector read it
    messages = list(inspect_nwbfile(nwbfile_path=str(spikes), config=load_config("dandi")))
    assert [m.message for m in messages if m.importance.name == "ERROR"] == []


def test_calcium_rois_are_found_and_labelled(tmp_path: Path) -> None:
    path = write_nwbfile(make_ophys_nwbfile(n_rois=6, n_frames=120, with_context=False), tmp_path / "ophys.nwb")
    write_embeddings(path, [5, 1], vectors(2), PROVENANCE)
    frame = read_embeddings(path)
    assert frame.attrs["neuron_table"] == "processing/ophys/ImageSegmentation/PlaneSegmentation"
    assert frame["cell_type"].tolist() == ["Vip", "Sst"]
    assert frame["location"].tolist() == ["VISp", "VISp"]  # the imaging plane's
    assert validate(path=str(path)) == []


def test_same_name_needs_overwrite_and_overwriting_does_not_grow_the_file(spikes: Path) -> None:
    write_embeddings(spikes, np.arange(12), vectors(12, seed=1), PROVENANCE)
    first = spikes.stat().st_size
    with pytest.raises(NeurPIRError, match="already has embeddings named 'NeurPIREmbeddings'"):
        write_embeddings(spikes, np.arange(12), vectors(12, seed=2), PROVENANCE)
    sizes = []
    for seed in range(3, 7):
        write_embeddings(spikes, np.arange(12), vectors(12, seed=seed), PROVENANCE, overwrite=True)
        sizes.append(spikes.stat().st_size)
    assert max(sizes) <= first and len(set(sizes[1:])) == 1  # the replaced table's space is not kept
    np.testing.assert_array_equal(np.stack(read_embeddings(spikes)["embedding"]), vectors(12, seed=6))
    assert list_embeddings(spikes) == ["neurpir/NeurPIREmbeddings"]
    assert validate(path=str(spikes)) == []


def test_several_embeddings_side_by_side(spikes: Path) -> None:
    write_embeddings(spikes, np.arange(12), vectors(12, dim=8), PROVENANCE, name="small_model")
    write_embeddings(spikes, [2, 4], vectors(2, dim=3), PROVENANCE, name="big_model", module="embeddings")
    assert list_embeddings(spikes) == ["embeddings/big_model", "neurpir/small_model"]
    with pytest.raises(NeurPIRError, match="several embedding tables"):
        read_embeddings(spikes)
    assert read_embeddings(spikes, name="big_model")["neuron_id"].tolist() == [2, 4]
    assert len(read_embeddings(spikes, name="neurpir/small_model")) == 12
    assert validate(path=str(spikes)) == []


def test_output_copy_leaves_the_source_untouched(spikes: Path, tmp_path: Path) -> None:
    original = spikes.read_bytes()
    output = tmp_path / "out" / "annotated.nwb"
    output.parent.mkdir()
    assert write_embeddings(spikes, [0, 1], vectors(2), PROVENANCE, output=output) == output
    assert spikes.read_bytes() == original
    assert read_embeddings(output)["neuron_id"].tolist() == [0, 1]
    with pytest.raises(NeurPIRError, match="annotated.nwb: already has embeddings named 'NeurPIREmbeddings'"):
        write_embeddings(spikes, [0, 1], vectors(2), PROVENANCE, output=output)
    write_embeddings(spikes, [2], vectors(1), PROVENANCE, output=output, name="Second")  # added to the earlier copy
    assert read_embeddings(output, name="NeurPIREmbeddings")["neuron_id"].tolist() == [0, 1]
    assert read_embeddings(output, name="Second")["neuron_id"].tolist() == [2] and spikes.read_bytes() == original


def test_a_symbolic_link_stays_a_link_to_the_annotated_file(spikes: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.nwb"
    link.symlink_to(spikes)
    assert write_embeddings(link, [0, 1], vectors(2), PROVENANCE) == link
    assert link.is_symlink() and len(read_embeddings(spikes)) == 2
    assert not lock_path(link).exists() and not lock_path(spikes).exists()


def test_stale_temporary_files_of_this_target_are_removed(spikes: Path) -> None:
    stale = spikes.with_name(f".{spikes.name}.neurpir-tmp-deadbeef.nwb")
    stale.write_bytes(b"half-written by a killed writer")
    other = spikes.with_name(".other.nwb.neurpir-tmp-x.nwb")
    other.write_bytes(b"belongs to another target")
    write_embeddings(spikes, [0], vectors(1), PROVENANCE)
    assert not stale.exists() and other.exists()
    assert temp_files(spikes) == []
    assert sorted(p.name for p in spikes.parent.iterdir()) == sorted([spikes.name, other.name])


@pytest.fixture(params=[0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A private umask, then a group-sharing one."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(spikes: Path, tmp_path: Path,
                                                                      umask: int) -> None:
    copy = write_embeddings(spikes, [0], vectors(1), PROVENANCE, output=tmp_path / "copy.nwb")
    sidecar = annotate(spikes, [0], vectors(1), PROVENANCE, sidecar=True, output_dir=tmp_path / "sidecars").path
    assert _mode(copy) == (_mode(spikes) | 0o200) & ~umask  # the source's permissions less the umask, as cp gives
    assert _mode(sidecar) == _mode(copy)  # it holds the source's labels and ids too
    spikes.chmod(0o640)
    write_embeddings(spikes, [0], vectors(1), PROVENANCE)
    assert _mode(spikes) == 0o640 and len(read_embeddings(spikes)) == 1


def test_a_replaced_file_keeps_its_owner_and_group(spikes: Path) -> None:
    """Root gives the new file the old one's owner and group; another user, the group when it is one of theirs."""
    if os.geteuid() == 0:
        owner, group = 4242, 4343
    else:
        groups = [gid for gid in os.getgroups() if gid != os.getegid()]
        if not groups:
            pytest.skip("needs a second group to give the file")
        owner, group = os.geteuid(), groups[0]
    os.chown(spikes, owner, group)
    spikes.chmod(0o660)
    write_embeddings(spikes, [0], vectors(1), PROVENANCE)
    after = spikes.stat()
    assert (after.st_uid, after.st_gid, _mode(spikes)) == (owner, group, 0o660)
    assert len(read_embeddings(spikes)) == 1


def test_another_users_file_is_not_replaced_in_place(spikes: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving the file to another user needs root")
    shared, home = tmp_path / "shared", tmp_path / "home"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # a folder and a file the whole lab group may write
    target = spikes.rename(shared / spikes.name)
    target.chmod(0o666)
    home.mkdir()
    os.chown(home, 65534, 65534)
    before = target.read_bytes()
    done = subprocess.run([*as_another_user(), sys.executable, "-c", _LIMITED_WRITER, str(target), str(TESTS), "-"],
                          capture_output=True, text=True, check=False, env={**os.environ, "HOME": str(home)})
    assert done.stdout.strip() == (f"{target}: belongs to root; replacing it would make it yours and could lock root "
                                   "out of it; write a copy (--out DIR) or a sidecar file (--sidecar), or ask root to "
                                   "write it"), done.stderr[-2000:]
    assert target.read_bytes() == before and target.stat().st_uid == 0
    assert [p.name for p in shared.iterdir()] == [target.name]


@pytest.mark.parametrize("limit_of", [lambda size: size // 2, lambda size: size + 2000], ids=["copy", "hdf5"])
def test_a_full_disk_names_the_file_and_leaves_it_as_it_was(spikes: Path, limit_of: Callable[[int], int]) -> None:
    # the copy of the file fails, or HDF5's write into the copy: h5py raised that as a RuntimeError, not an OSError,
    # and HDF5 crashed (SIGSEGV) closing the objects the failed write had left open
    before = spikes.read_bytes()
    done = subprocess.run([sys.executable, "-c", _LIMITED_WRITER, str(spikes), str(TESTS), str(limit_of(len(before)))],
                          capture_output=True, text=True, check=False)
    assert done.stdout.strip() == f"{spikes}: writing failed (File too large); nothing was changed", \
        done.stderr[-2000:]
    assert spikes.read_bytes() == before
    assert sorted(p.name for p in spikes.parent.iterdir()) == [spikes.name]


def _error(path: Path, ids: object, matrix: object, **options: object) -> str:
    with pytest.raises(NeurPIRError) as caught:
        write_embeddings(path, ids, matrix, PROVENANCE, **options)
    message = caught.value.one_line()
    assert "\n" not in message and str(path) in message
    return message


def test_bad_input_gives_one_line_naming_the_file(spikes: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.nwb"
    text.write_text("not hdf5")
    assert "not an HDF5 file" in _error(text, [0], vectors(1))
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as file:
        file["x"] = [1, 2]
    assert "not an NWB file" in _error(plain, [0], vectors(1))
    assert "no such file" in _error(tmp_path / "missing.nwb", [0], vectors(1))
    assert "'units', has no rows with ids 99 (1 of 2 missing)" in _error(spikes, [0, 99], vectors(2))
    assert "no table 'trials2'" in _error(spikes, [0], vectors(1), neuron_table="trials2")
    assert "embeddings have 3 rows but 2 neuron ids" in _error(spikes, [0, 1], vectors(3))
    with_nan = vectors(2)
    with_nan[1, 1] = np.nan
    assert "1 NaN or infinite" in _error(spikes, [0, 1], with_nan)
    assert "NaN or infinite" in _error(spikes, [0, 1], np.array([[1e39, 0.0], [0.0, 0.0]]))  # inf as float32
    assert "duplicates" in _error(spikes, [1, 1], vectors(2))
    assert "not a valid NWB object name" in _error(spikes, [0], vectors(1), name="a/b")
    spikes.chmod(0o444)
    assert "read-only; write a sidecar" in _error(spikes, [0], vectors(1))
    assert list_embeddings(spikes) == []


def test_a_foreign_object_with_the_name_is_never_replaced(spikes: Path) -> None:
    with h5py.File(spikes, "a") as file:
        file.create_group("processing/neurpir/NeurPIREmbeddings").attrs["neurodata_type"] = "TimeSeries"
    assert "holds a TimeSeries" in _error(spikes, [0], vectors(1), overwrite=True)


def test_overwrite_never_replaces_the_copy_of_another_recording(spikes: Path, tmp_path: Path) -> None:
    other = write_nwbfile(make_spikes_nwbfile(n_units=2, duration=5.0, seed=11), tmp_path / "b" / "other.nwb")
    output = tmp_path / "out" / "x.nwb"
    output.parent.mkdir()
    write_embeddings(spikes, [0, 1], vectors(2), PROVENANCE, output=output)
    write_embeddings(spikes, [0, 1], vectors(2, seed=1), PROVENANCE, output=output, overwrite=True)  # same recording
    before = output.read_bytes()
    with pytest.raises(NeurPIRError, match="holds another recording .* not replaced, even with overwrite"):
        write_embeddings(other, [0, 1], vectors(2), PROVENANCE, output=output, overwrite=True)
    with h5py.File(spikes, "r") as source, h5py.File(other, "a") as file:  # another animal, one template identifier
        del file["identifier"]
        file["identifier"] = source["identifier"][()]
        file["general/subject/subject_id"][()] = "mouse2"
    with pytest.raises(NeurPIRError, match=r"holds another recording \(identifier (\S+), subject mouse1, session "
                                           r"ses1; this is identifier \1, subject mouse2, session ses1\)"):
        write_embeddings(other, [0, 1], vectors(2), PROVENANCE, output=output, name="Other")
    assert output.read_bytes() == before


def test_a_name_taken_by_another_tables_companion_is_refused_even_with_overwrite(spikes: Path) -> None:
    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE)
    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE, name="A_model")
    before = spikes.read_bytes()
    for overwrite in (False, True):
        assert ("processing/neurpir/NeurPIREmbeddings_model is the NeurPIRModel that processing/neurpir/"
                "NeurPIREmbeddings links to (as its model); choose another name"
                in _error(spikes, np.arange(12), vectors(12), name="NeurPIREmbeddings_model", overwrite=overwrite))
        assert ("processing/neurpir/A_model already holds a NeuronEmbeddings, not NeurPIR embeddings; choose "
                "another name" in _error(spikes, np.arange(12), vectors(12), name="A", overwrite=overwrite))
    assert spikes.read_bytes() == before
    assert list_embeddings(spikes) == ["neurpir/A_model", "neurpir/NeurPIREmbeddings"]


def test_overwrite_replaces_a_model_group_nothing_links_to(spikes: Path) -> None:
    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE, name="B")
    with h5py.File(spikes, "a") as file:
        del file["processing/neurpir/B"]  # as a user deleting the table alone leaves its model behind
    write_embeddings(spikes, np.arange(12), vectors(12, seed=4), PROVENANCE, name="B", overwrite=True)
    np.testing.assert_array_equal(np.stack(read_embeddings(spikes, "B")["embedding"]), vectors(12, seed=4))
    assert validate(path=str(spikes)) == []


def test_a_file_pynwb_cannot_read_gets_one_short_line_and_stays_unchanged(spikes: Path) -> None:
    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE)
    with h5py.File(spikes, "a") as file:
        del file["processing/neurpir/NeurPIREmbeddings_model"]  # the table's model link now dangles
    before = spikes.read_bytes()
    message = _error(spikes, np.arange(12), vectors(12), name="B")
    assert len(message) < 400 and "GroupBuilder" not in message, message
    assert "pynwb cannot read this NWB file (ConstructError: processing/neurpir/NeurPIREmbeddings: " in message
    assert message.endswith("; the file was left unchanged")
    assert spikes.read_bytes() == before


def test_remove_embeddings_deletes_a_table_and_its_model_and_keeps_the_rest(spikes: Path, tmp_path: Path) -> None:
    from nwb_neurpir.store import ProbeProvenance, list_predictions, remove_embeddings, write_predictions

    write_embeddings(spikes, np.arange(12), vectors(12), PROVENANCE)
    write_embeddings(spikes, np.arange(12), vectors(12, seed=1), PROVENANCE, name="B")
    probe = ProbeProvenance(kind="logistic", label="brain_area", class_names=["CA1", "VISp"], training_data=["a"],
                            checkpoint_sha256="ef" * 32)
    write_predictions(spikes, [0, 1], [[0.2, 0.8], [0.6, 0.4]], probe, PROVENANCE, progress=False)
    size = spikes.stat().st_size
    assert remove_embeddings(spikes, "B", progress=False) == ["processing/neurpir/B", "processing/neurpir/B_model"]
    assert list_embeddings(spikes) == ["neurpir/NeurPIREmbeddings"]
    assert list_predictions(spikes) == ["neurpir/predicted_brain_area"]
    with h5py.File(spikes, "r") as file:
        assert "B_model" not in file["processing/neurpir"]
    assert spikes.stat().st_size < size and validate(path=str(spikes)) == []
    assert temp_files(spikes) == [] and not lock_path(spikes).exists()
    write_embeddings(spikes, np.arange(12), vectors(12, seed=2), PROVENANCE, name="B")  # the name is free again
    before = spikes.read_bytes()
    with pytest.raises(NeurPIRError, match=r"has no embedding tables named 'C' \(tables: neurpir/B, "
                                           r"neurpir/NeurPIREmbeddings\)"):
        remove_embeddings(spikes, "C")
    assert spikes.read_bytes() == before
    from nwb_neurpir.recording import SourceInfo
    from nwb_neurpir.store import write_sidecar

    sidecar = write_sidecar(tmp_path / "side.nwb", SourceInfo(location=str(spikes)), [0, 1], vectors(2), PROVENANCE)
    with pytest.raises(NeurPIRError, match="is a sidecar file holding the embeddings 'neurpir/NeurPIREmbeddings' of "
                                           "one recording; delete the file itself"):
        remove_embeddings(sidecar, "NeurPIREmbeddings")

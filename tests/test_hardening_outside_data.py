"""Data stored outside a shared NWB file is never read: a units column kept in another file (HDF5 external raw storage
pointing at a private file, or an external link into another HDF5 file) is left out with one warning by ``annotate``,
``inspect`` and ``embed --json``, whose outputs never hold its bytes; spike times stored outside stop the read with
one line. The files are written by pynwb and then edited with h5py, as an attacker would."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from hardening_support import CliForkServer, user_lines

pytest_plugins = ["hardening_fixtures"]

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----VICTIM-SECRET-" + b"A" * 70


def _add_column(nwb: Path, name: str, make: object) -> None:
    """Add the units column ``name`` (``make(units, name)`` creates its dataset or link) and declare it."""
    with h5py.File(nwb, "r+") as file:
        units = file["units"]
        make(units, name)
        units.attrs["colnames"] = np.array([*units.attrs["colnames"], name], dtype=h5py.string_dtype())


def _external_storage(secret: Path, n_units: int) -> object:
    """A column of ``n_units`` fixed-length strings whose bytes HDF5 reads from ``secret``."""
    width = len(SECRET) // n_units
    return lambda units, name: units.create_dataset(name, shape=(n_units,), dtype=f"S{width}",
                                                    external=[(str(secret), 0, width * n_units)])


def _external_link(private: Path, n_units: int) -> object:
    """A column that is an external link into the HDF5 file ``private``, whose dataset holds the secret."""
    with h5py.File(private, "w") as file:
        file["diagnosis"] = np.array([SECRET[:20] + b"-%d" % row for row in range(n_units)])
    return lambda units, name: units.__setitem__(name, h5py.ExternalLink(str(private), "/diagnosis"))


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    home = tmp_path / "victim"
    home.mkdir()
    (home / "id_rsa").write_bytes(SECRET)
    (home / "id_rsa").chmod(0o600)
    return home / "id_rsa"


def _files_hold(folder: Path, needle: bytes) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.mark.parametrize("kind", ["external storage", "external link"])
def test_a_column_stored_outside_the_file_is_left_out_of_every_output(
        cli_server: CliForkServer, tiny_model: Path, session_template: Path, secret_file: Path, tmp_path: Path,
        kind: str) -> None:
    shared = Path(shutil.copyfile(session_template, tmp_path / "shared.nwb"))
    shared.chmod(0o644)
    make = _external_storage(secret_file, 20) if kind == "external storage" else \
        _external_link(secret_file.with_name("private.h5"), 20)
    _add_column(shared, "lab_notes", make)
    warning = f"{shared}: column units/lab_notes is stored outside the file"
    needle = SECRET[:30]

    annotated = cli_server.run(["annotate", tiny_model, shared, "--sidecar", "--out", tmp_path / "side"],
                               tmp_path / "logs-annotate")
    assert annotated.code == 0, annotated.stderr[-2000:]
    assert [line for line in user_lines(annotated.stderr) if "outside" in line] == [f"warning: {warning} (external "
                                                                                   "storage or an external link); "
                                                                                   "left out"]
    sidecars = list((tmp_path / "side").rglob("*.nwb"))
    assert len(sidecars) == 1 and not _files_hold(tmp_path / "side", needle)
    with h5py.File(sidecars[0], "r") as file:
        assert [name for name in _names(file) if name.endswith("/brain_area")] and \
            not [name for name in _names(file) if "lab_notes" in name]

    inspected = cli_server.run(["inspect", shared, "--json"], tmp_path / "logs-inspect")
    embedded = cli_server.run(["embed", tiny_model, shared, "--json"], tmp_path / "logs-embed")
    for done in (inspected, embedded):
        assert done.code == 0, done.stderr[-2000:]
        assert needle.decode() not in done.stdout + done.stderr and "VICTIM" not in done.stdout
        assert warning in done.stderr


def _names(file: h5py.File) -> list[str]:
    names: list[str] = []
    file.visit(names.append)
    return names


def test_spike_times_stored_outside_the_file_stop_the_read_with_one_line(
        cli_server: CliForkServer, tiny_model: Path, session_template: Path, secret_file: Path,
        tmp_path: Path) -> None:
    shared = Path(shutil.copyfile(session_template, tmp_path / "shared.nwb"))
    shared.chmod(0o644)
    with h5py.File(shared, "r+") as file:
        n_spikes = file["units/spike_times"].shape[0]
        del file["units/spike_times"]
        secret_file.write_bytes(SECRET * (8 * n_spikes // len(SECRET) + 1))
        file["units"].create_dataset("spike_times", shape=(n_spikes,), dtype="<f8",
                                     external=[(str(secret_file), 0, 8 * n_spikes)])
    done = cli_server.run(["embed", tiny_model, shared, "--json"], tmp_path / "logs")
    lines = user_lines(done.stderr)
    assert done.code == 1, done.stderr[-2000:]
    assert lines == [f"error: {shared}: /units/spike_times is stored outside the file (external storage or an "
                     "external link); it is not read"]

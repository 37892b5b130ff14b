"""Bad files and options give one clear line naming the file (NeurPIRError), never a raw h5py/numpy exception."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from reader_files import WINDOWS, copy_of

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile


# Reads sys.argv[1] in a process that may take 50 MB more address space than it holds before reading (run with
# MALLOC_ARENA_MAX=1); prints the error's line.
_MEMORY_LIMITED_READ = """import resource, sys
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
size = int(next(line for line in open("/proc/self/status") if line.startswith("VmSize")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + (50 << 20),) * 2)
try:
    read_nwb(sys.argv[1])
    print("read")
except NeurPIRError as error:
    print(error.one_line())
"""


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nwbfile = make_spikes_nwbfile(n_units=6, duration=20.0, obs_intervals=WINDOWS, with_context=False)
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("bad") / "spikes.nwb")


def error_for(path: Path, **options: object) -> NeurPIRError:
    with pytest.raises(NeurPIRError) as caught:
        read_nwb(path, **options)
    assert caught.value.source == str(path) and "\n" not in caught.value.one_line()
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in error_for(tmp_path / "absent.nwb").message


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "notes.nwb"
    path.write_text("just some text, not HDF5\n" * 100)
    assert "not an HDF5 file" in error_for(path).message


def test_hdf5_but_not_nwb(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as plain:
        plain["units/spike_times"] = np.arange(10.0)
    assert "not an NWB file" in error_for(path).message


def test_nwb_with_neither_units_nor_ophys(base_file: Path, tmp_path: Path) -> None:
    path = copy_of(base_file, tmp_path)
    with h5py.File(path, "a") as nwb:
        del nwb["units"]
    assert "no units table with spike times and no ophys" in error_for(path).message
    assert "no units table" in error_for(path, modality="spikes").message


def test_asking_for_ophys_in_a_spikes_file(base_file: Path) -> None:
    assert "RoiResponseSeries" in error_for(base_file, modality="ophys").message


def test_truncated_file(base_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.nwb"
    path.write_bytes(base_file.read_bytes()[: base_file.stat().st_size // 2])
    assert "damaged" in error_for(path).message


def test_ragged_index_past_the_data(base_file: Path, tmp_path: Path) -> None:
    path = copy_of(base_file, tmp_path)
    with h5py.File(path, "a") as nwb:
        index = nwb["units/spike_times_index"]
        index[-1] = index[-1] + 1000
    assert "not a valid ragged index" in error_for(path).message


def test_ragged_index_that_starts_at_zero_is_refused(base_file: Path, tmp_path: Path) -> None:
    path = copy_of(base_file, tmp_path)
    with h5py.File(path, "a") as nwb:
        index = nwb["units/spike_times_index"]
        index[...] = np.concatenate([[0], index[:-1]])  # starts written as ends
    assert "spike_times_index ends at" in error_for(path).message


def test_spike_times_of_the_wrong_type(base_file: Path, tmp_path: Path) -> None:
    path = copy_of(base_file, tmp_path)
    with h5py.File(path, "a") as nwb:
        n = nwb["units/spike_times"].shape[0]
        del nwb["units/spike_times"]
        nwb["units/spike_times"] = np.array(["x"] * n, dtype=object)
    assert "spike_times" in error_for(path).message


@pytest.mark.parametrize(("options", "expected"), [
    ({"bin_size": -0.01}, "bin size"),
    ({"bin_size": float("nan")}, "bin size"),
    ({"time_range": (5.0, 1.0)}, "time range"),
    ({"modality": "lfp"}, "modality"),
    ({"time_range": (100.0, 200.0)}, "no observed time"),
])
def test_bad_options(base_file: Path, options: dict, expected: str) -> None:
    assert expected in error_for(base_file, **options).message


def test_duplicate_unit_ids_are_refused_naming_one(base_file: Path, tmp_path: Path) -> None:
    path = copy_of(base_file, tmp_path)
    with h5py.File(path, "a") as nwb:
        ids = nwb["units/id"][()]
        ids[1] = ids[0]
        nwb["units/id"][...] = ids
    assert f"units/id holds 1 ids more than once (e.g. {ids[0]} 2 times)" in error_for(path).message


def test_unreadable_file(base_file: Path, tmp_path: Path, deny: Callable[[Path], Path]) -> None:
    path = deny(copy_of(base_file, tmp_path))
    assert error_for(path).message == "cannot read: permission denied"


def test_not_enough_memory_names_options_that_read_less(tmp_path: Path) -> None:
    # it advised "a unit filter, a time range or a larger bin size": no command takes a time range
    path = write_nwbfile(make_spikes_nwbfile(n_units=2, duration=20.0, obs_intervals=[(0.0, 200_000.0)],
                                             with_context=False), tmp_path / "long.nwb")  # 2e7 bins of 10 ms
    done = subprocess.run([sys.executable, "-c", _MEMORY_LIMITED_READ, str(path)], capture_output=True, text=True,
                          check=False, env={**os.environ, "MALLOC_ARENA_MAX": "1"})
    line = done.stdout.strip()
    assert line.startswith(f"{path}: not enough memory to read the file's data ("), done.stderr[-2000:]
    assert line.endswith("); read fewer neurons (--filter, unit_filter=...), in larger bins (--bin-size, "
                         "bin_size=...) or, in Python, a time range (time_range=(start, stop) in seconds)")

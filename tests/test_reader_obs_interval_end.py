"""#18.7: ``obs_intervals`` end inclusive: a spike exactly at its unit's interval end belongs to the unit (no
"fall outside" warning, in the library or in any command), while a spike past the end still does."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from reader_files import copy_of, replace_dataset, unit_spike_times

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nwbfile = make_spikes_nwbfile(n_units=6, duration=20.0, obs_intervals=[(0.0, 20.0)], n_trials=8)
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("ends") / "spikes.nwb")


def _set_windows(path: Path, windows: list[np.ndarray]) -> None:
    replace_dataset(path, "units/obs_intervals", np.concatenate(windows))
    replace_dataset(path, "units/obs_intervals_index", np.cumsum([len(w) for w in windows]).astype(np.uint32))


def _outside_warnings(path: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_nwb(path, keep_spike_times=True)
    return [str(w.message) for w in caught if issubclass(w.category, NWBReadWarning) and "outside" in str(w.message)]


def test_first_to_last_spike_intervals_drop_nothing(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    _set_windows(copy, [np.array([[times[0], times[-1]]]) for times in per_unit])
    assert _outside_warnings(copy) == []


def test_a_spike_at_a_shared_interval_end_is_not_outside(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    last = max(times[-1] for times in unit_spike_times(copy))
    _set_windows(copy, [np.array([[0.0, last]])] * len(unit_spike_times(copy)))
    assert _outside_warnings(copy) == []


def test_a_spike_past_the_end_still_warns_the_same_way(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    _set_windows(copy, [np.array([[times[0], times[-2]]]) for times in per_unit])
    expected = f"{copy}: {len(per_unit)} spike times fall outside their unit's obs_intervals; they are dropped"
    assert _outside_warnings(copy) == [expected]
    shown = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", "inspect", str(copy)], capture_output=True,
                           text=True, check=True)
    assert f"warning: {expected}" in shown.stderr.splitlines()

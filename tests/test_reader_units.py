"""Spikes from ``/units`` binned on observed windows: counts, grid, masks, metadata and the usable-but-odd cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from reader_files import (
    SECOND_SORTING,
    WINDOWS,
    copy_of,
    replace_dataset,
    set_unit_spike_times,
    two_sortings_file,
    unit_spike_times,
)

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nwbfile = make_spikes_nwbfile(n_units=6, duration=20.0, obs_intervals=WINDOWS, n_trials=8)
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("units") / "spikes.nwb")


def naive_counts(per_unit: list[np.ndarray], bin_times: np.ndarray, bin_size: float) -> np.ndarray:
    return np.array([[np.sum((t >= start) & (t < start + bin_size)) for start in bin_times] for t in per_unit])


def test_counts_grid_and_metadata_match_the_file(base_file: Path) -> None:
    recording = read_nwb(base_file)
    expected_times = np.concatenate([np.arange(0, 5, 0.01), np.arange(10, 15, 0.01)])
    np.testing.assert_allclose(recording.bin_times, expected_times, atol=1e-9)
    assert recording.activity.dtype == np.uint8 and recording.observed is None
    np.testing.assert_array_equal(recording.activity, naive_counts(unit_spike_times(base_file),
                                                                   recording.bin_times, 0.01))
    assert recording.activity.sum() == sum(t.size for t in unit_spike_times(base_file))
    assert list(recording.neuron_ids) == list(range(6))
    assert recording.neuron_table == "units"
    assert list(recording.neuron_metadata.columns) == ["brain_area", "quality", "electrode_id", "location",
                                                       "electrode_group_name"]
    assert list(recording.neuron_metadata["location"]) == ["VISp", "CA1", "LGd", "MRN", "VISp", "CA1"]
    assert set(recording.neuron_metadata["electrode_group_name"]) == {"shank0"}
    assert (recording.subject_id, recording.session_id) == ("mouse1", "ses1")
    assert recording.session_start_time.startswith("2024-01-01T12:00:00")
    assert recording.source.location == str(base_file) and recording.source.identifier
    assert len(recording.trials) == 8 and {"contrast", "feedback_type"} <= set(recording.trials.columns)


def test_filter_bin_size_time_range_and_kept_spike_times(base_file: Path) -> None:
    recording = read_nwb(base_file, unit_filter='quality == "good"', bin_size=0.05, time_range=(2.02, 12.0),
                         keep_spike_times=True)
    assert list(recording.neuron_ids) == [1, 2, 4, 5]
    assert recording.bin_times[0] == pytest.approx(2.05) and recording.bin_times[-1] == pytest.approx(11.95)
    assert np.all(np.diff(recording.bin_times) > 0) and recording.bin_size == 0.05
    chosen = [unit_spike_times(base_file)[i] for i in (1, 2, 4, 5)]
    np.testing.assert_array_equal(recording.activity, naive_counts(chosen, recording.bin_times, 0.05))
    for kept, counts in zip(recording.spike_times, recording.activity):
        assert kept.size == counts.sum() and np.all(np.diff(kept) >= 0)
        assert np.all(((kept >= 2.05) & (kept < 5)) | ((kept >= 10) & (kept < 12)))


def test_no_obs_intervals_grid_spans_the_spikes_and_big_bins_widen_the_count_type(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=6, duration=20.0, with_context=False), tmp_path / "spikes.nwb")
    n_spikes = sum(t.size for t in unit_spike_times(path))
    recording = read_nwb(path)
    first = min(t.min() for t in unit_spike_times(path))
    assert recording.bin_times[0] == pytest.approx(np.floor(first / 0.01) * 0.01)
    assert recording.activity.sum() == n_spikes
    assert recording.covariates == {} and recording.trials is None
    coarse = read_nwb(path, bin_size=10.0)
    assert coarse.activity.dtype == np.uint16 and coarse.activity.max() > 255 and coarse.activity.sum() == n_spikes


def test_without_obs_intervals_a_long_silence_of_every_unit_is_a_gap_between_segments(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=6, duration=120.0, with_context=False), tmp_path / "two.nwb")
    per_unit = unit_spike_times(path)
    shifted = [np.where(t < 60.0, t + 10_000.0, t + 10_940.0) for t in per_unit]  # segments 10000-10060, 11000-11060
    set_unit_spike_times(path, shifted)
    with pytest.warns(NWBReadWarning, match=r"no unit fires for 9\d\d s from 100\d\d s: read as gaps between "
                                            "recording segments"):
        recording = read_nwb(path)
    assert 119.0 < recording.n_bins * recording.bin_size < 121.0
    assert np.diff(recording.bin_times).max() > 900.0 and recording.activity.sum() == sum(t.size for t in per_unit)


def test_spike_times_that_are_not_seconds_are_refused_before_they_fill_memory(
        base_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    milliseconds = copy_of(base_file, tmp_path, "ms.nwb")
    set_unit_spike_times(milliseconds, [t * 1e6 for t in unit_spike_times(base_file)])
    with h5py.File(milliseconds, "a") as file:
        del file["units/obs_intervals"], file["units/obs_intervals_index"]
    with pytest.raises(NeurPIRError, match=r"are the (spike )?times in seconds\?"), \
            pytest.warns(NWBReadWarning, match="span .* days; NWB stores them in seconds"):
        read_nwb(milliseconds)
    monkeypatch.setattr("nwb_neurpir.io.units._MAX_ACTIVITY_CELLS", 1000)  # the limit of a file with more units
    with pytest.raises(NeurPIRError, match=r"6 units x 1e\+03 bins \(0.00278 h observed at 0.01 s bins\) is too much"):
        read_nwb(base_file)
    samples = copy_of(base_file, tmp_path, "samples.nwb")
    replace_dataset(samples, "units/spike_times", (np.concatenate(unit_spike_times(base_file)) * 30_000).astype(int))
    with pytest.raises(NeurPIRError, match="spike_times holds integers \\(sample indices\\?\\)"):
        read_nwb(samples)


def test_different_windows_give_an_observed_mask_and_drop_outside_spikes(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    # unit 0 is now observed only in the first window: its spikes in the second are outside its obs_intervals
    windows = [WINDOWS[:1]] + [WINDOWS] * 5
    replace_dataset(copy, "units/obs_intervals", np.concatenate(windows))
    replace_dataset(copy, "units/obs_intervals_index", np.cumsum([len(w) for w in windows]).astype(np.uint32))
    with pytest.warns(NWBReadWarning, match=rf"{np.sum(per_unit[0] >= 10)} spike times fall outside"):
        recording = read_nwb(copy)
    assert recording.observed is not None and recording.observed.shape == recording.activity.shape
    assert recording.observed[0].sum() == 500 and recording.observed[1:].all()
    assert recording.activity[0, 500:].sum() == 0
    assert recording.activity[0].sum() == np.sum(per_unit[0] < 5)
    np.testing.assert_array_equal(recording.activity[1:], read_nwb(copy, unit_filter="quality == 'good' or "
                                                                               "brain_area != 'VISp'").activity[-5:])


def test_zero_spike_units_are_kept_with_a_warning(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    per_unit[3] = np.zeros(0)
    set_unit_spike_times(copy, per_unit)
    with pytest.warns(NWBReadWarning, match=r"1 units have no spikes \(ids 3\)"):
        recording = read_nwb(copy)
    assert recording.n_neurons == 6 and recording.activity[3].sum() == 0 and recording.activity[2].sum() > 0


def test_unsorted_spike_times_are_sorted_with_a_warning(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    per_unit[1] = per_unit[1][::-1].copy()
    set_unit_spike_times(copy, per_unit)
    with pytest.warns(NWBReadWarning, match="1 units have unsorted spike times"):
        recording = read_nwb(copy, keep_spike_times=True)
    np.testing.assert_array_equal(recording.activity, read_nwb(base_file).activity)
    assert np.all(np.diff(recording.spike_times[1]) >= 0)


def test_negative_nan_and_infinite_spike_times_are_dropped(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    per_unit[0] = np.concatenate([[-1.0, -0.5], per_unit[0], [np.nan, np.inf, -np.inf]])
    set_unit_spike_times(copy, per_unit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording = read_nwb(copy)
    messages = " | ".join(str(w.message) for w in caught)
    assert "3 spike times are NaN or infinite" in messages and "2 spike times are negative" in messages
    assert all(str(copy) in str(w.message) for w in caught)
    np.testing.assert_array_equal(recording.activity, read_nwb(base_file).activity)


def test_only_the_selected_units_spike_times_are_read(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    per_unit = unit_spike_times(copy)
    replace_dataset(copy, "units/spike_times", np.concatenate(per_unit), chunks=(8,), compression="gzip")
    start = 8 * (sum(t.size for t in per_unit[:3]) // 8 + 1)
    assert start + 8 <= sum(t.size for t in per_unit[:4])  # a chunk wholly inside unit 3's spikes
    with h5py.File(copy, "r") as nwb:
        chunk = nwb["units/spike_times"].id.get_chunk_info_by_coord((start,))
    with open(copy, "r+b") as raw:  # break its compressed bytes: reading it now fails
        raw.seek(chunk.byte_offset)
        raw.write(b"\xff" * chunk.size)
    recording = read_nwb(copy, unit_filter="quality == 'good'")  # units 1, 2, 4, 5: unit 3 is never read
    assert list(recording.neuron_ids) == [1, 2, 4, 5]
    np.testing.assert_array_equal(recording.activity, read_nwb(base_file).activity[[1, 2, 4, 5]])
    with pytest.raises(NeurPIRError, match="damaged"):
        read_nwb(copy)


def test_an_open_h5py_file_is_read_and_left_open(base_file: Path) -> None:
    with h5py.File(base_file, "r") as nwb:
        recording = read_nwb(nwb)
        assert nwb.id.valid
    np.testing.assert_array_equal(recording.activity, read_nwb(base_file).activity)


def test_a_filter_that_keeps_no_unit_is_an_error(base_file: Path) -> None:
    with pytest.raises(NeurPIRError, match="no unit passes the filter"):
        read_nwb(base_file, unit_filter="brain_area == 'nowhere'")


def test_a_units_table_in_a_processing_module_is_read(tmp_path: Path) -> None:
    from pynwb.misc import Units

    nwbfile = make_spikes_nwbfile(n_units=3, duration=10.0, with_context=False, with_electrodes=False)
    top = nwbfile.units
    units = Units(name="units", description="written by neuroconv with write_in_processing_module=True")
    for index in range(3):
        units.add_unit(spike_times=top["spike_times"][index])
    nwbfile.create_processing_module("ecephys", "sorted units").add(units)
    path = write_nwbfile(nwbfile, tmp_path / "processing_units.nwb")
    with h5py.File(path, "a") as file:
        del file["units"]
    recording = read_nwb(path)
    assert recording.neuron_table == "processing/ecephys/units" and recording.n_neurons == 3
    assert recording.activity.sum() == sum(len(top["spike_times"][index]) for index in range(3))


def test_a_second_units_table_is_read_by_name_or_path_and_an_unknown_name_lists_the_tables(tmp_path: Path) -> None:
    path = two_sortings_file(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NWBReadWarning)  # /units is read as before, without a word about the other
        default = read_nwb(path)
    assert (default.neuron_table, default.activity_series, list(default.neuron_ids)) == ("units", "units",
                                                                                        list(range(6)))
    with h5py.File(path, "r") as file:
        second_spikes = file[f"{SECOND_SORTING}/spike_times"].shape[0]
    for name in ("units_ms5", SECOND_SORTING, f"/{SECOND_SORTING}"):
        second = read_nwb(path, series=name)
        assert (second.neuron_table, second.activity_series) == (SECOND_SORTING, SECOND_SORTING)
        assert list(second.neuron_ids) == [10, 11, 12, 13] and second.activity.sum() == second_spikes
    with pytest.raises(NeurPIRError, match=r"units table 'no_such_table' not found; the file's units tables: units, "
                                           f"{SECOND_SORTING}$"):
        read_nwb(path, series="no_such_table")


def test_of_two_units_tables_in_processing_the_first_is_read_with_a_warning_naming_the_other(tmp_path: Path) -> None:
    path = two_sortings_file(tmp_path, top_units=False)
    with pytest.warns(NWBReadWarning, match="read the units of processing/ecephys/units_ks4; the other units tables "
                                            f"are not read: {SECOND_SORTING} \\(choose one with --series"):
        recording = read_nwb(path)
    assert recording.neuron_table == "processing/ecephys/units_ks4" and recording.n_neurons == 6
    assert read_nwb(path, series="units_ms5").neuron_table == SECOND_SORTING

"""Calcium ROI responses: series choice, frame grid, NaN masking, averaging into bins, ROI metadata, bad timing."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from reader_files import copy_of, replace_dataset, suite2p_like_file

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

DFF = "processing/ophys/DfOverF/DfOverFSeries"
RAW = "processing/ophys/Fluorescence/RoiResponseSeries"


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_nwbfile(make_ophys_nwbfile(n_rois=5, n_frames=300), tmp_path_factory.mktemp("ophys") / "ophys.nwb")


def series_data(path: Path, series: str) -> np.ndarray:
    with h5py.File(path, "r") as nwb:
        return nwb[f"{series}/data"][()]


def test_dff_is_preferred_one_bin_per_frame(base_file: Path) -> None:
    recording = read_nwb(base_file)
    assert recording.modality == "ophys" and recording.activity.dtype == np.float32
    np.testing.assert_allclose(recording.activity, series_data(base_file, DFF).T)
    assert recording.bin_size == pytest.approx(1 / 30) and recording.observed is None
    np.testing.assert_allclose(recording.bin_times, np.arange(300) / 30)
    assert recording.neuron_table == "processing/ophys/ImageSegmentation/PlaneSegmentation"
    assert list(recording.neuron_ids) == [0, 1, 2, 3, 4]
    assert list(recording.neuron_metadata["cell_type"]) == ["Pvalb", "Sst", "Vip", "Pvalb", "Sst"]
    assert set(recording.neuron_metadata["location"]) == {"VISp"}
    assert "stimulus/visual_contrast" in recording.covariates and "trials/in_trial" in recording.covariates


def test_a_named_series_a_filter_and_a_time_range(base_file: Path) -> None:
    recording = read_nwb(base_file, series="Fluorescence/RoiResponseSeries", unit_filter="cell_type == 'Sst'",
                         time_range=(1.0, 2.0))
    assert list(recording.neuron_ids) == [1, 4]
    np.testing.assert_allclose(recording.activity, series_data(base_file, RAW)[30:60, [1, 4]].T)
    with pytest.raises(NeurPIRError, match="not found; available"):
        read_nwb(base_file, series="Nope")


def test_nan_frames_leave_the_grid_and_partial_nans_are_masked(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    data = series_data(copy, DFF)
    data[10] = np.nan
    data[20, 1] = np.nan
    replace_dataset(copy, f"{DFF}/data", data)
    recording = read_nwb(copy)
    assert recording.n_bins == 299 and not np.isclose(recording.bin_times, 10 / 30).any()
    assert recording.observed is not None and recording.observed.sum() == 299 * 5 - 1
    column = int(np.flatnonzero(np.isclose(recording.bin_times, 20 / 30))[0])
    assert not recording.observed[1, column] and recording.activity[1, column] == 0
    assert np.isfinite(recording.activity).all()


def test_bigger_bins_average_the_frames_inside(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    data = series_data(copy, DFF)
    data[4, 0] = np.nan
    replace_dataset(copy, f"{DFF}/data", data)
    recording = read_nwb(copy, bin_size=0.1)
    assert recording.n_bins == 100 and recording.observed is None
    expected = np.nanmean(data.reshape(100, 3, 5), axis=1).T
    np.testing.assert_allclose(recording.activity, expected, rtol=1e-5)


def test_timestamps_that_do_not_match_the_frames_are_an_error(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    with h5py.File(copy, "a") as nwb:
        del nwb[f"{DFF}/starting_time"]
        nwb[f"{DFF}/timestamps"] = np.arange(250) / 30
    with pytest.raises(NeurPIRError, match="250 timestamps for 300 frames"):
        read_nwb(copy)


def test_irregular_timestamps_are_respected(base_file: Path, tmp_path: Path) -> None:
    copy = copy_of(base_file, tmp_path)
    times = np.cumsum(np.random.default_rng(1).uniform(0.03, 0.036, 300))
    with h5py.File(copy, "a") as nwb:
        del nwb[f"{DFF}/starting_time"]
        nwb[f"{DFF}/timestamps"] = times
    recording = read_nwb(copy)
    np.testing.assert_allclose(recording.bin_times, times)
    assert recording.bin_size == pytest.approx(np.median(np.diff(times)))


def test_roi_traces_are_read_before_neuropil_and_deconvolved_and_other_planes_are_named(tmp_path: Path) -> None:
    path = suite2p_like_file(tmp_path)
    with pytest.warns(UserWarning, match="ROI traces of other segmentations are not read: "
                                         "processing/ophys/Fluorescence/RoiResponseSeriesPlane1 "):
        recording = read_nwb(path)
    np.testing.assert_allclose(recording.activity, series_data(path, "processing/ophys/Fluorescence/"
                                                                      "RoiResponseSeries").T)
    plane1 = read_nwb(path, series="RoiResponseSeriesPlane1")
    assert plane1.neuron_table.endswith("PlaneSegmentationPlane1") and plane1.n_neurons == 3


def test_a_bin_size_within_the_frame_periods_jitter_reads_the_frames_themselves(base_file: Path) -> None:
    recording = read_nwb(base_file, bin_size=1.0002 / 30)  # another session's period, measured from timestamps
    assert recording.n_bins == 300 and recording.bin_size == pytest.approx(1 / 30)
    np.testing.assert_allclose(recording.activity, series_data(base_file, DFF).T)


def test_roi_regions_that_do_not_fit_the_data_say_how(base_file: Path, tmp_path: Path) -> None:
    short = copy_of(base_file, tmp_path, "short.nwb")
    replace_dataset(short, f"{DFF}/rois", np.arange(4))
    with pytest.raises(NeurPIRError, match="rois holds 4 ROIs but its data has 5 columns$"):
        read_nwb(short)
    transposed = copy_of(base_file, tmp_path, "transposed.nwb")
    replace_dataset(transposed, f"{DFF}/data", series_data(base_file, DFF).T.copy())
    with pytest.raises(NeurPIRError, match=r"holds 5 ROIs but its data has 300 columns and 5 rows: the data looks "
                                           r"stored as \(ROIs, frames\)"):
        read_nwb(transposed)


def test_filtering_on_a_column_of_many_values_per_roi_says_so(base_file: Path, tmp_path: Path) -> None:
    path = copy_of(base_file, tmp_path)
    with h5py.File(path, "a") as nwb:  # a trace per ROI: more values than a filter reads one by one
        table = nwb["processing/ophys/ImageSegmentation/PlaneSegmentation"]
        table.create_dataset("trace", data=np.ones((5, 6)))
        table.attrs["colnames"] = np.append(table.attrs["colnames"], "trace").astype(object)
    with pytest.raises(NeurPIRError, match="column 'trace' holds more than 4 values per row"):
        read_nwb(path, unit_filter="trace == 1")
    with pytest.raises(NeurPIRError, match="column 'trace' holds more than 4 values per row"):
        read_nwb(path, unit_filter="trace[0] == 1")


def test_a_calcium_series_named_in_a_file_that_also_holds_units_reads_calcium(tmp_path: Path) -> None:
    nwbfile = make_ophys_nwbfile(n_rois=3, n_frames=90, with_context=False)
    nwbfile.add_unit(spike_times=[0.5, 1.0, 2.0])
    path = write_nwbfile(nwbfile, tmp_path / "units_and_rois.nwb")
    assert read_nwb(path).modality == "spikes"
    named = read_nwb(path, series="Fluorescence/RoiResponseSeries")
    assert (named.modality, named.activity_series) == ("ophys", RAW)
    with pytest.raises(NeurPIRError, match="units table 'Nope' not found"):
        read_nwb(path, modality="spikes", series="Nope")

"""Behaviour and stimulus series come onto the grid by what they record: intervals as an indicator, events as counts
per bin, indices and integer states held, and series on another clock left out with a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pynwb.base import Images, TimeSeries
from pynwb.behavior import BehavioralEpochs, BehavioralEvents, BehavioralTimeSeries
from pynwb.image import GrayscaleImage, IndexSeries
from pynwb.misc import IntervalSeries

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.recording import Recording
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile


@pytest.fixture(scope="module")
def kinds_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of spikes at 10 ms bins with: running intervals [2, 4) and [6.001, 6.003) (shorter than a bin, holding
    no bin centre), licks at 1.001, 1.002 and 3.5 s, a scene index and an integer state that change at 10 s, and a
    wheel series whose clock starts at 100 s."""
    nwbfile = make_spikes_nwbfile(n_units=3, duration=20.0, n_trials=4)
    behavior = nwbfile.processing["behavior"]
    behavior.add(BehavioralEpochs(interval_series=[IntervalSeries(
        name="running", data=[1, -1, 1, -1], timestamps=[2.0, 4.0, 6.001, 6.003], description="running bouts")]))
    with warnings.catch_warnings():  # pynwb 4 prefers an EventsTable; files written before it hold BehavioralEvents
        warnings.filterwarnings("ignore", "BehavioralEvents is deprecated")
        behavior.add(BehavioralEvents(time_series=[TimeSeries(
            name="licks", data=np.ones(3), unit="n.a.", timestamps=[1.001, 1.002, 3.5], description="lick times")]))
    behavior.add(BehavioralTimeSeries(name="States", time_series=[
        TimeSeries(name="arm", data=np.array([0, 3], dtype=np.int32), unit="n.a.", timestamps=[0.0, 10.0],
                   description="maze arm, logged on change"),
        TimeSeries(name="wheel", data=np.ones(100), unit="cm/s", rate=10.0, starting_time=100.0,
                   description="wheel on the rig's own clock")]))
    scenes = Images(name="scenes", images=[GrayscaleImage(name=f"scene{i}", data=np.zeros((2, 2))) for i in range(8)])
    nwbfile.add_stimulus_template(scenes)
    nwbfile.add_stimulus(IndexSeries(name="scene_index", data=np.array([0, 7], dtype=np.uint32), unit="N/A",
                                     indexed_images=scenes, timestamps=[0.0, 10.0], description="scene shown"))
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("kinds") / "kinds.nwb")


@pytest.fixture(scope="module")
def recording(kinds_file: Path) -> Recording:
    with warnings.catch_warnings():  # the wheel's warning is the last test's subject
        warnings.simplefilter("ignore", NWBReadWarning)
        return read_nwb(kinds_file, bin_size=0.01)


def _covariate(recording: Recording, series: str) -> np.ndarray:
    """The one covariate made from the series named ``series``, whatever its name's prefix."""
    names = [name for name in recording.covariates if name.endswith(f"/{series}")]
    assert len(names) == 1, sorted(recording.covariates)
    return recording.covariates[names[0]]


def _bin_of(recording: Recording, time: float) -> int:
    return int(np.searchsorted(recording.bin_times, time + 1e-9, side="right") - 1)


def test_an_interval_series_is_an_in_interval_indicator(recording: Recording) -> None:
    centers = recording.bin_times + recording.bin_size / 2
    expected = ((centers >= 2.0) & (centers < 4.0)).astype(np.float32)
    expected[_bin_of(recording, 6.001)] = 1.0  # the bout shorter than a bin marks the bin it starts in
    np.testing.assert_array_equal(_covariate(recording, "running"), expected)


def test_behavioural_events_are_counted_per_bin(recording: Recording) -> None:
    expected = np.zeros(recording.n_bins, dtype=np.float32)
    expected[_bin_of(recording, 1.0)] = 2.0
    expected[_bin_of(recording, 3.5)] = 1.0
    np.testing.assert_array_equal(_covariate(recording, "licks"), expected)


@pytest.mark.parametrize(("series", "after"), [("scene_index", 7.0), ("arm", 3.0)])
def test_index_and_integer_series_hold_their_last_sample(recording: Recording, series: str, after: float) -> None:
    centers = recording.bin_times + recording.bin_size / 2
    np.testing.assert_array_equal(_covariate(recording, series), np.where(centers < 10.0, 0.0, after))


def test_a_series_on_another_clock_is_left_out_with_a_warning(kinds_file: Path) -> None:
    with pytest.warns(NWBReadWarning, match=r"wheel has samples from 100 s to 109\.9 s, all outside the recording's "
                                            r"0 s to 20 s \(another clock\?\); not used as a covariate"):
        recording = read_nwb(kinds_file, bin_size=0.01)
    assert not any(name.endswith("/wheel") for name in recording.covariates)
    assert any(name.endswith("/running_speed") for name in recording.covariates)

"""``/intervals/invalid_times`` (artefact periods) is time left out for every neuron, as if outside ``obs_intervals``:
the activity, covariates, hand features and vectors of a file with artefact bursts marked there are those of the same
file with the artefact periods cut out of ``obs_intervals``. Real NWB files written with pynwb."""

from __future__ import annotations

import json
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.features import hand_features
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import Recording
from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, tiny_config, write_nwbfile

DURATION = 60.0
ARTEFACTS = [(10.0, 12.0), (25.0, 27.0), (40.0, 42.0), (50.0, 52.0)]
"""Whole seconds, so the grid cut at them in ``obs_intervals`` has the same bins as the grid they are cut from."""
runner = CliRunner()


def _session(path: Path, variant: str) -> Path:
    """One session of 12 Poisson units with trials and running speed, whose units all fire +150 Hz in ``ARTEFACTS``:
    ``marked`` lists them in ``invalid_times``, ``cut`` leaves them out of every unit's ``obs_intervals`` (and their
    spikes out), ``unmarked`` says nothing of them."""
    from pynwb import NWBFile, TimeSeries
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.file import Subject

    rng = np.random.default_rng(7)
    nwbfile = NWBFile(session_description="artefact bursts", identifier=str(uuid.UUID(int=len(variant))),
                      session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc), session_id="s1",
                      subject=Subject(subject_id="rat1", species="Rattus norvegicus", sex="U", age="P90D"))
    nwbfile.add_unit_column("cell_type", "type")
    cut = [(0.0, ARTEFACTS[0][0])] + [(stop, start) for (_, stop), (start, _) in zip(ARTEFACTS, ARTEFACTS[1:])] + \
        [(ARTEFACTS[-1][1], DURATION)]
    for index in range(12):
        times = rng.uniform(0.0, DURATION, rng.poisson(rng.uniform(2.0, 20.0) * DURATION))
        bursts = [rng.uniform(start, stop, rng.poisson(150 * (stop - start))) for start, stop in ARTEFACTS]
        times = np.sort(np.concatenate([times, *bursts]))
        windows = [(0.0, DURATION)]
        if variant == "cut":
            windows = cut
            times = times[~np.any([(times >= start) & (times < stop) for start, stop in ARTEFACTS], axis=0)]
        nwbfile.add_unit(spike_times=times, obs_intervals=windows, cell_type=["A", "B", "C"][index % 3])
    nwbfile.add_trial_column("contrast", "contrast")
    for start in np.arange(1.0, DURATION - 2.0, 3.0):
        nwbfile.add_trial(start_time=float(start), stop_time=float(start + 1.0), contrast=float(start % 2))
    speed = np.abs(np.sin(np.arange(0.0, DURATION, 0.01)))
    behaviour = nwbfile.create_processing_module("behavior", "behaviour")
    behaviour.add(BehavioralTimeSeries(time_series=TimeSeries(name="running_speed", data=speed, unit="cm/s",
                                                              rate=100.0, starting_time=0.0)))
    if variant == "marked":
        for start, stop in ARTEFACTS:
            nwbfile.add_invalid_time_interval(start_time=start, stop_time=stop)
    return write_nwbfile(nwbfile, path / variant / f"sub-rat1_ses-{variant}.nwb")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("artefacts")
    return {variant: _session(folder, variant) for variant in ("marked", "cut", "unmarked")}


def _read(path: Path, **options: object) -> Recording:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a well-formed invalid_times table is read without a warning
        return read_nwb(path, **options)


@pytest.mark.parametrize("keep_spike_times", [False, True])
def test_invalid_times_are_read_as_the_same_periods_cut_out_of_obs_intervals(sessions: dict[str, Path],
                                                                              keep_spike_times: bool) -> None:
    marked, cut, unmarked = (_read(sessions[name], keep_spike_times=keep_spike_times)
                             for name in ("marked", "cut", "unmarked"))
    np.testing.assert_allclose(marked.bin_times, cut.bin_times, rtol=0, atol=1e-9)  # 12 + 0.03 or 0 + 12.03
    np.testing.assert_array_equal(marked.activity, cut.activity)
    assert marked.observed is None and cut.observed is None
    assert marked.covariates.keys() == cut.covariates.keys()  # no invalid_times/in_interval
    for name, values in cut.covariates.items():
        np.testing.assert_array_equal(marked.covariates[name], values, err_msg=name)
    if keep_spike_times:
        for left, right in zip(marked.spike_times, cut.spike_times):
            np.testing.assert_array_equal(left, right)
    assert marked.epoch_starts().size == len(ARTEFACTS) + 1 and marked.observed_seconds == pytest.approx(52.0)
    assert marked.invalid_times.intervals.tolist() == [list(window) for window in ARTEFACTS]
    assert marked.invalid_times.excluded_seconds == pytest.approx(8.0)
    assert cut.invalid_times is None
    features, bursting = hand_features(marked), hand_features(unmarked)
    if keep_spike_times:  # binned ISIs (bin centres 1e-15 s apart) move burst_index: fix-handtime's bug
        np.testing.assert_allclose(features, hand_features(cut), rtol=1e-9, atol=1e-12)
    assert not np.allclose(bursting["fano_factor"], features["fano_factor"], rtol=0.1)


def test_vectors_leave_the_artefact_periods_out(sessions: dict[str, Path]) -> None:
    model = npir.NeurPIR(**tiny_config(max_steps=2).to_dict()).fit(sessions["cut"], progress=False)
    vectors = {name: np.stack(model.transform(path, progress=False)["embedding"]) for name, path in sessions.items()}
    np.testing.assert_array_equal(vectors["marked"], vectors["cut"])
    assert not np.allclose(vectors["unmarked"], vectors["cut"])


def test_invalid_times_leave_calcium_frames_out(tmp_path: Path) -> None:
    nwbfile = make_ophys_nwbfile(n_rois=4, n_frames=300, rate=30.0)
    nwbfile.add_invalid_time_interval(start_time=2.0, stop_time=3.0)
    recording = _read(write_nwbfile(nwbfile, tmp_path / "ophys.nwb"))
    centres = recording.bin_times + 0.5 * recording.bin_size
    assert not np.any((centres > 2.0) & (centres < 3.0))
    assert recording.n_bins == 300 - 30 and recording.epoch_starts().size == 2


@pytest.mark.parametrize(("start", "stop", "shown"), [(5.0, 4.0, "start 5 s, stop 4 s"),
                                                       (float("nan"), 4.0, "start nan s, stop 4 s")])
def test_a_malformed_invalid_times_row_is_a_one_line_error_naming_the_file(tmp_path: Path, start: float,
                                                                           stop: float, shown: str) -> None:
    nwbfile = make_spikes_nwbfile(n_units=3, duration=10.0)
    nwbfile.add_invalid_time_interval(start_time=1.0, stop_time=2.0)
    nwbfile.add_invalid_time_interval(start_time=start, stop_time=stop)
    path = write_nwbfile(nwbfile, tmp_path / "bad.nwb")
    with pytest.raises(NeurPIRError) as caught:
        read_nwb(path)
    assert str(caught.value) == (f"{path}: intervals/invalid_times has 1 malformed row (row 1: {shown}); a row must "
                                 "have finite times with stop_time >= start_time: fix or remove it")


def test_invalid_times_covering_all_observed_time_is_an_error(tmp_path: Path) -> None:
    nwbfile = make_spikes_nwbfile(n_units=3, duration=10.0)
    nwbfile.add_invalid_time_interval(start_time=0.0, stop_time=10.0)
    with pytest.raises(NeurPIRError, match=r"all\.nwb: intervals/invalid_times covers all [0-9.]+ s of observed time: "
                                           "nothing is left to read$"):
        read_nwb(write_nwbfile(nwbfile, tmp_path / "all.nwb"))


def _lost_units(path: Path) -> Path:
    """Four units on an acquisition clock starting at 3,600 s, units 0 and 2 lost 5 s into the 20 s session."""
    from pynwb import NWBFile

    nwbfile = NWBFile(session_description="lost units", identifier="lost", session_id="s2",
                      session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    rng = np.random.default_rng(3)
    for index in range(4):
        stop = 3605.0 if index % 2 == 0 else 3620.0
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(3600.0, stop, 50)), obs_intervals=[[3600.0, stop]])
    return write_nwbfile(nwbfile, path)


def test_inspect_shows_the_span_the_invalid_times_and_the_units_observed_for_less(tmp_path: Path,
                                                                                   sessions: dict[str, Path]) -> None:
    text = runner.invoke(app, ["inspect", str(sessions["marked"])])
    assert text.exit_code == 0, text.output
    assert ("  12 units with spike times from /units; observed 52.0 s in 5 windows between 0.0 and 60.0 s (10 ms "
            "bins)\n  invalid_times: 8.0 s left out (4 intervals)\n") in text.stdout
    assert "invalid_times/" not in text.stdout and "observed for less" not in text.stdout
    path = _lost_units(tmp_path / "lost.nwb")
    shown = runner.invoke(app, ["inspect", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    (summary,) = json.loads(shown.stdout)
    assert summary["observed_span_s"] == [3600.0, 3620.0] and summary["invalid_times"] is None
    assert summary["partly_observed"] == {"n_neurons": 2, "median_observed_s": 5.0}
    printed = runner.invoke(app, ["inspect", str(path)]).stdout
    assert "observed 20.0 s in 1 window between 3600.0 and 3620.0 s" in printed
    assert "  2 units observed for less than the session: median 5.0 s\n" in printed

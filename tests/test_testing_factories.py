"""The shipped NWB factories write files that pynwb reads back with the promised content."""

from __future__ import annotations

from pathlib import Path

from pynwb import NWBHDF5IO

from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, write_nwbfile


def test_spikes_file_round_trip(tmp_path: Path) -> None:
    path = write_nwbfile(make_spikes_nwbfile(n_units=5, duration=20.0, obs_intervals=[(0, 5), (10, 15)]),
                         tmp_path / "s.nwb")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert len(units) == 5
        assert all(((t >= 0) & (t < 5) | (t >= 10) & (t < 15)).all() for t in units["spike_times"])
        assert len(nwb.trials) == 20
        assert "visual_contrast" in nwb.stimulus
        assert nwb.subject.subject_id == "mouse1"


def test_ophys_file_round_trip(tmp_path: Path) -> None:
    path = write_nwbfile(make_ophys_nwbfile(n_rois=4, n_frames=300), tmp_path / "o.nwb")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        series = nwb.processing["ophys"]["Fluorescence"]["RoiResponseSeries"]
        assert series.data.shape == (300, 4)
        assert list(nwb.processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]["cell_type"][:]) == [
            "Pvalb", "Sst", "Vip", "Pvalb"]

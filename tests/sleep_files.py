"""A sleep session with its stages in ``epochs``, written with pynwb, for the tests of ``--during``."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from nwb_neurpir.testing import write_nwbfile

CLOCK = 3600.0
"""The acquisition clock the session starts on."""
STAGES = [(0.0, 10.0, "wake", 0), (10.0, 30.0, "NREM", 1), (30.0, 40.0, "REM", 2), (40.0, 55.0, "NREM", 1),
          (55.0, 60.0, "wake", 0), (70.0, 80.0, "after", 3)]
"""Seconds after ``CLOCK``; whole seconds, so the grid of the NREM epochs as ``obs_intervals`` has the bins of the
grid read during them. The last stage lies after the 60 s observed."""
NREM = [(CLOCK + start, CLOCK + stop) for start, stop, stage, _ in STAGES if stage == "NREM"]


def sleep_session(folder: Path, variant: str) -> Path:
    """A 60 s session of 10 Poisson units on a clock starting at 3,600 s, with sleep stages in ``epochs`` (text
    ``stage``, numeric ``stage_code``), trials in its first 10 s and running speed; ``staged`` is observed
    throughout, ``nrem`` only in its NREM epochs (``obs_intervals``, spikes outside them left out)."""
    from pynwb import NWBFile, TimeSeries
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.file import Subject

    rng = np.random.default_rng(11)
    nwbfile = NWBFile(session_description="sleep", identifier=str(uuid.UUID(int=len(variant))), session_id="night1",
                      session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
                      subject=Subject(subject_id="rat2", species="Rattus norvegicus", sex="U", age="P90D"))
    nwbfile.add_unit_column("cell_type", "type")
    windows = NREM if variant == "nrem" else [(CLOCK, CLOCK + 60.0)]
    for index in range(10):
        times = np.sort(rng.uniform(CLOCK, CLOCK + 60.0, rng.poisson(rng.uniform(2.0, 20.0) * 60.0)))
        inside = np.any([(times >= start) & (times < stop) for start, stop in windows], axis=0)
        nwbfile.add_unit(spike_times=times[inside], obs_intervals=windows, cell_type=["A", "B"][index % 2])
    nwbfile.add_epoch_column("stage", "sleep stage")
    nwbfile.add_epoch_column("stage_code", "0 wake, 1 NREM, 2 REM, 3 after")
    for start, stop, stage, code in STAGES:
        nwbfile.add_epoch(start_time=CLOCK + start, stop_time=CLOCK + stop, stage=stage, stage_code=code)
    nwbfile.add_trial_column("contrast", "contrast")
    for start in np.arange(1.0, 9.0, 2.0):
        nwbfile.add_trial(start_time=CLOCK + start, stop_time=CLOCK + start + 1.0, contrast=float(start % 3))
    speed = np.abs(np.sin(np.arange(0.0, 60.0, 0.01)))
    behaviour = nwbfile.create_processing_module("behavior", "behaviour")
    behaviour.add(BehavioralTimeSeries(time_series=TimeSeries(name="running_speed", data=speed, unit="cm/s",
                                                              rate=100.0, starting_time=CLOCK)))
    return write_nwbfile(nwbfile, folder / variant / f"sub-rat2_ses-{variant}.nwb")

"""The Python API taking recordings already read (real simulated NWB files: three animals, two sessions each but one, read by the real
reader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io import open_recordings
from nwb_neurpir.simulate import SimulationConfig
from nwb_neurpir.simulate.nwb_output import write_dataset

@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sim01 and sim02 with two sessions each, sim03 with one."""
    out = tmp_path_factory.mktemp("two-sessions")
    config = SimulationConfig(n_animals=3, sessions_per_animal=2, n_neurons=25, duration_s=10.0, seed=3)
    written = write_dataset(out, config, progress=False)
    second = [path for path in written if "sim03s02" in path.name]
    assert len(second) == 1
    second[0].unlink()
    return out


@pytest.fixture(scope="module")
def recordings(folder: Path) -> list:
    return list(open_recordings([folder], progress=False, keep_spike_times=True))


def test_the_python_api_evaluates_recordings_already_read(folder: Path, recordings: list) -> None:
    from_paths = npir.evaluate(folder, label="cell_type", methods="hand,hand:gb,hand-pca", progress=False)
    given = npir.evaluate(recordings, label="cell_type", progress=False)  # no model: the hand features
    numbers = given.table().drop(columns="mode")
    np.testing.assert_allclose(numbers.to_numpy(float), from_paths.table()[numbers.columns].to_numpy(float))
    one_at_a_time = npir.evaluate(iter(recordings), label="cell_type", split="session", methods=["hand"],
                                  progress=False)
    assert len(one_at_a_time.folds) == 5
    with pytest.raises(NeurPIRError, match=r"unit_filter= says how to read files, but the recordings given were "
                                           r"read already"):
        npir.evaluate(recordings, label="cell_type", unit_filter="cell_type == 'FS'", progress=False)
    with pytest.raises(NeurPIRError, match="neurpir needs a model"):
        npir.evaluate(recordings, label="cell_type", methods=["neurpir"], progress=False)
    with pytest.raises(TypeError, match="not a mix of both"):
        npir.evaluate([recordings[0], str(folder)], label="cell_type", progress=False)

"""Units without spikes, written by pynwb as a failed or partial spike sorting leaves them: a file whose units all
lack spikes is skipped among many and an error alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NoSpikes
from nwb_neurpir.testing import make_spikes_nwbfile, tiny_config, write_nwbfile

runner = CliRunner()
SILENT_IDS = [12, 13]
"""The ids of the units without spikes in ``s1.nwb`` (after its 12 units with spikes)."""


def _sorting(path: Path, n_spiking: int, n_silent: int, seed: int) -> Path:
    """A pynwb file of ``n_spiking`` Poisson units (``quality`` good or mua) then ``n_silent`` units without spike
    times (``quality`` noise), as a spike sorter exports them."""
    nwbfile = make_spikes_nwbfile(n_units=n_spiking, duration=30.0, seed=seed, subject_id=f"mouse{seed}",
                                  session_id=f"ses{seed}", with_electrodes=False)
    for _ in range(n_silent):
        nwbfile.add_unit(spike_times=np.zeros(0), brain_area="CA1", quality="noise")
    return write_nwbfile(nwbfile, path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sortings (the second with two units without spikes) and one whose units all lack spikes."""
    data = tmp_path_factory.mktemp("sortings")
    _sorting(data / "s0.nwb", 12, 0, seed=0)
    _sorting(data / "s1.nwb", 12, len(SILENT_IDS), seed=1)
    _sorting(data / "failed.nwb", 0, 3, seed=2)
    return data


@pytest.fixture(scope="module")
def model_dir(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the folder: the file without spikes is skipped with a warning."""
    run = tmp_path_factory.mktemp("run")
    config = run / "config.json"
    config.write_text(tiny_config(segment_length_min=1.0, segment_length_max=4.0).to_json())
    done = runner.invoke(app, ["train", str(folder), "--out", str(run / "model"), "--config", str(config),
                               "--max-steps", "2", "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "failed.nwb: all 3 units have no spikes (a failed spike sorting?); skipped" in done.output
    assert "trained 2 steps on 2 recordings" in done.output
    return run / "model"


def test_a_file_whose_units_all_lack_spikes_is_skipped_among_many_and_an_error_alone(folder: Path) -> None:
    with pytest.warns(UserWarning, match=r"failed.nwb: all 3 units have no spikes \(a failed spike sorting\?\); "
                                         "skipped"):
        read = npir.open_recordings([folder], progress=False)
    assert sorted(Path(r.source.location).name for r in read) == ["s0.nwb", "s1.nwb"]
    with pytest.raises(NoSpikes, match=r"failed.nwb: all 3 units have no spikes \(a failed spike sorting\?\)$"):
        npir.open_recordings([folder / "failed.nwb"], progress=False)
    noise = 'quality == "noise"'
    with pytest.raises(NoSpikes, match="s1.nwb: all 2 units the filter keeps have no spikes"):
        npir.open_recordings([folder / "s1.nwb"], progress=False, unit_filter=noise)
    with pytest.warns(UserWarning, match="failed.nwb: all 3 units the filter keeps have no spikes"):
        assert [r.n_neurons for r in npir.open_recordings([folder / "failed.nwb", folder / "s0.nwb"],
                                                          progress=False, unit_filter='quality != "mua"')] == [8]


def test_train_skips_a_file_whose_units_all_lack_spikes(model_dir: Path) -> None:
    assert len(json.loads((model_dir / "model.json").read_text())["training_data"]) == 2  # s0 and s1


def test_inspect_says_a_file_holds_units_without_spikes(folder: Path) -> None:
    holds = {Path(f["source"]).name: (f["holds"], f.get("message", "")) for f in npir.inspect(folder).files}
    assert holds["failed.nwb"][0] == "units without spikes" and "all 3 units have no spikes" in holds["failed.nwb"][1]
    assert holds["s1.nwb"][0] == "units"
    shown = runner.invoke(app, ["inspect", str(folder / "failed.nwb"), "--no-progress"])
    assert shown.exit_code == 0, shown.output
    assert "holds units without spikes: not read -- all 3 units have no spikes" in shown.output

"""Simulated sessions written as DANDI-style NWB files: layout, contents, validity, reproducibility, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.simulate import CELL_TYPES, SimulationConfig, planned_paths, simulate_population, write_dataset

# Runs the neurpir CLI (sys.argv[2:]) in a process whose files may not grow past sys.argv[1] bytes (SIGXFSZ ignored,
# so a write past the limit fails with EFBIG as one on a full disk fails with ENOSPC).
_LIMITED_CLI = """import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from nwb_neurpir.cli.app import main
sys.argv = ["neurpir", *sys.argv[2:]]
main()
"""

TINY = SimulationConfig(n_animals=2, sessions_per_animal=1, n_neurons=25, duration_s=8.0, seed=11)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_dataset(tmp_path_factory.mktemp("sim"), TINY, modality="both", progress=False)


def _read(path: Path):  # noqa: ANN202 - (NWBHDF5IO, NWBFile)
    from pynwb import NWBHDF5IO

    io = NWBHDF5IO(str(path), "r")
    return io, io.read()


def test_files_follow_the_dandi_layout(written: list[Path]) -> None:
    root = written[0].parents[1]
    assert [str(p.relative_to(root)) for p in written] == [
        "sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb", "sub-sim01/sub-sim01_ses-sim01s01_ophys.nwb",
        "sub-sim02/sub-sim02_ses-sim02s01_ecephys.nwb", "sub-sim02/sub-sim02_ses-sim02s01_ophys.nwb"]
    assert not [p for p in root.rglob("*") if p.is_file() and p not in written]
    assert planned_paths(root, TINY, "both") == written


def test_spikes_file_holds_units_with_type_parameters_and_the_simulated_spikes(written: list[Path]) -> None:
    session = simulate_population(TINY.with_overrides(n_animals=1), progress=False)[0]
    io, nwbfile = _read(written[0])
    with io:
        units = nwbfile.units.to_dataframe()
        assert {"spike_times", "cell_type", "a", "b", "c", "d"} <= set(units.columns)
        assert all(nwbfile.units[name].description for name in ("cell_type", "a", "b", "c", "d"))
        assert units["cell_type"].value_counts().to_dict() == {name: 5 for name in CELL_TYPES}
        np.testing.assert_allclose(units["a"].to_numpy(), session.animal.params.a)
        for stored, simulated in zip(units["spike_times"], session.spike_times()):
            np.testing.assert_allclose(stored, simulated)
        trials = nwbfile.trials.to_dataframe()
        np.testing.assert_allclose(trials["contrast"].to_numpy(), session.context.trial_contrast)
        assert nwbfile.stimulus["visual_contrast"].rate == 100.0
        speed = nwbfile.processing["behavior"]["BehavioralTimeSeries"]["running_speed"]
        assert speed.unit == "cm/s" and speed.data.shape == (800,)
        assert nwbfile.subject.subject_id == "sim01" and nwbfile.subject.species == "Mus musculus"
        assert nwbfile.identifier == session.identifier("spikes")
        assert json.loads(nwbfile.notes)["simulation_settings"]["seed"] == 11


def test_ophys_file_holds_one_roi_per_neuron_with_calcium_traces(written: list[Path]) -> None:
    io, nwbfile = _read(written[1])
    with io:
        ophys = nwbfile.processing["ophys"]
        rois = ophys["ImageSegmentation"]["PlaneSegmentation"]
        assert len(rois) == 25 and "cell_type" in rois.colnames and len(rois["pixel_mask"][0]) > 0
        raw = ophys["Fluorescence"]["RoiResponseSeries"]
        dff = ophys["DfOverF"]["DfOverFSeries"]
        assert raw.rate == 30.0 and raw.data.shape == (240, 25) == dff.data.shape
        assert np.all(np.isfinite(raw.data[:])) and raw.data[:].min() > 0
        assert nwbfile.units is None and len(nwbfile.trials) > 0


@pytest.mark.slow
def test_files_validate_and_pass_nwbinspector_without_critical_messages(written: list[Path]) -> None:
    from nwbinspector import Importance, inspect_nwbfile, load_config
    from pynwb import validate

    for path in written[:2]:
        assert validate(path=str(path)) == []
        messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
        serious = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.ERROR)]
        assert serious == [], [m.message for m in serious]


def _datasets_and_attributes(path: Path) -> dict[str, object]:
    """Every dataset's values and every attribute except the random HDF5 object ids (and references to them)."""
    content: dict[str, object] = {}

    def visit(name: str, item: h5py.Dataset | h5py.Group) -> None:
        for key, value in item.attrs.items():
            if key != "object_id" and not isinstance(value, h5py.Reference):
                content[f"{name}@{key}"] = repr(value)
        if isinstance(item, h5py.Dataset) and item.dtype.kind != "O":
            content[name] = item[()].tobytes()
        elif isinstance(item, h5py.Dataset) and h5py.check_string_dtype(item.dtype):
            content[name] = repr(item[()])

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    return content


def test_same_seed_writes_identical_datasets(written: list[Path], tmp_path: Path) -> None:
    again = write_dataset(tmp_path, TINY.with_overrides(n_animals=1), modality="both", progress=False)
    for first, second in zip(written[:2], again):
        assert _datasets_and_attributes(first) == _datasets_and_attributes(second)


def test_seed_help_promises_the_same_content_not_the_same_bytes() -> None:
    text = " ".join(CliRunner().invoke(app, ["simulate", "--help"], terminal_width=200).output.split())
    assert ("the same seed writes the same content (every dataset, every attribute but the object ids), though not "
            "byte for byte") in text
    assert "random object_id" in text


def test_existing_files_are_kept_unless_overwrite(written: list[Path]) -> None:
    root = written[0].parents[1]
    before = written[0].stat().st_mtime_ns
    with pytest.raises(NeurPIRError, match="file exists"):
        write_dataset(root, TINY.with_overrides(n_animals=1), progress=False)
    assert written[0].stat().st_mtime_ns == before


def test_cli_writes_the_files_and_reports_them_as_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", str(tmp_path), "--preset", "demo", "--animals", "1",
                                      "--neurons", "10", "--duration", "2", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n_neurons"] == 10 and summary["seed"] == 3
    assert [Path(p).name for p in summary["files"]] == ["sub-sim01_ses-sim01s01_ecephys.nwb"]
    assert Path(summary["files"][0]).exists()


def test_cli_rejects_bad_options_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_modality = runner.invoke(app, ["simulate", str(tmp_path), "--modality", "lfp"])
    assert bad_modality.exit_code == 1 and "--modality must be one of" in bad_modality.output
    too_few = runner.invoke(app, ["simulate", str(tmp_path), "--neurons", "2"])
    assert too_few.exit_code == 1 and "n_neurons must be at least 5" in too_few.output
    assert "Traceback" not in too_few.output


@pytest.mark.parametrize("limit", [100_000, 120_000])
def test_a_full_disk_is_one_line_naming_the_file_not_a_crash(tmp_path: Path, limit: int) -> None:
    # the file fills up at different stages of HDF5's write: h5py raised RuntimeError (a traceback) or, at the
    # first limit, HDF5 crashed with SIGSEGV after a failed write left objects it could not close
    out = tmp_path / "sim"
    done = subprocess.run([sys.executable, "-c", _LIMITED_CLI, str(limit), "simulate", str(out), "--preset", "demo",
                           "--animals", "1", "--neurons", "25", "--duration", "8", "--no-progress"],
                          capture_output=True, text=True, check=False)
    target = out / "sub-sim01" / "sub-sim01_ses-sim01s01_ecephys.nwb"
    assert (done.returncode, done.stderr) == (1, f"error: {target}: writing failed (File too large); nothing was "
                                                 "changed\n")
    assert [p for p in out.rglob("*") if p.is_file()] == []  # the half-written temporary file is gone


def test_a_rerun_removes_what_a_killed_simulate_left_and_keeps_a_live_writers_file(tmp_path: Path) -> None:
    # a simulate killed with SIGKILL left its temporary file (named as the writer names them, or as versions before
    # 0.2.3 did: .<name>.tmp-<pid>-<random>) and its lock file; the next run into the folder removes them
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    gone = int(ended.stdout)
    target = planned_paths(tmp_path, TINY.with_overrides(n_animals=1))[0]
    target.parent.mkdir(parents=True)
    stale = [target.with_name(f".{target.name}.neurpir-tmp-k1ll3d.nwb"),
             target.with_name(f".{target.name}.tmp-{gone}-7bbda2a2"), target.with_name(f".{target.name}.neurpir-lock")]
    live = target.with_name(f".{target.name}.tmp-{os.getpid()}-0123abcd")  # a writer that still runs
    for path in [*stale, live]:
        path.write_bytes(b"partial")
    result = CliRunner().invoke(app, ["simulate", str(tmp_path), "--preset", "demo", "--animals", "1", "--neurons",
                                      "25", "--duration", "8", "--seed", "11", "--overwrite", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, live.name])

"""How failures reach the terminal: user errors in one line (exit 1), bugs with their traceback (exit 3), the package's
warnings in one format; and which recordings training can use (a recording needs two neurons)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import nwb_neurpir as npir
from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.testing import make_spikes_nwbfile, tiny_config, write_nwbfile

WHY = "a recording needs at least 2 to be trained on: the loss compares neurons within a recording"


def _one_unit_file(path: Path) -> Path:
    """A session whose units table holds one unit of four spikes (its NWB identifier: the file's name)."""
    from pynwb import NWBFile
    from pynwb.file import Subject

    nwb = NWBFile(session_description="one unit", identifier=path.stem, session_id=path.stem,
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc), subject=Subject(subject_id="solo"))
    nwb.add_unit(spike_times=[0.1, 0.5, 0.9, 1.2])
    return write_nwbfile(nwb, path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``one.nwb`` and ``other-one.nwb`` (one unit each); ``two.nwb``, ``three.nwb``, ``five.nwb``, ``ten.nwb``,
    ``other-ten.nwb``, ``twelve.nwb``, ``fifteen.nwb`` (that many units over 20 s, no covariates); ``tiny.json``, a
    config that trains in a moment."""
    folder = tmp_path_factory.mktemp("small")
    _one_unit_file(folder / "one.nwb")
    _one_unit_file(folder / "other-one.nwb")
    sizes = {"two": 2, "three": 3, "five": 5, "ten": 10, "other-ten": 10, "twelve": 12, "fifteen": 15}
    for seed, (name, n_units) in enumerate(sizes.items(), start=1):
        write_nwbfile(make_spikes_nwbfile(n_units=n_units, duration=20.0, seed=seed, subject_id=f"m{seed}",
                                          session_id=f"s{seed}", with_context=False), folder / f"{name}.nwb")
    (folder / "tiny.json").write_text(tiny_config().to_json())
    return folder


def _neurpir(*arguments: str, cwd: Path, first: str = "") -> subprocess.CompletedProcess[str]:
    """The command line, run as a user runs it (``first``: Python that its process runs before it)."""
    program = ["-m", "nwb_neurpir.cli"] if not first else [
        "-c", f"{first}\nimport sys\nfrom nwb_neurpir.cli.app import main\nsys.argv[0] = 'neurpir'\nmain()"]
    return subprocess.run([sys.executable, *program, *arguments], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _train(*sources: str, out: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _neurpir("train", *sources, "--out", out, "--config", "tiny.json", "--max-steps", "2", "--no-progress",
                    cwd=cwd)


def test_a_one_neuron_recording_is_refused_alone_and_left_out_beside_others(folder: Path) -> None:
    alone = _train("one.nwb", out="m-one", cwd=folder)
    assert (alone.returncode, alone.stderr) == (1, f"error: one.nwb: 1 neuron, too few to train on ({WHY})\n")
    assert not (folder / "m-one").exists()
    both = _train("one.nwb", "other-one.nwb", out="m-ones", cwd=folder)
    assert (both.returncode, both.stderr) == (1, f"error: no recording has enough neurons to train on ({WHY}): "
                                                 "one.nwb (1 neuron), other-one.nwb (1 neuron)\n")
    mixed = _train("twelve.nwb", "one.nwb", out="m-mixed", cwd=folder)
    assert mixed.returncode == 0, mixed.stderr
    assert mixed.stdout.startswith("trained 2 steps on 1 recording (12 + 0 held-out neurons)")
    assert mixed.stderr.splitlines() == [  # the package's warnings read alike, logged or not
        f"warning: one.nwb: 1 neuron, left out of training ({WHY})",
        "warning: no covariates in the training recordings: training without context"]
    assert len(npir.NeurPIR.load(folder / "m-mixed").fitted_model().training_data_) == 1


def test_fit_leaves_out_and_refuses_one_neuron_recordings_as_train_does(folder: Path) -> None:
    estimator = npir.NeurPIR(**tiny_config(max_steps=2, context="none").to_dict())
    one = folder / "one.nwb"
    with pytest.raises(NeurPIRError, match=f"^{re.escape(str(one))}: 1 neuron, too few to train on"):
        estimator.fit(one, progress=False)
    with pytest.warns(UserWarning, match=f"^{re.escape(str(one))}: 1 neuron, left out of training"):
        estimator.fit([folder / "two.nwb", one], progress=False)
    assert estimator.fitted_model().training_summary_["n_train_neurons"] == 2


@pytest.mark.parametrize(("names", "held_out"), [
    (["two"], 0), (["three"], 0), (["five"], 0), (["ten"], 0), (["fifteen"], 2), (["twelve", "two"], 0),
    (["two", "three"], 0), (["ten", "other-ten"], 2)])
def test_small_recordings_train_and_hold_out_two_neurons_or_none(folder: Path, names: list[str],
                                                                 held_out: int) -> None:
    """Recordings smaller than a loss group (batch_size 64 in 2 groups: 32 neurons) train; a validation loss compares
    held-out neurons, so a tenth of the neurons held out is two or more, or none."""
    config = tiny_config(max_steps=2, context="none", batch_size=64, validation_fraction=0.1, validate_every=1)
    model = npir.NeurPIR(**config.to_dict()).fit([folder / f"{name}.nwb" for name in names], progress=False)
    summary = model.fitted_model().training_summary_
    assert (summary["steps"], summary["n_validation_neurons"]) == (2, held_out)


def test_a_bug_exits_with_3_its_traceback_and_a_line_asking_for_a_report(folder: Path) -> None:
    bug = ("import nwb_neurpir.workflows.inspection as inspection\n"
           "def inspect_sources(*args, **kwargs):\n"
           "    raise RuntimeError('a bug')\n"
           "inspection.inspect_sources = inspect_sources")
    done = _neurpir("inspect", "two.nwb", cwd=folder, first=bug)
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines and lines[-2] == "RuntimeError: a bug"
    assert lines[-1] == (f"error: internal error in neurpir {__version__} (a bug, not a problem with the input): "
                         "please report it with the traceback above")
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert "2 usage, 3 internal error (a bug: Python's traceback" in readme[readme.index("Exit codes:"):]
    usage = _neurpir("inspect", "--no-such-option", cwd=folder)
    mistake = _neurpir("inspect", "missing.nwb", cwd=folder)
    assert (usage.returncode, mistake.returncode) == (2, 1)
    assert "Traceback" not in mistake.stderr


def test_the_packages_logged_warnings_read_like_its_other_warnings() -> None:
    from nwb_neurpir.cli.app import _RecordFormatter

    formatter = _RecordFormatter("%(levelname)s %(name)s: %(message)s")

    def line(name: str, level: int, message: str) -> str:
        return formatter.format(logging.LogRecord(name, level, __file__, 1, message, None, None))

    assert line("nwb_neurpir.model.trainer", logging.WARNING, "no covariates:\n  none") == \
        "warning: no covariates: none"
    assert line("nwb_neurpir.io.remote", logging.INFO, "retrying") == "INFO nwb_neurpir.io.remote: retrying"
    assert line("h5py._conv", logging.WARNING, "theirs") == "WARNING h5py._conv: theirs"

"""`neurpir annotate` killed with SIGKILL at random points: every file is either byte-identical to before or a complete
annotated file, and the next run leaves no temporary file; two runs on one file at once take turns and lose nothing.

The commands run as real processes forked from a warm interpreter (``CliForkServer``), through the Typer app exactly
as ``neurpir`` does; the reference vectors come from one cold run of the real entry point
(``python -m nwb_neurpir.cli``).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from filelock import FileLock

from hardening_support import SAME_VECTORS_ATOL, CliForkServer, ColdAnnotation, sha256
from nwb_neurpir.store import list_embeddings, read_embeddings, write_embeddings
from nwb_neurpir.store.atomic import lock_path
from nwb_neurpir.store.target_lock import held_lock

pytest_plugins = ["hardening_fixtures"]

TRIALS = 20
SEED = 20250309


@pytest.fixture(scope="module")
def reference(cold_annotation: ColdAnnotation) -> dict:
    """What a complete run writes (from the real entry point): neuron ids and vectors."""
    return {"ids": cold_annotation.ids, "vectors": cold_annotation.vectors}


@pytest.fixture(scope="module")
def templates(session_template: Path, tiny_model: Path, reference: dict,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Starting states: a file without embeddings, and one whose embeddings (other vectors) must be replaced."""
    from nwb_neurpir.model import NeurPIR

    annotated = Path(shutil.copyfile(session_template, tmp_path_factory.mktemp("templates") / "annotated.nwb"))
    other = np.random.default_rng(1).normal(size=reference["vectors"].shape).astype(np.float32)
    write_embeddings(annotated, reference["ids"], other, NeurPIR.load(tiny_model).provenance(), progress=False)
    return {"fresh.nwb": session_template, "annotated.nwb": annotated}


def _reset(folder: Path, templates: dict[str, Path]) -> dict[str, str]:
    """Put every file back to its template (temporary files left by a killed run stay); return their sha256."""
    folder.mkdir(exist_ok=True)
    for name, template in templates.items():
        (folder / name).unlink(missing_ok=True)
        shutil.copyfile(template, folder / name)
    return {name: sha256(folder / name) for name in templates}


def _spike_times(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as file:
        return file["units/spike_times"][:]


def _state(path: Path, before: str, reference: dict, spikes: np.ndarray) -> str:
    """``old`` when the file is byte-identical to before, ``new`` when it is a complete annotated file; else fail."""
    if sha256(path) == before:
        return "old"
    frame = read_embeddings(path)
    assert frame["neuron_id"].tolist() == reference["ids"], f"{path.name}: changed, but rows are wrong"
    np.testing.assert_allclose(np.stack(frame["embedding"]), reference["vectors"], rtol=0, atol=SAME_VECTORS_ATOL,
                               err_msg=f"{path.name}: changed, but does not hold the new embeddings")
    assert list_embeddings(path) == ["neurpir/NeurPIREmbeddings"], path.name
    np.testing.assert_array_equal(_spike_times(path), spikes)
    return "new"


def _leftovers(folder: Path, names: list[str]) -> list[str]:
    """Everything in ``folder`` that is not one of the files (temporary files and lock files of killed runs)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in names)


@pytest.mark.slow
def test_sigkilled_annotate_leaves_each_file_old_or_complete(cli_server: CliForkServer, tiny_model: Path,
                                                             templates: dict[str, Path], reference: dict,
                                                             session_template: Path, tmp_path: Path) -> None:
    folder, logs = tmp_path / "data", tmp_path / "logs"
    names = list(templates)
    argv = ["annotate", tiny_model, *(folder / name for name in names), "--overwrite"]
    spikes = _spike_times(session_template)
    _reset(folder, templates)
    calibration = cli_server.run(argv, logs)
    assert calibration.code == 0, calibration.stderr[-2000:]
    assert all(_state(folder / name, "", reference, spikes) == "new" for name in names)
    rng = np.random.default_rng(SEED)
    tally = {"old": 0, "new": 0}
    killed_mid_run = left_temporary_files = 0
    trial = 0
    # At least TRIALS kills; more (up to 3x) while none has yet landed between two files' writes: on a loaded
    # machine the run's phases stretch unevenly and the calibrated times can miss that window.
    while trial < TRIALS or (not killed_mid_run and trial < 3 * TRIALS):
        trial += 1
        before = _reset(folder, templates)
        pid = cli_server.start(argv, logs)
        time.sleep(rng.uniform(0.0, 1.1 * calibration.seconds))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        outcome = cli_server.wait(pid)
        assert outcome.code in (0, -signal.SIGKILL), f"trial {trial}: {outcome.stderr[-2000:]}"
        states = [_state(folder / name, before[name], reference, spikes) for name in names]
        for state in states:
            tally[state] += 1
        killed_mid_run += outcome.code == -signal.SIGKILL and len(set(states)) == 2
        left_temporary_files += bool(_leftovers(folder, names))
        if outcome.code == 0:
            assert _leftovers(folder, names) == [], f"trial {trial}: a finished run left files behind"
    # The kills landed everywhere: before any write, between files, and after the end.
    assert tally["old"] and tally["new"] and killed_mid_run, (tally, killed_mid_run)
    final = cli_server.run(argv, logs)
    assert final.code == 0, final.stderr[-2000:]
    assert all(_state(folder / name, "", reference, spikes) == "new" for name in names)
    assert _leftovers(folder, names) == []
    print(f"{TRIALS} kills: file states {tally}, {killed_mid_run} runs killed between files, "
          f"{left_temporary_files} left temporary or lock files that the next run removed")


def _wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001 - a zero-argument callable
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_annotate_runs_at_once_wait_for_the_lock_and_lose_nothing(cli_server: CliForkServer, tiny_model: Path,
                                                                      session_template: Path, reference: dict,
                                                                      tmp_path: Path) -> None:
    folder, logs = tmp_path / "data", tmp_path / "logs"
    names = ["one.nwb", "two.nwb"]
    before = _reset(folder, {name: session_template for name in names})
    first = folder / names[0]
    holder = FileLock(lock_path(first))
    holder.acquire()
    try:
        pids = [cli_server.start(["-vv", "annotate", tiny_model, *(folder / n for n in names), "--name", table],
                                 logs) for table in ("first", "second")]
        lock_name = lock_path(first).name
        _wait_for(lambda: all(lock_name in cli_server.stderr_of(pid) for pid in pids), 240,
                  "both runs are waiting for the lock")
        time.sleep(1.0)
        assert sha256(first) == before[names[0]] and _leftovers(folder, names) == [lock_name]  # nobody wrote past it
    finally:
        holder.release()
    outcomes = [cli_server.wait(pid) for pid in pids]
    assert [o.code for o in outcomes] == [0, 0], [o.stderr[-2000:] for o in outcomes]
    for name in names:
        assert list_embeddings(folder / name) == ["neurpir/first", "neurpir/second"], name
        for table in ("first", "second"):
            frame = read_embeddings(folder / name, name=table)
            assert frame["neuron_id"].tolist() == reference["ids"]
            np.testing.assert_allclose(np.stack(frame["embedding"]), reference["vectors"], rtol=0, atol=SAME_VECTORS_ATOL)
    assert _leftovers(folder, names) == []


def test_annotate_gives_up_on_a_held_lock_after_lock_timeout(cli_server: CliForkServer, tiny_model: Path,
                                                             session_template: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    before = _reset(folder, {"held.nwb": session_template})
    target = folder / "held.nwb"
    with held_lock(lock_path(target), timeout=5):  # held as another neurpir writer holds it
        outcome = cli_server.run(["annotate", tiny_model, target, "--lock-timeout", "0.5"], tmp_path / "logs")
    assert outcome.code == 1
    assert "still locked after 0.5 s" in outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert sha256(target) == before["held.nwb"] and _leftovers(folder, ["held.nwb"]) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_annotating_in_place_cleans_up_and_says_so(cli_server: CliForkServer, tiny_model: Path,
                                                                  session_template: Path, tmp_path: Path,
                                                                  stop: signal.Signals) -> None:
    folder = tmp_path / "data"
    before = _reset(folder, {"session.nwb": session_template})
    pid = cli_server.start(["annotate", tiny_model, folder / "session.nwb"], tmp_path / "logs")
    _wait_for(lambda: _leftovers(folder, ["session.nwb"]) or not cli_server.running(pid), 240,
              "the run stages its copy")
    os.kill(pid, stop)  # as a job scheduler (SIGTERM) or Ctrl-C (SIGINT) stopping the run while it writes
    outcome = cli_server.wait(pid)
    assert outcome.code == 128 + stop, outcome.stderr[-2000:]
    assert outcome.stderr.splitlines()[-1] == f"stopped by {stop.name}: neurpir annotate did not finish"
    assert sha256(folder / "session.nwb") == before["session.nwb"]
    assert _leftovers(folder, ["session.nwb"]) == []  # neither the staged copy nor the lock file is left

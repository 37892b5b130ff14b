"""Writers killed with SIGKILL at random points never leave a changed-but-incomplete file, and the next run leaves no
temporary file behind; two writers of one file take turns through the lock.

A fork server (one interpreter that has imported pynwb once) forks each writer, so a trial costs one write, not one
interpreter start-up; the test kills the forked writer by pid.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fork_server import ForkServer
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import read_embeddings, write_embeddings
from nwb_neurpir.store.atomic import lock_path
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile
from store_helpers import PROVENANCE, vectors
from store_kill_support import WRITER_PRELOAD

N_UNITS = 10
TRIALS = 20


class WriterForkServer:
    """Starts writers (forked from a warm interpreter) and reports their exit codes."""

    def __init__(self) -> None:
        self._server = ForkServer(WRITER_PRELOAD)

    def start(self, path: Path, matrix: np.ndarray, name: str = "NeurPIREmbeddings",
              lock_timeout: float = 30.0) -> int:
        """Fork a writer of ``matrix`` as the embeddings table ``name`` of ``path``; returns its pid."""
        return self._server.start("store_kill_support:write_embeddings_forked",
                                  {"path": str(path), "ids": list(range(N_UNITS)), "vectors": matrix.tolist(),
                                   "name": name, "lock_timeout": lock_timeout, "provenance": PROVENANCE.to_dict()})

    def wait(self, pid: int) -> int:
        """Reap the writer and return its exit code (negative: killed by that signal)."""
        return self._server.wait(pid)

    def close(self) -> None:
        self._server.close()


@pytest.fixture(scope="module")
def server() -> Iterator[WriterForkServer]:
    server = WriterForkServer()
    yield server
    server.close()


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    """A fresh spikes session with ``N_UNITS`` units, alone in the test's folder."""
    nwbfile = make_spikes_nwbfile(n_units=N_UNITS, duration=10.0, seed=3, n_trials=4)
    return write_nwbfile(nwbfile, tmp_path / "session.nwb")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _holds(path: Path, matrix: np.ndarray, name: str = "NeurPIREmbeddings") -> bool:
    try:
        return np.array_equal(np.stack(read_embeddings(path, name=name)["embedding"]), matrix)
    except NeurPIRError:
        return False


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_old_or_new_file(server: WriterForkServer, path: Path, tmp_path: Path) -> None:
    durations = []
    for seed in (100, 101, 102):
        started = time.monotonic()
        assert server.wait(server.start(path, vectors(N_UNITS, seed=seed))) == 0
        durations.append(time.monotonic() - started)
    full_run = float(np.median(durations))
    rng = np.random.default_rng(2025)
    outcomes = {"old": 0, "new": 0}
    for trial in range(TRIALS):
        before = _sha256(path)
        matrix = vectors(N_UNITS, seed=trial)
        pid = server.start(path, matrix)
        # log-uniform from 2 % to 3x a write: kills land before, during and after the replacement even when a write's
        # duration (fsyncs on a loaded disk) varies several-fold between runs
        time.sleep(full_run * float(np.exp(rng.uniform(np.log(0.02), np.log(3.0)))))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        assert server.wait(pid) in (0, -signal.SIGKILL)
        if _sha256(path) == before:
            outcomes["old"] += 1
        else:
            assert _holds(path, matrix), f"trial {trial}: the file changed but does not hold the new embeddings"
            outcomes["new"] += 1
    assert outcomes["old"] and outcomes["new"], outcomes  # the kills did land before and after the replacement
    final = vectors(N_UNITS, seed=999)
    assert server.wait(server.start(path, final)) == 0
    assert _holds(path, final)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_second_writer_waits_for_the_lock_then_both_tables_are_there(server: WriterForkServer, path: Path) -> None:
    first, second = vectors(N_UNITS, seed=1), vectors(N_UNITS, seed=2)
    pids = [server.start(path, first, name="first"), server.start(path, second, name="second")]
    assert [server.wait(pid) for pid in pids] == [0, 0]
    assert _holds(path, first, "first") and _holds(path, second, "second")


def test_a_held_lock_makes_the_writer_fail_clearly_and_the_file_unchanged(path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
                               "lock.acquire(); print('locked', flush=True); time.sleep(60)", str(lock_path(path))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _sha256(path)
        with pytest.raises(NeurPIRError, match="another process is writing this file"):
            write_embeddings(path, range(N_UNITS), vectors(N_UNITS), PROVENANCE, lock_timeout=0.5)
        assert _sha256(path) == before
    finally:
        holder.kill()
        holder.wait()
    write_embeddings(path, range(N_UNITS), vectors(N_UNITS), PROVENANCE, lock_timeout=5)
    assert _holds(path, vectors(N_UNITS))

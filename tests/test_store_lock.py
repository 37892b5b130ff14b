"""The writer's lock (``held_lock``): exclusive across processes, deleted on release, taken over after a holder
was killed with SIGKILL, and never opened through a symbolic link planted at its path."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import nwb_neurpir as npir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.store import write_embeddings
from nwb_neurpir.store.target_lock import LockTimeout, held_lock
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile
from store_helpers import PROVENANCE, as_another_user, vectors

HOLDER = ("import sys, time; from pathlib import Path; from nwb_neurpir.store.target_lock import held_lock\n"
          "with held_lock(Path(sys.argv[1]), 5):\n    print('locked', flush=True); time.sleep(60)")
WAITER = ("import sys; from pathlib import Path; from nwb_neurpir.store.target_lock import LockTimeout, held_lock\n"
          "try:\n    with held_lock(Path(sys.argv[1]), float(sys.argv[2])):\n        print('locked')\n"
          "except LockTimeout:\n    print('timed out')")


def test_the_lock_file_is_gone_after_release_even_on_an_error(tmp_path: Path) -> None:
    lock = tmp_path / ".x.nwb.neurpir-lock"
    with held_lock(lock, 1):
        assert lock.exists()
    assert not lock.exists()
    with pytest.raises(RuntimeError), held_lock(lock, 1):
        raise RuntimeError("the write failed")
    assert list(tmp_path.iterdir()) == []


def test_a_held_lock_times_out_and_a_killed_holders_file_is_taken_over_and_removed(tmp_path: Path) -> None:
    lock = tmp_path / ".x.nwb.neurpir-lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockTimeout), held_lock(lock, 0.3):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.exists()  # a killed holder leaves its file ...
    with held_lock(lock, 1):
        pass
    assert list(tmp_path.iterdir()) == []  # ... which the next writer removes


def _another_user_waits(lock: Path, timeout: float) -> str:
    """What a writer who may not write ``lock`` gets when it asks for it: 'locked', 'timed out' or its error."""
    done = subprocess.run([*as_another_user(), sys.executable, "-c", WAITER, str(lock), str(timeout)],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def test_the_lock_file_follows_the_umask_and_others_wait_for_it_read_only(tmp_path: Path) -> None:
    lock = tmp_path / ".x.nwb.neurpir-lock"
    previous = os.umask(0o022)
    try:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE, text=True)
    finally:
        os.umask(previous)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o644  # no write permission for the group
        lock.chmod(0o444)  # nor for its owner: as the file of another user is to this one when not root
        assert _another_user_waits(lock, 0.3) == "timed out"  # waited, instead of failing to open it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert _another_user_waits(lock, 5) == "locked"  # a killed holder's lock is taken over


def _planted_lock(lock: Path, home: Path) -> Path:
    """A dangling link at ``lock`` to a file ``home/created-by-lock`` that does not exist yet."""
    home.mkdir()
    lock.symlink_to(os.path.relpath(home / "created-by-lock", lock.parent))
    return home / "created-by-lock"


def _link_refusal(lock: Path) -> str:
    return (f"{lock}: is a symbolic link where a lock file belongs, and a lock file is never opened through a link "
            "(it could create or lock the file the link points at); remove the link and run again")


def test_a_lock_path_that_is_a_symbolic_link_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    recording = write_nwbfile(make_spikes_nwbfile(n_units=3, duration=2.0, seed=1), shared / "a.nwb")
    before = recording.read_bytes()
    lock = shared / ".a.nwb.neurpir-lock"
    created = _planted_lock(lock, tmp_path / "home")
    with pytest.raises(NeurPIRError) as refused:
        write_embeddings(recording, [0], vectors(1), PROVENANCE)
    assert str(refused.value) == _link_refusal(lock)
    assert not created.exists() and lock.is_symlink() and recording.read_bytes() == before


def test_the_training_lock_is_never_opened_through_a_symbolic_link(tmp_path: Path) -> None:
    from nwb_neurpir.workflows.estimator import TRAINING_LOCK

    recording = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=4.0, seed=2), tmp_path / "a.nwb")
    model = tmp_path / "model"
    model.mkdir()
    created = _planted_lock(model / TRAINING_LOCK, tmp_path / "home")
    with pytest.raises(NeurPIRError) as refused:
        npir.NeurPIR(max_steps=1, context="none", num_threads=1).fit(
            npir.open_recordings(recording, progress=False), checkpoint_dir=model, progress=False)
    assert str(refused.value) == _link_refusal(model / TRAINING_LOCK)
    assert not created.exists() and sorted(p.name for p in model.iterdir()) == [TRAINING_LOCK]

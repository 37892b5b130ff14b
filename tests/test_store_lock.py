"""The writer's lock (``held_lock``): exclusive across processes, deleted on release, and taken over after a holder
was killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nwb_neurpir.store.target_lock import LockTimeout, held_lock
from store_helpers import as_another_user

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

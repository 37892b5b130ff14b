"""The writer's lock (``held_lock``): exclusive across processes, deleted on release, and taken over after a holder
was killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nwb_neurpir.store.target_lock import LockTimeout, held_lock

HOLDER = ("import sys, time; from pathlib import Path; from nwb_neurpir.store.target_lock import held_lock\n"
          "with held_lock(Path(sys.argv[1]), 5):\n    print('locked', flush=True); time.sleep(60)")


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

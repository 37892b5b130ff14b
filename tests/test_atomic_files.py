"""The one atomic writer: the target holds the old bytes or the new ones, never a part; file and folder are fsynced."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nwb_neurpir.atomic_files import atomic_path, atomic_write_bytes

# Writes 2 kB to sys.argv[1] in a process whose files may not grow past 1 kB (SIGXFSZ ignored, so the write fails
# with EFBIG as one on a full disk fails with ENOSPC); prints the error's file name and reason.
_LIMITED_WRITER = """import resource, signal, sys
from pathlib import Path
from nwb_neurpir.atomic_files import atomic_write_bytes
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
try:
    atomic_write_bytes(Path(sys.argv[1]), bytes(2048))
except OSError as error:
    print(error.filename, error.strerror, sep=": ")
"""


def test_writes_replace_the_target_and_leave_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # like any file the user writes, not 0600


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "data.nwb"
    target.write_bytes(b"original")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_bytes(b"half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["data.nwb"]


def test_temporary_names_carry_the_prefix_for_cleaners(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "x.bin") as default, atomic_path(tmp_path / "y.bin", prefix=".partial-") as chosen:
        default.write_bytes(b"1")
        chosen.write_bytes(b"2")
        assert default.parent == chosen.parent == tmp_path
        assert default.name.startswith(".x.bin.tmp-") and chosen.name.startswith(".partial-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin", "y.bin"]


def test_the_file_and_its_folder_are_fsynced_before_and_after_the_rename(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(handle: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(handle).st_mode) else "file")
        real_fsync(handle)

    def replace(source: Path, target: Path) -> None:
        synced.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write_bytes(tmp_path / "m.json", b"{}")
    assert synced == ["file", "replace", "folder"]


def test_a_full_disk_is_an_error_naming_the_target_not_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.json"
    target.write_bytes(b"old")
    done = subprocess.run([sys.executable, "-c", _LIMITED_WRITER, str(target)], capture_output=True, text=True,
                          check=False)
    assert done.stdout.strip() == f"{target}: File too large", done.stderr[-2000:]
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.json"]

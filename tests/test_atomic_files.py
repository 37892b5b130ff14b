"""The one atomic writer: the target holds the old bytes or the new ones, never a part; file and folder are fsynced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nwb_neurpir.atomic_files import atomic_path, atomic_write_bytes


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

"""Shared fixtures: where the shared real data lives, and a skip with a clear reason when it is absent."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
STEINMETZ_DIR = SHARED_DATA / "steinmetz2019-nwb"
HUMAN_MTL_FILE = SHARED_DATA / "human-mtl-zheng2022-nwb" / "sub-4_ses-4_ecephys+image.nwb"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (expected ../shared/data next to the project root)")
    return path


@pytest.fixture(scope="session")
def steinmetz_dir() -> Path:
    """Folder with the 11 shared Steinmetz 2019 sessions (skips when ../shared is absent)."""
    return _need(STEINMETZ_DIR)


@pytest.fixture(scope="session")
def steinmetz_files(steinmetz_dir: Path) -> list[Path]:
    """The shared Steinmetz NWB files, sorted."""
    return sorted(steinmetz_dir.rglob("*.nwb"))


@pytest.fixture(scope="session")
def human_mtl_file() -> Path:
    """The shared human MTL NWB file (read-only; copy it before writing)."""
    return _need(HUMAN_MTL_FILE)


@pytest.fixture
def deny() -> Callable[[Path], Path]:
    """``deny(path)`` takes this user's access away: a file made unreadable (mode 000), a folder unwritable (mode
    500). Skips the test where the mode denies nothing (as root, whose CAP_DAC_OVERRIDE passes over it)."""
    def take_away(path: Path) -> Path:
        path.chmod(0o500 if path.is_dir() else 0)
        try:
            _use(path)
        except PermissionError:
            return path
        pytest.skip(f"mode {path.stat().st_mode & 0o777:o} does not deny access here (running as root?)")

    return take_away


def _use(path: Path) -> None:
    """Read the file ``path``, or create and remove a file in the folder ``path``."""
    if not path.is_dir():
        path.open("rb").close()
        return
    handle, name = tempfile.mkstemp(dir=path)
    os.close(handle)
    os.unlink(name)


@pytest.fixture
def torch_threads() -> Iterator[int]:
    """Torch set to a thread count no command chooses by itself (one more than this process may use), which the
    fixture gives; the count from before the test is restored after it."""
    import torch

    from nwb_neurpir.model.threads import available_cpus

    before, unchosen = torch.get_num_threads(), available_cpus() + 1
    torch.set_num_threads(unchosen)
    try:
        yield unchosen
    finally:
        torch.set_num_threads(before)

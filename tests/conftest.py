"""Shared fixtures: where the shared real data lives, and a skip with a clear reason when it is absent."""

from __future__ import annotations

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

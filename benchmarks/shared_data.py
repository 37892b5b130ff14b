"""Where the benchmarks find the shared real data (``../shared/data`` beside the project root), and its NWB files."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHARED_DATA", "STEINMETZ_DATA", "nwb_files"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STEINMETZ_DATA = SHARED_DATA / "steinmetz2019-nwb"


def nwb_files(root: Path, at_least: int = 1) -> list[Path]:
    """The ``.nwb`` files under ``root``, sorted; ends the benchmark with a one-line error when fewer than
    ``at_least`` are there."""
    files = sorted(Path(root).rglob("*.nwb"))
    if len(files) < at_least:
        raise SystemExit(f"error: need {at_least} .nwb file(s) under {root}, found {len(files)} "
                         "(the shared data live in ../shared/data beside the project root)")
    return files

"""Bytes moved to read the units of a streamed DANDI asset whose file is mostly a raw acquisition series.

Writes sessions (20 units, trials, stimulus, running speed) each holding an uncompressed int16 ElectricalSeries of
the given size, serves them from the loopback DANDI archive used by the tests (127.0.0.1, exact HTTP Range), and
counts the blob bytes the server sends for:

- ``open_recording`` streaming (remfile + h5py + our HTTP session), cold cache;
- the same call again (warm cache: chunks on disk);
- pynwb reading ``units`` through a bare ``remfile.File`` (the pynwb streaming tutorial's way), for comparison;
- ``neurpir fetch`` (whole verified download).

All numbers come from one run on the same machine; times are wall-clock and noisy on a shared machine.

Real files given with ``--real`` (default: the shared human MTL file and the first shared Steinmetz session, when
``../shared/data`` exists) are served and measured the same way.

    python -m benchmarks.bench_remote_read [--sizes-mb 25 100] [--real FILE ...] [--workdir /tmp/bench-remote]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from nwb_neurpir.io import fetch_sources, open_recording
from nwb_neurpir.io.access import DataAccess
from nwb_neurpir.testing import write_session_with_acquisition
from tests.dandi_server import LoopbackDandi

from benchmarks.shared_data import SHARED_DATA, STEINMETZ_DATA


def _pynwb_units_bytes(server: LoopbackDandi, url: str) -> int:
    """Server bytes for pynwb reading the units table through a bare remfile stream."""
    import h5py
    import remfile
    from pynwb import NWBHDF5IO

    server.reset_counters()
    with h5py.File(remfile.File(url), "r") as h5, NWBHDF5IO(file=h5, mode="r", load_namespaces=True) as io:
        io.read().units.to_dataframe()
    return server.blob_bytes


def _default_real_files() -> list[Path]:
    candidates = [SHARED_DATA / "human-mtl-zheng2022-nwb" / "sub-4_ses-4_ecephys+image.nwb",
                  *sorted(STEINMETZ_DATA.glob("*/*.nwb"))[:1]]
    return [path for path in candidates if path.is_file()]


def _measure(server: LoopbackDandi, file: Path, cache: Path, label: str) -> dict[str, float | str]:
    asset = server.add_asset(f"sub-{label}/{file.name}", file)
    options = {"api_url": server.api_url, "cache_dir": cache}
    row: dict[str, float | str] = {"file": file.name, "file_mb": asset.size / 1e6}

    server.reset_counters()
    started = time.perf_counter()
    recording = open_recording(asset.asset_id, access=DataAccess(**options))
    row["cold_s"] = time.perf_counter() - started
    row["cold_bytes"] = server.blob_bytes
    row["cold_requests"] = server.requests_to("^/blobs/")
    row["units"] = recording.n_neurons

    server.reset_counters()
    started = time.perf_counter()
    open_recording(asset.asset_id, access=DataAccess(**options))
    row["warm_s"] = time.perf_counter() - started
    row["warm_bytes"] = server.blob_bytes

    row["pynwb_bytes"] = _pynwb_units_bytes(server, f"{server.base_url}/blobs/{asset.blob_id}")

    server.reset_counters()
    started = time.perf_counter()
    list(fetch_sources([asset.asset_id], progress=False, access=DataAccess(**options)))
    row["fetch_s"] = time.perf_counter() - started
    row["fetch_bytes"] = server.blob_bytes
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[25.0, 100.0])
    parser.add_argument("--real", type=Path, nargs="*", default=None, help="real NWB files to measure too")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("DANDI_NO_ET", "1")
    import dandi.dandiapi  # noqa: F401 - imported once up front so the first timing is not an import
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-remote-"))
    workdir.mkdir(parents=True, exist_ok=True)

    files = [write_session_with_acquisition(workdir / f"synthetic-{mb:g}mb-acquisition.nwb", mb, seed=index)
             for index, mb in enumerate(args.sizes_mb)]
    files += _default_real_files() if args.real is None else args.real
    with LoopbackDandi() as server:
        rows = [_measure(server, file, workdir / "cache", str(index)) for index, file in enumerate(files)]

    print("| file | MB | units | cold: bytes read (% of file), requests, s | warm: bytes, s "
          "| pynwb+remfile units: bytes (% of file) | fetch: bytes, s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        size = row["file_mb"] * 1e6
        print(f"| {row['file']} | {row['file_mb']:.1f} | {row['units']:.0f} "
              f"| {row['cold_bytes'] / 1e6:.2f} MB ({100 * row['cold_bytes'] / size:.1f} %), "
              f"{row['cold_requests']:.0f}, {row['cold_s']:.2f} "
              f"| {row['warm_bytes']:.0f}, {row['warm_s']:.2f} "
              f"| {row['pynwb_bytes'] / 1e6:.2f} MB ({100 * row['pynwb_bytes'] / size:.1f} %) "
              f"| {row['fetch_bytes'] / 1e6:.1f} MB, {row['fetch_s']:.2f} |")


if __name__ == "__main__":
    main()

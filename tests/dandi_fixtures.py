"""Fixtures for the DANDI/streaming tests: a loopback archive, NWB files to serve, short HTTP timeouts.

Test modules load them with ``pytest_plugins = ["dandi_fixtures"]`` (so do not import this module directly: it
would then escape pytest's assertion rewriting).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dandi_server import LoopbackDandi
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

__all__ = ["cache_dir", "large_nwb", "loopback_dandi", "small_nwb", "write_session_with_acquisition"]

def write_session_with_acquisition(path: Path, megabytes: float = 30.0, seed: int = 0) -> Path:
    """A spikes session (20 units, trials, stimulus, running speed) plus an uncompressed, chunked int16
    ``ElectricalSeries`` of about ``megabytes`` MB in ``acquisition`` -- the bulk of the file's bytes."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.ecephys import ElectricalSeries

    n_channels = 20
    nwbfile = make_spikes_nwbfile(n_units=n_channels, duration=60.0, seed=seed)
    region = nwbfile.create_electrode_table_region(list(range(n_channels)), "all electrodes")
    n_samples = int(megabytes * 1e6 / (2 * n_channels))
    data = np.random.default_rng(seed).integers(-2000, 2000, size=(n_samples, n_channels), dtype=np.int16)
    nwbfile.add_acquisition(ElectricalSeries(
        name="ElectricalSeries", data=H5DataIO(data, chunks=(16384, n_channels)), electrodes=region,
        rate=30000.0, starting_time=0.0, description="synthetic raw voltage"))
    return write_nwbfile(nwbfile, path)


@pytest.fixture(scope="session")
def small_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small spikes session (~0.5 MB)."""
    return write_nwbfile(make_spikes_nwbfile(seed=1), tmp_path_factory.mktemp("nwb") / "small.nwb")


@pytest.fixture(scope="session")
def large_nwb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spikes session whose file also holds a ~30 MB raw acquisition series."""
    return write_session_with_acquisition(tmp_path_factory.mktemp("nwb") / "large.nwb")


@pytest.fixture
def loopback_dandi(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackDandi]:
    """A started loopback DANDI server (dandiset 000123), stopped after the test; proxies bypassed."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("DANDI_NO_ET", "1")
    with LoopbackDandi() as server:
        yield server


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """An empty cache folder inside the test's temp dir."""
    return tmp_path / "cache"

"""Fixtures for the DANDI/streaming tests: a loopback archive, NWB files to serve, short HTTP timeouts.

Test modules load them with ``pytest_plugins = ["dandi_fixtures"]`` (so do not import this module directly: it
would then escape pytest's assertion rewriting).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dandi_server import EMBARGO_KEY, LoopbackDandi
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile, write_session_with_acquisition

__all__ = ["cache_dir", "embargoed_dandi", "large_nwb", "loopback_dandi", "small_nwb"]

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


@pytest.fixture
def embargoed_dandi(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackDandi]:
    """A started loopback archive whose dandiset 000123 is embargoed (key ``EMBARGO_KEY``); signed blob URLs are
    on ``localhost`` (another host than the API's 127.0.0.1); proxies bypassed."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("DANDI_NO_ET", "1")
    with LoopbackDandi(api_key=EMBARGO_KEY, redirect_host="localhost") as server:
        yield server

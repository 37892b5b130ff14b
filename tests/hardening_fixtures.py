"""Fixtures for the end-to-end hardening tests: a small NWB session, a tiny trained model, and a CLI fork server.

The fork server is one interpreter that has imported the CLI and everything ``annotate``/``train`` need (pynwb, torch,
CEBRA); each command runs in a process forked from it, through the same entry point as ``neurpir`` (the Typer app),
so a trial costs the command's work, not an interpreter start-up, and the test can SIGKILL that process by pid.

Test modules load these with ``pytest_plugins = ["hardening_fixtures"]``; helpers that are not fixtures are imported
from ``hardening_support``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hardening_support import TINY, CliForkServer, ColdAnnotation, run_cold
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

__all__ = ["cli_server", "cold_annotation", "session_template", "tiny_model"]


@pytest.fixture(scope="session")
def session_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-unit, 10 s spikes session with trials, stimulus and running speed (never written to; copy it)."""
    path = tmp_path_factory.mktemp("hardening-template") / "session.nwb"
    write_nwbfile(make_spikes_nwbfile(n_units=20, duration=10.0, seed=7, n_trials=4), path)
    path.chmod(0o444)
    return path


@pytest.fixture(scope="session")
def tiny_model(session_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder trained for a few steps on ``session_template``."""
    from nwb_neurpir.io.nwb_reader import read_nwb
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("hardening-model") / "model"
    train([read_nwb(session_template)], TINY, out_dir=folder, progress=False)
    return folder


@pytest.fixture(scope="session")
def cli_server() -> Iterator[CliForkServer]:
    """A warm interpreter that runs ``neurpir`` commands in forked processes."""
    server = CliForkServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def cold_annotation(tiny_model: Path, session_template: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> ColdAnnotation:
    """Annotate a copy of ``session_template`` in place through the real entry point, with HOME, the working folder,
    TMPDIR and the cache pointed at empty folders (so a test can check that nothing was written there)."""
    from nwb_neurpir.store import read_embeddings

    root = tmp_path_factory.mktemp("cold-annotation")
    sandbox = {name: root / name for name in ("home", "cwd", "tmp", "cache")}
    for folder in sandbox.values():
        folder.mkdir()
    data = root / "data"
    data.mkdir()
    annotated = Path(shutil.copyfile(session_template, data / "session.nwb"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("XDG_")}
    env.update(HOME=str(sandbox["home"]), TMPDIR=str(sandbox["tmp"]), NEURPIR_CACHE_DIR=str(sandbox["cache"]))
    run = run_cold(["annotate", tiny_model, annotated], cwd=sandbox["cwd"], env=env)
    assert run.code == 0, run.stderr[-2000:]
    frame = read_embeddings(annotated)
    return ColdAnnotation(run, annotated, frame["neuron_id"].tolist(), np.stack(frame["embedding"]), sandbox)

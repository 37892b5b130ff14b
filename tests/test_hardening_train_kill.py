"""`neurpir train` killed with SIGKILL and rerun: each rerun resumes from the last complete checkpoint (never a
half-written one), and the model that finally comes out equals the one an uninterrupted run makes from scratch (the
CEBRA context fit included: its samplers are seeded from the config's seed). The commands run as real processes forked
from a warm interpreter (``CliForkServer``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hardening_support import TINY, CliForkServer, Finished
from nwb_neurpir.model import NeurPIR
from nwb_neurpir.model.checkpoint import latest_checkpoint, read_folder
from nwb_neurpir.model.trainer import TRAINING_FILES

pytest_plugins = ["hardening_fixtures"]

MAX_STEPS = 100
CHECKPOINT_EVERY = 4
KILLS = 5
SEED = 7


def _step(checkpoints: Path) -> int:
    """Step of the last complete checkpoint (0 when there is none), verifying every file of it."""
    folder = latest_checkpoint(checkpoints)
    if folder is None:
        return 0
    parsed, _ = read_folder(folder, TRAINING_FILES)
    return int(parsed["trainer.json"]["state"]["step"])


def _checkpoint_times(server: CliForkServer, argv: list, checkpoints: Path, logs: Path) -> tuple[list[float], int]:
    """Run to the end, noting when each new checkpoint became the latest (seconds after the start); exit code."""
    pid, started, seen, times = server.start(argv, logs), time.monotonic(), None, []
    while server.running(pid):
        pointer = checkpoints / "LATEST"
        current = pointer.read_text() if pointer.is_file() else None
        if current != seen:
            seen = current
            times.append(time.monotonic() - started)
        time.sleep(0.01)
    return times, server.wait(pid).code


def _kill_at(server: CliForkServer, pid: int, delay: float) -> Finished:
    """SIGKILL ``pid`` after ``delay`` seconds (unless it ended first); its outcome."""
    time.sleep(delay)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    outcome = server.wait(pid)
    assert outcome.code in (0, -signal.SIGKILL), outcome.stderr[-2000:]
    return outcome


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return NeurPIR.load(folder).files()["weights.safetensors"]


@pytest.mark.slow
def test_killed_training_resumes_from_the_last_complete_checkpoint(cli_server: CliForkServer, session_template: Path,
                                                                   tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    values = {k: v for k, v in TINY.to_dict().items() if k not in ("max_steps", "modality", "normalization")}
    config.write_text(json.dumps(values | {"checkpoint_every": CHECKPOINT_EVERY}))
    logs = tmp_path / "logs"

    def argv(out: Path) -> list:
        return ["-v", "train", session_template, "--out", out, "--config", config, "--max-steps", MAX_STEPS,
                "--no-progress"]

    times, code = _checkpoint_times(cli_server, argv(tmp_path / "calibration"),
                                    tmp_path / "calibration" / "checkpoints", logs)
    assert code == 0 and len(times) >= 3, (code, times)
    interval = float(np.mean(np.diff(times)))
    out = tmp_path / "killed"
    checkpoints = out / "checkpoints"
    rng = np.random.default_rng(SEED)
    _kill_at(cli_server, cli_server.start(argv(out), logs), rng.uniform(0.0, times[0]))  # during start-up
    assert _step(checkpoints) < MAX_STEPS  # no checkpoint yet, or a complete one
    resumed_from = []
    for kill in range(KILLS):
        before = _step(checkpoints)
        pid = cli_server.start(argv(out), logs)
        while _step(checkpoints) == before and cli_server.running(pid):  # one more checkpoint, then a random kill
            time.sleep(0.01)
        outcome = _kill_at(cli_server, pid, rng.uniform(0.0, 1.2 * interval))
        if before:
            assert f"resuming from {checkpoints / f'step-{before:08d}'}" in outcome.stderr
            resumed_from.append(before)
        assert _step(checkpoints) > before  # the latest checkpoint is complete, and progress is kept
    last = _step(checkpoints)
    assert last < MAX_STEPS and len(resumed_from) >= KILLS - 1, (last, resumed_from)
    final = cli_server.run(argv(out), logs)
    assert final.code == 0, final.stderr[-2000:]
    assert f"resuming from {checkpoints / f'step-{last:08d}'}" in final.stderr
    assert f"resumed at step {last}, trained {MAX_STEPS - last} more: {MAX_STEPS} of {MAX_STEPS} steps" in final.stdout
    assert [p.name for p in checkpoints.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in out.iterdir() if ".tmp-" in p.name] == []
    expected, got = _weights(tmp_path / "calibration"), _weights(out)
    assert sorted(got) == sorted(expected) and any(key.startswith("context.") for key in got)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)


def test_sigterm_while_fitting_the_context_says_so_and_leaves_no_lock(cli_server: CliForkServer,
                                                                      session_template: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(dataclasses.replace(TINY, context_iterations=100_000).to_json())  # a fit it will not finish
    logs, out = tmp_path / "logs", tmp_path / "runs" / "model"
    out.parent.mkdir()
    pid = cli_server.start(["train", session_template, "--out", out, "--config", config, "--progress"], logs)
    while "context: fitting CEBRA" not in cli_server.stderr_of(pid) and cli_server.running(pid):
        time.sleep(0.01)
    os.kill(pid, signal.SIGTERM)  # as a job scheduler stopping the run before its first step
    outcome = cli_server.wait(pid)
    assert outcome.code == 128 + signal.SIGTERM, outcome.stderr[-2000:]
    assert outcome.stderr.splitlines()[-1] == "stopped by SIGTERM: neurpir train did not finish"
    assert sorted(str(p.relative_to(out.parent)) for p in out.parent.rglob("*")) == []  # no lock, no staged files

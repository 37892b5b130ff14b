"""Two CPU processes under torchrun (gloo): identical weights on both ranks, the loss goes down, and a run stopped by a
signal saves a checkpoint that the next run continues from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nwb_neurpir.model.checkpoint import latest_checkpoint

SCRIPT = """
import json, os, sys
from safetensors.torch import save_file
from nwb_neurpir.testing import mock_recording, tiny_config
from nwb_neurpir.model import train
recordings = [mock_recording(seed=s, n_bins=300, subject_id=f"m{{s % 2}}") for s in range(2)]
config = tiny_config(batch_size=32, max_steps=60, segment_length_max=3.0, validate_every=20, learning_rate=1e-2,
                     warmup_steps=5)
model = train(recordings, config, out_dir={out!r}, progress=False)
rank = os.environ["RANK"]
save_file(model.encoder_.state_dict(), os.path.join({out!r}, f"rank{{rank}}.safetensors"))
context = {{k: v.contiguous() for k, v in model.context_.network.state_dict().items()}}
save_file(context, os.path.join({out!r}, f"context{{rank}}.safetensors"))
with open(os.path.join({out!r}, f"summary{{rank}}.json"), "w") as handle:
    json.dump(model.training_summary_, handle)
"""


@pytest.mark.slow
def test_two_ranks_end_with_identical_weights(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(out=str(tmp_path)))
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script)],
                            capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("each of the 2 ranks computes the loss on its own 8 neurons per group (batch_size 32 "
                               "over 2 ranks and 2 groups), fewer than 16; scale --batch-size") == 1  # rank 0 says it
    assert "over 2 ranks, 2 recording(s) keep fewer than 16 training neurons per rank" in result.stderr
    for name in ("rank", "context"):
        zero, one = load_file(tmp_path / f"{name}0.safetensors"), load_file(tmp_path / f"{name}1.safetensors")
        assert zero.keys() == one.keys()
        for key in zero:
            assert torch.equal(zero[key], one[key]), key
    summary = json.loads((tmp_path / "summary0.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 60
    losses = [entry["train"] for entry in summary["history"]]
    assert losses[-1] < losses[0]
    assert (tmp_path / "manifest.json").is_file()


STOP_SCRIPT = """
import logging, os, signal, sys
from nwb_neurpir.errors import Stopped
from nwb_neurpir.model import trainer
from nwb_neurpir.testing import mock_recording, tiny_config
logging.basicConfig(level=logging.INFO)
original = trainer._learning_rate
def rate(config, step):
    if step == 7 and os.environ["RANK"] == "1" and sys.argv[1] == "stop":
        signal.raise_signal(signal.SIGTERM)  # as a scheduler stopping the job, seen by one rank first
    return original(config, step)
trainer._learning_rate = rate
recordings = [mock_recording(seed=s, n_bins=300, subject_id=f"m{{s % 2}}") for s in range(2)]
config = tiny_config(batch_size=32, max_steps=20, checkpoint_every=100, context="none", segment_length_max=3.0)
try:
    model = trainer.train(recordings, config, out_dir={out!r}, progress=False)
except Stopped as stopped:
    sys.stdout.write(stopped.one_line() + "\\n")  # one write: the ranks share the pipe
    sys.exit(stopped.exit_code)
sys.stdout.write(f"trained {{model.training_summary_['steps']}}\\n")
"""


def _torchrun(script: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``script`` on two ranks; a job that hangs is killed with its ranks (they are in its process group)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--standalone", "--nproc_per_node", "2", str(script), *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}) as job:
        try:
            stdout, stderr = job.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, job.returncode, stdout, stderr)


@pytest.mark.slow
def test_a_signal_to_one_rank_stops_every_rank_at_the_same_step_with_a_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "model"
    script = tmp_path / "job.py"
    script.write_text(STOP_SCRIPT.format(out=str(out)))
    stopped = _torchrun(script, "stop")
    assert stopped.returncode != 0
    assert stopped.stdout.count("stopped by SIGTERM at step 8; a checkpoint of that step is saved") == 2, \
        stopped.stdout + stopped.stderr[-3000:]
    assert f"exitcode  : {128 + signal.SIGTERM}" in stopped.stderr  # torchrun's summary of the failed ranks
    assert latest_checkpoint(out / "checkpoints").name == "step-00000008"
    assert not (out / "manifest.json").exists()
    resumed = _torchrun(script, "resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from " + str(out / "checkpoints" / "step-00000008") in resumed.stderr
    assert resumed.stdout.count("trained 20") == 2
    assert (out / "manifest.json").is_file()


NODE_SCRIPT = """
import os, sys
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import train
from nwb_neurpir.testing import mock_recording, tiny_config
recordings = [mock_recording(seed=s, n_bins=300, subject_id=f"m{{s % 2}}") for s in range(2)]
config = tiny_config(batch_size=32, max_steps=int(sys.argv[1]), context="none", segment_length_max=3.0)
try:  # each rank writes its own folder, as nodes do whose --out is not on a shared filesystem
    train(recordings, config, out_dir=os.path.join({out!r}, "node" + os.environ["RANK"]), progress=False)
except NeurPIRError as error:
    sys.stdout.write(f"rank {{os.environ['RANK']}}: {{type(error).__name__}}: {{error.one_line()}}\\n")
    sys.exit(1)
"""


@pytest.mark.slow
def test_ranks_that_cannot_read_rank_0s_checkpoint_stop_every_rank_with_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(NODE_SCRIPT.format(out=str(tmp_path)))
    first = _torchrun(script, "4")
    assert first.returncode == 0, first.stderr[-3000:]
    assert latest_checkpoint(tmp_path / "node0" / "checkpoints").name == "step-00000004"
    assert not (tmp_path / "node1" / "checkpoints").exists()  # only rank 0 writes
    longer = _torchrun(script, "8")  # rank 0 resumes from step 4, rank 1 finds nothing to resume from
    assert longer.returncode != 0
    assert ("rank 0: NeurPIRError: " + str(tmp_path / "node0" / "checkpoints") + ": rank 0 resumes from the checkpoint "
            "of step 4, which other ranks cannot read; --out must be a folder every node shares") in longer.stdout, \
        longer.stdout + longer.stderr[-3000:]
    assert "rank 1: RankError: " + str(tmp_path / "node1" / "checkpoints" / "step-00000004") in longer.stdout

"""Run one command as a child process and measure its memory from ``/proc/<pid>/status`` while it runs.

The peak is the child's ``VmHWM`` (high-water resident size of its own program image, reset by ``exec``), sampled
every ``interval`` seconds up to its exit. ``ru_maxrss`` (``wait4``, ``RUSAGE_CHILDREN``) is not used: it also counts
the parent's image the child shared between fork and exec, so a large benchmark process would inflate it. Linux only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Measured", "Sample", "neurpir_argv", "run_measured"]


@dataclass(frozen=True)
class Sample:
    """One look at the running process."""

    seconds: float
    rss_mb: float
    peak_mb: float
    """VmHWM: the peak resident size so far."""
    progress: int
    """What the caller's probe counted (e.g. files done), -1 without a probe."""


@dataclass
class Measured:
    """A finished command: exit code, output, wall time, peak RSS, and the samples taken while it ran."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float
    samples: list[Sample] = field(default_factory=list)

    def peak_when(self, progress: int) -> float | None:
        """The peak RSS (VmHWM) at the first sample whose probe reached ``progress``."""
        return next((s.peak_mb for s in self.samples if s.progress >= progress), None)


def neurpir_argv(*args: object) -> list[str]:
    """``python -m nwb_neurpir.cli <args>`` with this interpreter."""
    return [sys.executable, "-m", "nwb_neurpir.cli", *map(str, args)]


def _status_mb(pid: int) -> tuple[float, float] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {line.split(":")[0]: line.split()[1] for line in text.splitlines() if line.startswith(("VmRSS", "VmHWM"))}
    if len(values) < 2:
        return None
    return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024


def run_measured(argv: list[str], probe: Callable[[], int] | None = None, interval: float = 0.05,
                 env: dict[str, str] | None = None) -> Measured:
    """Run ``argv`` to the end, sampling its memory (and ``probe()``) every ``interval`` seconds."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        started, samples = time.monotonic(), []
        while True:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            memory = _status_mb(process.pid)
            if memory is not None:
                samples.append(Sample(time.monotonic() - started, *memory, probe() if probe else -1))
            time.sleep(interval)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak = max((sample.peak_mb for sample in samples), default=0.0)
        return Measured(process.returncode, out.read(), err.read(), time.monotonic() - started, peak, samples)

"""Support for the hardening tests: ``neurpir`` commands as real processes, cold (``python -m nwb_neurpir.cli``) or
forked from a warm interpreter (``CliForkServer`` over ``fork_server.ForkServer``; ``run_cli_forked`` is what the
forked process runs), with their output in files and their pid at hand for SIGKILL; and the tiny model config they
train."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fork_server import ForkServer
from nwb_neurpir.cli.app import app
from nwb_neurpir.testing import tiny_config

__all__ = ["CLI_CRASHED", "CLI_PRELOAD", "SAME_VECTORS_ATOL", "TINY", "CliForkServer", "ColdAnnotation", "Finished",
           "run_cli_forked", "run_cold", "sha256", "user_lines"]

TINY = tiny_config()
"""Small enough to train in a second or two; keeps the CEBRA context so annotating loads and runs it."""

CLI_PRELOAD = ("nwb_neurpir.cli.app", "h5py", "pynwb", "ndx_neurpir", "torch", "torch._dynamo", "cebra",
               "safetensors.torch", "nwb_neurpir.workflows.annotation", "nwb_neurpir.io.nwb_reader", "nwb_neurpir.model",
               "nwb_neurpir.store", "hardening_support")
"""What the CLI fork server imports once: the CLI and what annotate and train import. No torch op runs on import, so a
forked process starts without thread pools."""

CLI_CRASHED = 99
"""Exit code of a forked ``neurpir`` command that raised past the Typer app (its traceback is on stderr)."""


SAME_VECTORS_ATOL = 1e-4
"""How close two runs' vectors of one model and file are: on a busy machine the math library may use fewer threads
than asked (MKL_DYNAMIC), which moves float32 vectors by a few 1e-6; another model's or random vectors differ by
about 1."""


def run_cli_forked(argv: list[str]) -> int:
    """``neurpir <argv>`` through the Typer app, as the exit code it asks for (``CLI_CRASHED`` on an uncaught
    exception); the forked child's ``sys.argv`` is the command's, as in a `neurpir` process."""
    sys.argv = ["neurpir", *argv]
    try:
        app(argv, prog_name="neurpir")
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return CLI_CRASHED
    return 0


@dataclass(frozen=True)
class Finished:
    """A command that ended: its exit code (negative: killed by that signal) and what it printed."""

    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class ColdAnnotation:
    """One ``python -m nwb_neurpir.cli annotate`` run in a sandbox, and what it wrote (the reference vectors)."""

    run: Finished
    annotated: Path
    ids: list[int]
    vectors: np.ndarray
    sandbox: dict[str, Path]
    """Empty folders the run was pointed at: ``home``, ``cwd``, ``tmp`` (TMPDIR), ``cache`` (NEURPIR_CACHE_DIR)."""



class CliForkServer:
    """Starts ``neurpir`` commands forked from a warm interpreter; ``start`` returns the pid, ``wait`` the outcome."""

    def __init__(self) -> None:
        self._server = ForkServer(CLI_PRELOAD)
        self._outputs: dict[int, tuple[Path, Path, float]] = {}

    def start(self, argv: list, output_dir: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Fork a process running ``neurpir <argv>`` (with ``env`` added, in ``cwd``); its stdout/stderr go to files
        in ``output_dir``."""
        output_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.monotonic_ns()}"
        stdout, stderr = output_dir / f"{stamp}.out", output_dir / f"{stamp}.err"
        pid = self._server.start("hardening_support:run_cli_forked", {"argv": [str(a) for a in argv]},
                                 stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        self._outputs[pid] = (stdout, stderr, time.monotonic())
        return pid

    def running(self, pid: int) -> bool:
        """True while the process runs (an exited one waiting to be reaped is a zombie: not running)."""
        return self._server.running(pid)

    def stderr_of(self, pid: int) -> str:
        """What the running (or finished) process has written to stderr so far."""
        return self._outputs[pid][1].read_text(errors="replace")

    def wait(self, pid: int) -> Finished:
        """Reap the process and return its outcome."""
        code = self._server.wait(pid)
        stdout, stderr, started = self._outputs.pop(pid)
        return Finished(code, stdout.read_text(errors="replace"), stderr.read_text(errors="replace"),
                        time.monotonic() - started)

    def run(self, argv: list, output_dir: Path, env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> Finished:
        """Run ``neurpir <argv>`` to the end."""
        return self.wait(self.start(argv, output_dir, env, cwd))

    def close(self) -> None:
        self._server.close()


def run_cold(argv: list[str], timeout: float = 300.0, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> Finished:
    """``python -m nwb_neurpir.cli <argv>`` in a fresh interpreter."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, check=False)
    return Finished(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def user_lines(stderr: str) -> list[str]:
    """The non-empty stderr lines, progress-bar redraws removed (tqdm separates them with carriage returns)."""
    return [line.rsplit("\r", 1)[-1] for line in stderr.splitlines() if line.rsplit("\r", 1)[-1].strip()]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

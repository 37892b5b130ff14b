"""A fork server for tests: one warm interpreter that has imported the heavy modules once and forks a process per
command, so a trial costs the command's work rather than an interpreter start-up, and the test can SIGKILL it by pid.

Run as a script (``python fork_server.py MODULE...``) this file is the server: it imports each MODULE, prints ``ready``
and then reads one JSON command per line from stdin. ``{"op": "wait", "pid": N}`` reaps process N and answers its exit
code (negative: killed by that signal). ``{"op": "run", "target": "module:function", "arguments": {...}, "stdout",
"stderr", "env", "cwd"}`` forks a process that sends its output to the named files, adds ``env`` to its environment,
works in ``cwd`` (each of these optional), calls ``function(**arguments)`` and exits with the code it returns; the
server answers its pid. ``ForkServer`` starts such a server and talks to it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["TARGET_FAILED", "ForkServer", "serve"]

TARGET_FAILED = 70
"""Exit code of a forked process whose target could not be called or raised (its traceback goes to stderr)."""


class ForkServer:
    """A running fork server: ``start`` forks a process calling a target and returns its pid, ``wait`` reaps it."""

    def __init__(self, preload: Sequence[str]) -> None:
        """Start the server and wait until it has imported ``preload`` (module names, imported in this order; include
        the modules of the targets it will call)."""
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *preload],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"the fork server did not start (said {ready!r})")

    def start(self, target: str, arguments: Mapping[str, Any], *, stdout: Path | None = None,
              stderr: Path | None = None, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
        """Fork a process that calls ``target`` ("module:function") with the JSON-able ``arguments`` as keywords and
        exits with the code it returns; ``stdout``/``stderr`` are files its output replaces (without ``stdout`` it
        prints to stderr), ``env`` is added to its environment, ``cwd`` is where it runs. Returns its pid.

        The output files exist (empty) before the fork, so a child killed before it opened them still leaves them."""
        for output in (stdout, stderr):
            if output is not None:
                Path(output).touch()
        self._send(op="run", target=target, arguments=dict(arguments), stdout=_optional_str(stdout),
                   stderr=_optional_str(stderr), env=dict(env or {}), cwd=_optional_str(cwd))
        return json.loads(self._reply())

    def wait(self, pid: int) -> int:
        """Reap the process and return its exit code (negative: killed by that signal)."""
        self._send(op="wait", pid=pid)
        return json.loads(self._reply())

    @staticmethod
    def running(pid: int) -> bool:
        """True while the process runs (an exited one waiting to be reaped is a zombie: not running)."""
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state not in ("Z", "X")

    def close(self) -> None:
        """End the server (after the processes it started have been waited for)."""
        self.process.stdin.close()
        self.process.wait(timeout=60)

    def _send(self, **command: Any) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def _reply(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the fork server died")
        return line.strip()


def serve(preload: Sequence[str]) -> None:
    """The server loop: import ``preload``, say ``ready``, then answer the commands on stdin until it closes."""
    with warnings.catch_warnings():  # quiet imports; the forked processes get the interpreter's usual filters
        warnings.simplefilter("ignore")
        for module in preload:
            importlib.import_module(module)
    print("ready", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "wait":
            _, status = os.waitpid(command["pid"], 0)
            print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            _run_forked(command)
        print(json.dumps(pid), flush=True)


def _run_forked(command: dict[str, Any]) -> NoReturn:
    """In the forked process: set up its output, environment and folder, call the target, exit with its code (never
    returning into the server loop)."""
    code = TARGET_FAILED
    try:
        _replace_fd(0, os.open(os.devnull, os.O_RDONLY))  # the server's commands are not for the child
        if command["stderr"] is not None:
            _replace_fd(2, _open_for_writing(command["stderr"]))
        # The server's stdout carries its replies: without a file of its own the child prints to stderr.
        _replace_fd(1, os.dup(2) if command["stdout"] is None else _open_for_writing(command["stdout"]))
        os.environ.update(command["env"])
        if command["cwd"] is not None:
            os.chdir(command["cwd"])
        module, function = command["target"].split(":")
        code = int(getattr(importlib.import_module(module), function)(**command["arguments"]))
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _open_for_writing(file: str) -> int:
    return os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def _replace_fd(fd: int, replacement: int) -> None:
    os.dup2(replacement, fd)
    os.close(replacement)


def _optional_str(value: object | None) -> str | None:
    return None if value is None else str(value)


if __name__ == "__main__":
    serve(sys.argv[1:])

"""The ``neurpir`` Typer app: registers the commands and turns user errors into one-line messages.

Exit codes: 0 ok, 1 error (bad input, failed asset), 2 usage (Click's own), 3 internal error (a bug: the traceback,
then one line asking for a report), 128 + the signal for a run stopped by Ctrl-C (SIGINT, 130) or SIGTERM (143).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from nwb_neurpir import __version__
from nwb_neurpir.cli import (
    cmd_annotate,
    cmd_demo,
    cmd_embed,
    cmd_evaluate,
    cmd_export,
    cmd_fetch,
    cmd_inspect,
    cmd_plot,
    cmd_predict,
    cmd_simulate,
    cmd_train,
)
from nwb_neurpir.cli.library_caches import use_private_caches_if_needed
from nwb_neurpir.cli.terminal import terminal_output
from nwb_neurpir.errors import NeurPIRError, RankError, Stopped
from nwb_neurpir.redaction import redact_text

INTERNAL_ERROR = 3
"""The exit code of a command that failed by a bug (an unexpected exception), apart from user errors (1) and usage
errors (2)."""


def _other_rank() -> str | None:
    """Under torchrun, this process's rank when it is not rank 0 (which alone reports what every rank shares)."""
    from nwb_neurpir.workflows.ranks import is_main_process

    return None if is_main_process() else os.environ["RANK"]


def _fail(message: str) -> typer.Exit:
    if _other_rank() is None:
        typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _fail_on_this_rank(exc: RankError) -> typer.Exit:
    """A problem only this rank has: said with the rank, whichever it is."""
    rank = _other_rank()
    typer.echo(f"error: {'' if rank is None else f'rank {rank}: '}{exc.one_line()}", err=True)
    return typer.Exit(code=1)


def _internal_error(exc: Exception) -> typer.Exit:
    """A bug: its traceback (URLs without their credentials), then one line saying it is one, to report (every
    rank says its own, with its rank)."""
    rank = _other_rank()
    _write_line(redact_text("".join(traceback.format_exception(exc))).rstrip("\n"))
    typer.echo(f"error: {'' if rank is None else f'rank {rank}: '}internal error in neurpir {__version__} (a bug, "
               "not a problem with the input): please report it with the traceback above", err=True)
    return typer.Exit(code=INTERNAL_ERROR)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises no second broken-pipe error."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (e.g. a test runner's buffer)
        pass


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that it unwinds as after Ctrl-C: ``finally`` blocks and context
    managers run (temporary files and lock files are deleted) instead of the process dying on the spot."""


_RESEND_SECONDS = 0.05
"""How long after a stop lost in a finaliser it is sent again (the finaliser has returned by then)."""


class _StopSignals:
    """While a command runs, SIGTERM (a job scheduler's stop) raises ``_Terminated``, so the process unwinds as after
    Ctrl-C; a second SIGTERM while it cleans up is ignored (SIGKILL still ends it). The trainer's own handler takes
    over during its steps, to stop after a step with a checkpoint, and gives this one back.

    Python ignores an exception raised in a finaliser or weakref callback (h5py runs many), so a stop that lands in
    one would be lost: the signal is raised again, to land in the command's own code. Only the main thread can set
    signal handlers: in another (a test's), nothing changes."""

    def __enter__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.raised = False
            self.previous_handler = signal.signal(signal.SIGTERM, self._unwind)
            self.previous_hook, sys.unraisablehook = sys.unraisablehook, self._lost

    def __exit__(self, *_exc: object) -> None:
        if self.active:
            signal.signal(signal.SIGTERM, self.previous_handler)
            sys.unraisablehook = self.previous_hook

    def _unwind(self, _number: int, _frame: object) -> None:
        if not self.raised:
            self.raised = True
            raise _Terminated

    def _lost(self, unraisable: Any) -> None:  # noqa: ANN401 - sys.UnraisableHookArgs
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.previous_hook(unraisable)
            return
        terminated = isinstance(unraisable.exc_value, _Terminated)
        self.raised = self.raised and not terminated
        again = signal.SIGTERM if terminated else signal.SIGINT
        # Sent a moment later from another thread: raised here, the handler would run at once, in the finaliser.
        resend = threading.Timer(_RESEND_SECONDS, os.kill, (os.getpid(), again))
        resend.daemon = True
        resend.start()


def _stopped(command: str | None, by: signal.Signals) -> typer.Exit:
    """A command stopped by a signal outside the trainer's steps: one line (rank 0) and ``128 + signal``."""
    if _other_rank() is None:
        typer.echo(f"stopped by {by.name}: neurpir {command} did not finish", err=True)
    return typer.Exit(code=128 + by)


_OUTPUT_PARAMETERS = ("out", "output_dir", "out_dir")
"""The names of the commands' output options and arguments (``--out``, ``--output-dir``, simulate's folder)."""


def _output_target(params: dict[str, Any]) -> str | None:
    """What the command writes to, as given: its output option or argument, else (annotate and predict in place)
    its sources; None when it names neither."""
    given = next((params[name] for name in _OUTPUT_PARAMETERS if params.get(name) is not None), None)
    if given is not None:
        return str(given)
    sources = params.get("sources") if "output_dir" in params else None
    if not sources:
        return None
    return sources[0] if len(sources) == 1 else f"{sources[0]} (and {len(sources) - 1} more)"


def _os_error_line(exc: OSError, target: str | None) -> str:
    """An OSError in one line naming what it can: the file(s) it names, else the command's output target."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        names = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        return NeurPIRError(reason, names).one_line()
    return NeurPIRError(reason if target is None else f"{reason} (writing to {target})").one_line()


class _Group(TyperGroup):
    """Turns NeurPIRError and OS errors into ``error: <one line>`` and exit code 1, no traceback (a run the user
    stopped: its message and ``128 + signal``). Under torchrun only rank 0 says them, except a RankError (a problem of
    that rank alone), said with the rank. SIGTERM stops a command as Ctrl-C does. Any other exception is a bug: its
    traceback and exit code ``INTERNAL_ERROR``.

    Everything it prints, those lines too, shows the control characters of text from files as escapes
    (``terminal_output``).

    Done in ``invoke`` so that the installed command and Typer's CliRunner behave the same.
    """

    def invoke(self, ctx: typer.Context):  # noqa: ANN201 - Click's signature
        with terminal_output():
            return self._invoke(ctx)

    def _invoke(self, ctx: typer.Context):  # noqa: ANN202 - Click's invoke
        arguments = [*ctx._protected_args, *ctx.args]  # the command and its arguments, which super().invoke consumes
        try:
            with _StopSignals():
                return super().invoke(ctx)
        except Stopped as exc:
            if _other_rank() is None:
                typer.echo(exc.one_line(), err=True)
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt as exc:
            by = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
            raise _stopped(ctx.invoked_subcommand, by) from None
        except RankError as exc:
            raise _fail_on_this_rank(exc) from None
        except NeurPIRError as exc:
            raise _fail(exc.one_line()) from None
        except BrokenPipeError:  # `neurpir inspect ... | head`: the reader has gone, nothing more to say
            _silence_stdout()
            raise typer.Exit(code=1) from None
        except OSError as exc:
            target = None if exc.filename is not None else self._output_target(ctx, arguments)
            raise _fail(_os_error_line(exc, target)) from None
        except (typer.Exit, typer.Abort, TyperException):  # Typer's own exits and usage errors
            raise
        except Exception as exc:  # noqa: BLE001 - a bug, reported as one
            raise _internal_error(exc) from None

    def _output_target(self, ctx: typer.Context, arguments: list[str]) -> str | None:
        """The output target of the command ``arguments`` run, parsed again (only after an error)."""
        name, command, rest = self.resolve_command(ctx, list(arguments))
        if command is None:
            return None
        with command.make_context(name, rest, parent=ctx, resilient_parsing=True) as parsed:
            return _output_target(parsed.params)


app = typer.Typer(
    cls=_Group,
    name="neurpir",
    help="Learn one intrinsic vector per neuron from NWB recordings (NeurPIR) and store it back into NWB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"neurpir {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging (-v info, -vv debug).")] = 0,
    version: Annotated[
        Optional[bool],  # noqa: UP007 - Typer needs Optional here on 3.10
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """NeurPIR for NWB: simulate, inspect, train, embed, annotate, predict, evaluate, plot."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _BarSafeHandler()
    handler.setFormatter(_RecordFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level if _other_rank() is None else logging.ERROR, handlers=[handler])
    warnings.showwarning = _show_warning
    if _other_rank() is not None:
        warnings.simplefilter("ignore")  # under torchrun rank 0 gives the warnings every rank would repeat
    moved = use_private_caches_if_needed()  # before a command imports pynwb, numba or matplotlib
    if moved is not None:
        warnings.warn(moved, stacklevel=1)


def _write_line(text: str) -> None:
    """One line on stderr, never in the middle of a progress bar (tqdm clears the bar, prints, redraws it)."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


class _BarSafeHandler(logging.Handler):
    """Log records as lines on stderr that do not share a line with a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        _write_line(self.format(record))


def _warning_line(message: object) -> str:
    """A warning as the user reads it: ``warning: <message on one line>``."""
    return f"warning: {' '.join(str(message).split())}"


class _RecordFormatter(logging.Formatter):
    """The package's own logged warnings read like its ``warnings.warn`` ones (``warning: <one line>``); other
    records (information and debugging, other libraries' warnings) keep their level and logger."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.WARNING and record.name.partition(".")[0] == "nwb_neurpir":
            return _warning_line(record.getMessage())
        return super().format(record)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001, ARG001
    """Warnings reach the user as one line, without the source line that raised them."""
    _write_line(_warning_line(message))


for _module in (cmd_demo, cmd_simulate, cmd_inspect, cmd_fetch, cmd_train, cmd_embed, cmd_annotate, cmd_predict,
                cmd_evaluate, cmd_plot, cmd_export):
    _module.register(app)


def main() -> None:
    """Entry point of the ``neurpir`` console script."""
    app()

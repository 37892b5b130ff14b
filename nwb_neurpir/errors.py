"""The one exception type for user-facing problems: it names the file and says what is wrong in one line."""

from __future__ import annotations

from pathlib import Path

from nwb_neurpir.redaction import redact_text


class NeurPIRError(Exception):
    """A problem with the user's input (a file, a source, an option) rather than a bug.

    The CLI prints ``error: <source>: <message>`` on one line and exits with code 1.
    """

    def __init__(self, message: str, source: str | Path | None = None) -> None:
        self.message = message
        self.source = None if source is None else str(source)
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI prints it: source first, no newlines, URLs without their credentials."""
        text = f"{self.source}: {self.message}" if self.source else self.message
        return redact_text(" ".join(text.split()))


class NoNeurons(NeurPIRError):
    """The file holds neither units with spike times nor ROI responses (e.g. LFP only): among many files, skipped."""


class NoneSelected(NoNeurons):
    """None of the file's neurons passes the neuron filter: among many files, skipped like a file without neurons."""


class NoSpikes(NoNeurons):
    """Every unit read (all of the file's, or those the neuron filter keeps) has no spike times, as when a probe's
    spike sorting failed: among many files, skipped like a file without neurons; alone, this error."""


class ContradictedReading(NeurPIRError):
    """The ``--series`` or ``--during`` given reads other traces, neurons or time than stored embeddings were made
    from."""


class Stopped(NeurPIRError):
    """A run the user stopped (Ctrl-C, or a scheduler's SIGTERM) after saving what it had done: not a failure. The CLI
    prints the message without ``error:`` and exits with ``128 + signal`` (130 for Ctrl-C), as a shell expects."""

    def __init__(self, message: str, source: str | Path | None = None, *, signal: int) -> None:
        super().__init__(message, source)
        self.exit_code = 128 + int(signal)


class CannotResume(NeurPIRError):
    """A checkpoint that training cannot continue (other settings, other data, a newer release): ``reason`` says why,
    the message adds ``start_over``, how to train again from scratch (a caller with other options says its own)."""

    def __init__(self, reason: str, source: str | Path | None = None, *, start_over: str) -> None:
        super().__init__(f"{reason}; {start_over}", source)
        self.reason = reason


class RankError(NeurPIRError):
    """Under ``torchrun``, a problem that only this rank has (say, a node that cannot see a file the others read). The
    CLI prints it with the rank; the other ranks stop too, and only rank 0 reports problems every rank has."""

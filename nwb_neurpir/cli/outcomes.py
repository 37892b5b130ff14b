"""How `annotate` and `predict` report what they did to each source: one line per source (or JSON), then a summary
on stderr, and exit code 1 when a source failed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from nwb_neurpir.workflows.annotation import AnnotateOutcome

__all__ = ["print_outcomes"]


def print_outcomes(outcomes: Sequence[AnnotateOutcome], verb: str, as_json: bool,
                   where: Callable[[AnnotateOutcome], str] = lambda outcome: str(outcome.path)) -> None:
    """Print each outcome (``where`` says where a successful one went), then '<verb> N of M sources; S skipped;
    U unchanged (already <verb>); F failed'; raise ``typer.Exit(1)`` when any failed."""
    if as_json:
        typer.echo(json.dumps([outcome.to_dict() for outcome in outcomes], indent=2))
    else:
        for outcome in outcomes:
            detail = where(outcome) if outcome.error is None else outcome.error
            typer.echo(f"{outcome.status:>9}  {outcome.n_neurons:>6} neurons  {detail}")
    failed = sum(outcome.status == "failed" for outcome in outcomes)
    skipped = sum(outcome.status == "skipped" for outcome in outcomes)
    unchanged = sum(outcome.status == "unchanged" for outcome in outcomes)
    typer.echo(f"{verb} {len(outcomes) - failed - skipped - unchanged} of {len(outcomes)} sources"
               + (f"; {skipped} skipped (sidecars, no neurons or spikes, or the other modality)" if skipped else "")
               + (f"; {unchanged} unchanged (already {verb})" if unchanged else "")
               + (f"; {failed} failed" if failed else ""), err=True)
    if failed:
        raise typer.Exit(code=1)

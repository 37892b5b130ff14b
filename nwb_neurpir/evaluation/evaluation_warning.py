"""The warning category of evaluations and their figures (its own module: ``plots`` warns too, and ``evaluate``
imports the figures' results)."""

from __future__ import annotations

__all__ = ["EvaluationWarning"]


class EvaluationWarning(UserWarning):
    """Something the reader of an evaluation must know (also recorded in the result's ``notes``)."""

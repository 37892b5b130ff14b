"""The warning category of evaluations and their figures (its own module: ``plots`` warns too, and ``evaluate``
imports the figures' results), and ``warn_caller``, which names the user's line."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["EvaluationWarning", "warn_caller"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class EvaluationWarning(UserWarning):
    """Something the reader of an evaluation must know (also recorded in the result's ``notes``)."""


def warn_caller(message: str, category: type[Warning] = EvaluationWarning) -> None:
    """``warnings.warn`` at the first line outside this package -- the user's code that called it, however deep
    inside the package the warning arose (a fixed ``stacklevel`` is right for one way in only)."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)

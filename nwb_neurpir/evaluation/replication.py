"""Two methods compared unit by unit: the balanced-accuracy gain on each animal and each session, and a paired
sign-flip test over sessions.

Neurons of one animal (or session) share its recording, its histology and its probe's training set, so they are not
independent replicates: a test over neurons finds "differences" that do not replicate across animals. The session is
the smallest unit that is; the verdict of ``comparison.compare`` rests on it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nwb_neurpir.evaluation.metrics import monte_carlo_p_text, random_sign_flips, score_fold

__all__ = ["EXACT_UNITS", "UNIT_SHUFFLES", "SignFlipTest", "UnitGain", "sign_flip_test", "unit_gains"]

EXACT_UNITS = 16
"""Up to this many units the sign-flip test enumerates all 2^n sign patterns (an exact p); beyond, it draws them."""
UNIT_SHUFFLES = 100_000
"""Random sign patterns of the test beyond ``EXACT_UNITS`` units (Monte Carlo error about ±0.0007 at p = 0.05)."""


@dataclass(frozen=True)
class UnitGain:
    """One unit's (animal's or session's) balanced accuracy of two methods on its neurons, and the difference."""

    name: str
    first: float
    second: float
    n_neurons: int

    @property
    def gain(self) -> float:
        return self.first - self.second

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "gain": self.gain, "first": self.first, "second": self.second,
                "n_neurons": self.n_neurons}


@dataclass(frozen=True)
class SignFlipTest:
    """The paired sign-flip test of per-unit gains: two-sided, statistic the mean gain."""

    p_value: float
    n_units: int
    exact: bool
    n_patterns: int
    """Sign patterns weighed: all 2^n when ``exact``, else the random draws."""
    smallest_p: float
    """The smallest p the test can give with these units (2 / 2^n exactly, 1 / (N + 1) drawn)."""

    @property
    def monte_carlo_error(self) -> float | None:
        """Standard error sqrt(p (1 - p) / N) of a drawn p; None for an exact one."""
        return None if self.exact else float(np.sqrt(self.p_value * (1 - self.p_value) / self.n_patterns))

    def text(self) -> str:
        """``p = 0.0039 (exact, all 2^9 sign patterns)`` or a drawn p with its Monte Carlo error."""
        if self.exact:
            return f"p = {self.p_value:.2g} (exact, all 2^{self.n_units} sign patterns)"
        return f"{monte_carlo_p_text(self.p_value, self.n_patterns)} ({self.n_patterns} random sign patterns)"

    def to_dict(self) -> dict[str, Any]:
        return {"p_value": self.p_value, "n_units": self.n_units, "exact": self.exact, "n_shuffles": self.n_patterns,
                "monte_carlo_error": self.monte_carlo_error, "smallest_p": self.smallest_p}


def unit_gains(y_true: Sequence[str], first: Sequence[str], second: Sequence[str],
               units: Sequence[str]) -> list[UnitGain]:
    """Per unit (in order of first appearance): both methods' balanced accuracy over its neurons (over the classes
    present among them) and the neuron count."""
    y_true, first, second = (np.asarray(values, dtype=str) for values in (y_true, first, second))
    units = np.asarray(units, dtype=str)
    gains = []
    for name in dict.fromkeys(units.tolist()):
        here = units == name
        classes = sorted(set(y_true[here]) | set(first[here]) | set(second[here]))
        gains.append(UnitGain(name, score_fold(y_true[here], first[here], classes).balanced_accuracy,
                              score_fold(y_true[here], second[here], classes).balanced_accuracy, int(here.sum())))
    return gains


def sign_flip_test(gains: Sequence[float], n_shuffles: int = UNIT_SHUFFLES, seed: int = 0) -> SignFlipTest:
    """Two-sided p-value that per-unit gains are centred on 0. Under the null the two methods are exchangeable within
    each unit, so its gain is as likely negated: p is the share of sign patterns whose mean gain is at least as far
    from 0 as the observed one. Exact (p = k / 2^n, every pattern) up to ``EXACT_UNITS`` units with a nonzero gain,
    else ``n_shuffles`` random patterns (p = (1 + k) / (N + 1))."""
    values = np.asarray(gains, dtype=float)
    values = values[values != 0]  # a zero gain is the same under either sign
    n = int(values.size)
    if n == 0:
        return SignFlipTest(p_value=1.0, n_units=0, exact=True, n_patterns=1, smallest_p=1.0)
    if n <= EXACT_UNITS:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
        at_least = int(np.sum(np.abs(signs @ values) >= abs(values.sum()) - 1e-12))
        return SignFlipTest(p_value=at_least / signs.shape[0], n_units=n, exact=True, n_patterns=signs.shape[0],
                            smallest_p=2.0 / signs.shape[0])
    at_least = random_sign_flips(values, n_shuffles, seed)
    return SignFlipTest(p_value=(1 + at_least) / (n_shuffles + 1), n_units=n, exact=False, n_patterns=n_shuffles,
                        smallest_p=1.0 / (n_shuffles + 1))

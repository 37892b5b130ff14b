"""Self-supervised losses on two aligned batches of views, applied within each group of co-recorded neurons.

VICReg (Bardes et al. 2022): invariance between views, variance kept above 1, covariance decorrelated, on the
expander's output. Barlow Twins (Zbontar et al. 2021) on the representation itself: each dimension standardised over
the group's neurons, the cross-correlation of the two views pushed to the identity, so every dimension must be both
stable across views and decorrelated from the others (no collapse of the vector the probes read); plus a term that
centres and scales each dimension within the group. Both are computed per group (neurons of one recording) and
averaged, so the statistics that keep neurons apart compare neurons of the same recording: a vector that only says
which recording or animal a neuron comes from cannot satisfy them.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["barlow_loss", "grouped_loss", "vicreg_loss"]


def vicreg_loss(
    z_a: torch.Tensor, z_b: torch.Tensor, invariance_weight: float = 25.0, variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted VICReg loss of two (batch, dim) expander outputs, and its three unweighted terms."""
    invariance = F.mse_loss(z_a, z_b)
    variance = (_variance_term(z_a) + _variance_term(z_b)) / 2
    covariance = _covariance_term(z_a) + _covariance_term(z_b)
    total = invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance
    return total, {"invariance": invariance, "variance": variance, "covariance": covariance}


def barlow_loss(z_a: torch.Tensor, z_b: torch.Tensor, off_diagonal_weight: float = 0.02, scale_weight: float = 1.0,
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Barlow Twins loss of two (batch, dim) representations, and its unweighted terms.

    Barlow Twins itself ignores each dimension's offset and scale; a ``scale`` term pulls every dimension's mean over
    the batch to 0 and its standard deviation to 1, so the vectors themselves are centred per recording and no single
    dimension dominates their spread.
    """
    n = z_a.shape[0]
    a = (z_a - z_a.mean(0)) / (z_a.std(0) + 1e-4)
    b = (z_b - z_b.mean(0)) / (z_b.std(0) + 1e-4)
    correlation = a.T @ b / n
    diagonal = torch.diagonal(correlation)
    invariance = (1.0 - diagonal).pow(2).sum()
    redundancy = (correlation - torch.diag(diagonal)).pow(2).sum()
    scale = sum(z.mean(0).pow(2).sum() + (z.std(0) - 1.0).pow(2).sum() for z in (z_a, z_b)) / 2
    total = invariance + off_diagonal_weight * redundancy + scale_weight * scale
    return total, {"invariance": invariance, "redundancy": redundancy, "scale": scale}


def _variance_term(z: torch.Tensor) -> torch.Tensor:
    std = torch.sqrt(z.var(dim=0) + 1e-4)
    return F.relu(1.0 - std).mean()


def _covariance_term(z: torch.Tensor) -> torch.Tensor:
    n, dim = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / max(n - 1, 1)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    return off_diagonal.pow(2).sum() / dim


def grouped_loss(loss, z_a: torch.Tensor, z_b: torch.Tensor,  # noqa: ANN001
                 group: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``loss(z_a[g], z_b[g])`` averaged over the groups with at least two neurons (terms averaged likewise)."""
    totals, terms = [], {}
    for value in torch.unique(group):
        rows = group == value
        if int(rows.sum()) < 2:
            continue
        total, parts = loss(z_a[rows], z_b[rows])
        totals.append(total)
        for name, term in parts.items():
            terms.setdefault(name, []).append(term)
    return torch.stack(totals).mean(), {name: torch.stack(values).mean() for name, values in terms.items()}

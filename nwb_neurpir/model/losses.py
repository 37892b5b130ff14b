"""VICReg loss (Bardes et al. 2022): invariance between views, variance kept above 1, covariance decorrelated."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["vicreg_loss"]


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


def _variance_term(z: torch.Tensor) -> torch.Tensor:
    std = torch.sqrt(z.var(dim=0) + 1e-4)
    return F.relu(1.0 - std).mean()


def _covariance_term(z: torch.Tensor) -> torch.Tensor:
    n, dim = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / max(n - 1, 1)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    return off_diagonal.pow(2).sum() / dim

"""VICReg terms behave as the paper defines them."""

from __future__ import annotations

import torch

from nwb_neurpir.model.vicreg import vicreg_loss


def test_identical_views_have_zero_invariance() -> None:
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    _, terms = vicreg_loss(z, z.clone())
    assert float(terms["invariance"]) == 0.0


def test_collapsed_outputs_are_penalised_by_variance() -> None:
    spread = 3 * torch.randn(64, 16, generator=torch.Generator().manual_seed(1))
    collapsed = torch.ones(64, 16)
    _, spread_terms = vicreg_loss(spread, spread)
    _, collapsed_terms = vicreg_loss(collapsed, collapsed)
    assert float(spread_terms["variance"]) < 0.05
    assert float(collapsed_terms["variance"]) > 0.95


def test_correlated_dimensions_are_penalised_by_covariance() -> None:
    base = torch.randn(128, 1, generator=torch.Generator().manual_seed(2))
    correlated = base.repeat(1, 8)
    independent = torch.randn(128, 8, generator=torch.Generator().manual_seed(3))
    assert float(vicreg_loss(correlated, correlated)[1]["covariance"]) > \
        10 * float(vicreg_loss(independent, independent)[1]["covariance"])


def test_weights_combine_the_terms() -> None:
    a, b = torch.randn(32, 4), torch.randn(32, 4)
    total, terms = vicreg_loss(a, b, 2.0, 3.0, 5.0)
    expected = 2 * terms["invariance"] + 3 * terms["variance"] + 5 * terms["covariance"]
    assert torch.allclose(total, expected)

"""VICReg terms behave as the paper defines them."""

from __future__ import annotations

import torch

from nwb_neurpir.model.losses import barlow_loss, grouped_loss, vicreg_loss


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


def test_barlow_is_zero_for_identical_decorrelated_views_and_positive_for_unrelated_ones() -> None:
    raw = torch.randn(256, 16, generator=torch.Generator().manual_seed(0))
    z = torch.linalg.qr(raw - raw.mean(0))[0] * 255**0.5  # centred, decorrelated, unit spread
    same, terms = barlow_loss(z, z.clone())
    assert float(terms["invariance"]) < 1e-3 and float(terms["scale"]) < 1e-3 and float(same) < 0.05
    other = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))
    assert float(barlow_loss(z, other)[0]) > 10.0


def test_grouped_loss_cannot_be_lowered_by_telling_recordings_apart() -> None:
    generator = torch.Generator().manual_seed(2)
    z_a, z_b = torch.randn(64, 8, generator=generator), torch.randn(64, 8, generator=generator)
    group = torch.arange(64) // 32
    offset = 10.0 * group[:, None].float()  # a vector part that only says which recording a neuron is from
    def barlow(a, b):  # noqa: ANN001, ANN202
        return barlow_loss(a, b, scale_weight=0.0)

    plain, _ = grouped_loss(barlow, z_a, z_b, group)
    shifted, _ = grouped_loss(barlow, z_a + offset, z_b + offset, group)
    torch.testing.assert_close(plain, shifted)
    pooled, _ = barlow(z_a + offset, z_b + offset)
    assert float(pooled) < float(plain)  # without groups, the offset would have satisfied the loss
    # the scale term goes further: a per-recording offset costs
    assert float(grouped_loss(barlow_loss, z_a + offset, z_b + offset, group)[0]) > \
        float(grouped_loss(barlow_loss, z_a, z_b, group)[0])


def test_the_prediction_error_reads_only_observed_bins_and_reaches_the_vector() -> None:
    from nwb_neurpir.model.encoder import ActivityDecoder

    torch.manual_seed(0)
    decoder = ActivityDecoder(representation_dim=8, width=16, hidden=32)
    z = torch.randn(3, 8, requires_grad=True)
    values, population = torch.randn(6, 12), torch.randn(6, 12)
    mask = torch.rand(6, 12) > 0.3
    owner = torch.tensor([0, 0, 1, 1, 2, 2])
    error = decoder(z, values=values, mask=mask, population=population, owner=owner)
    changed = torch.where(mask, values, values + 100.0)  # unobserved bins hold anything
    assert torch.isclose(error, decoder(z, values=changed, mask=mask, population=population, owner=owner))
    error.backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    observed = torch.where(mask, values + 1.0, values)
    assert not torch.isclose(error, decoder(z, values=observed, mask=mask, population=population, owner=owner))

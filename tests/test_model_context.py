"""The CEBRA context: one space for every session, no session identity in it, missing covariates handled."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from nwb_neurpir.testing import mock_recording
from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.model.context import aligned_covariates, fit_context

CONFIG = NeurPIRConfig(context_iterations=30, context_batch_size=128, context_hidden=8, seed=0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():  # noqa: ANN201
    """CEBRA fits in-process here (no trainer to set threads); one thread is fastest on a shared CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def recordings():  # noqa: ANN201
    return [mock_recording(seed=s, n_bins=600, subject_id=f"m{s}") for s in range(3)]


@pytest.fixture(scope="module")
def context(recordings):  # noqa: ANN001, ANN201
    return fit_context(recordings, CONFIG)


def test_same_covariates_give_the_same_context_in_any_session(context, recordings) -> None:  # noqa: ANN001
    other = mock_recording(seed=7, n_bins=600, subject_id="new-animal", rate_scale=2.0)
    other.covariates = dict(recordings[0].covariates)
    np.testing.assert_array_equal(context.transform(other), context.transform(recordings[0]))
    assert context.transform(other).shape == (600, CONFIG.context_dim)


def test_context_does_not_reveal_the_session(context, recordings) -> None:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    x = np.concatenate([context.transform(r) for r in recordings])
    y = np.repeat(np.arange(len(recordings)), 600)
    train = (np.arange(x.shape[0]) % 600) < 400
    probe = LogisticRegression(max_iter=500).fit(x[train], y[train])
    accuracy = balanced_accuracy_score(y[~train], probe.predict(x[~train]))
    assert accuracy < 1 / len(recordings) + 0.15


def test_same_seed_gives_the_same_context_network(recordings, context) -> None:  # noqa: ANN001
    """CEBRA's own samplers would draw their seeds from the OS; the fit pins them to the config's seed."""
    import torch

    again = fit_context(recordings, CONFIG)
    for name, value in context.network.state_dict().items():
        assert torch.equal(value, again.network.state_dict()[name]), name


def test_missing_columns_are_zeros_and_logged(recordings, caplog) -> None:  # noqa: ANN001
    partial = mock_recording(seed=9, n_bins=100)
    del partial.covariates["speed"]
    with caplog.at_level(logging.INFO):
        values = aligned_covariates(partial, ["speed", "stimulus"])
    assert (values[:, 0] == 0).all() and (values[:, 1] == partial.covariates["stimulus"]).all()
    assert "speed missing" in caplog.text


def test_context_off_and_no_covariates_give_none(recordings) -> None:  # noqa: ANN001
    import dataclasses

    assert fit_context(recordings, dataclasses.replace(CONFIG, context="none")) is None
    assert fit_context([mock_recording(seed=1, n_bins=100, with_covariates=False)], CONFIG) is None

"""The neuron encoder: masking, length independence, batching independence."""

from __future__ import annotations

import numpy as np
import torch

from model_recordings import synthetic_recording
from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.model.encoder import NeuronEncoder, encode
from nwb_neurpir.model.segments import ViewBatch, ViewSampler, gather_views
from nwb_neurpir.model.sessions import prepare_session

CONFIG = NeurPIRConfig(hidden_dim=8, representation_dim=6, max_chunk_bins=50).resolved("spikes")


def _encoder(context_dim: int = 0) -> NeuronEncoder:
    torch.manual_seed(0)
    return NeuronEncoder(CONFIG, context_dim).eval()


def _session(observed: np.ndarray | None = None):  # noqa: ANN202
    recording = synthetic_recording(seed=1, n_bins=400)
    if observed is not None:
        recording.observed = observed
    return prepare_session(recording, CONFIG, None)


def test_masked_bins_do_not_change_the_output() -> None:
    session = _session()
    batch = gather_views(session, np.array([0, 5]), [np.arange(3), np.arange(2, 6)])
    batch.mask[:, 10:20] = False
    batch.values[~batch.mask] = 0.0
    changed = ViewBatch(values=batch.values.copy(), mask=batch.mask, positions=batch.positions, context=None,
                        owner=batch.owner, n_views=batch.n_views)
    changed.values[~batch.mask] = 50.0
    encoder = _encoder()
    with torch.no_grad():
        assert torch.equal(encode(encoder, batch, torch.device("cpu")),
                           encode(encoder, changed, torch.device("cpu")))


def test_padding_chunks_do_not_change_the_output() -> None:
    batch = gather_views(_session(), np.array([0, 5, 7]), [np.arange(3), np.arange(2, 6), np.arange(1)])
    padded = batch.padded(200)
    assert padded.values.shape[0] == 200 and not padded.mask[batch.values.shape[0]:].any()
    encoder = _encoder()
    with torch.no_grad():
        torch.testing.assert_close(encode(encoder, batch, torch.device("cpu")),
                                   encode(encoder, padded, torch.device("cpu")), rtol=1e-5, atol=1e-6)


def test_unobserved_activity_is_ignored_when_sampling() -> None:
    observed = np.ones((24, 400), dtype=bool)
    observed[:, 100:200] = False
    session = _session(observed)
    noisy = _session(observed)
    noisy.activity[:, 100:200] = 200
    encoder = _encoder()
    views = [np.arange(8)]
    with torch.no_grad():
        a = encode(encoder, gather_views(session, np.array([3]), views), torch.device("cpu"))
        b = encode(encoder, gather_views(noisy, np.array([3]), views), torch.device("cpu"))
    assert torch.equal(a, b)


def test_variable_length_batch_matches_one_by_one() -> None:
    session = _session()
    neurons = np.array([0, 9, 17, 20])
    chunk_lists = [np.arange(1), np.arange(2, 8), np.arange(3), np.arange(8)]
    encoder = _encoder()
    with torch.no_grad():
        together = encode(encoder, gather_views(session, neurons, chunk_lists), torch.device("cpu"))
        alone = torch.cat([encode(encoder, gather_views(session, neurons[i:i + 1], [c]), torch.device("cpu"))
                           for i, c in enumerate(chunk_lists)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def test_sampler_draws_aligned_views_of_independent_lengths() -> None:
    sessions = [_session(), prepare_session(synthetic_recording(seed=2, n_bins=400, subject_id="m2"), CONFIG, None)]
    sampler = ViewSampler(sessions, [np.arange(24), np.arange(24)], (0.5, 4.0))
    view_a, view_b = sampler.sample(np.random.default_rng(0), 64)
    assert view_a.n_views == view_b.n_views == 64
    lengths_a = np.bincount(view_a.owner, minlength=64)
    lengths_b = np.bincount(view_b.owner, minlength=64)
    assert (lengths_a != lengths_b).mean() > 0.3
    assert lengths_a.min() >= 1 and lengths_a.max() <= 8


def test_population_channel_is_the_session_mean_and_reaches_the_encoder() -> None:
    config = NeurPIRConfig(hidden_dim=8, representation_dim=6, max_chunk_bins=50,
                           population_channel=True).resolved("spikes")
    recording = synthetic_recording(seed=1, n_bins=400)
    session = prepare_session(recording, config, None)
    rows = np.arange(recording.n_neurons)
    expected = session.normalizer.apply(session.activity, rows).mean(axis=0)
    assert abs(np.corrcoef(session.population, expected)[0, 1] - 1.0) < 1e-5
    assert abs(float(session.population.mean())) < 1e-5 and abs(float(session.population.std()) - 1.0) < 1e-4
    batch = gather_views(session, np.array([0, 5]), [np.arange(3), np.arange(2, 6)])
    torch.manual_seed(0)
    encoder = NeuronEncoder(config, 0).eval()
    shifted = ViewBatch(values=batch.values, mask=batch.mask, positions=batch.positions, context=None,
                        owner=batch.owner, n_views=batch.n_views, population=batch.population + 1.0)
    with torch.no_grad():
        a = encode(encoder, batch, torch.device("cpu"))
        b = encode(encoder, shifted, torch.device("cpu"))
    assert a.shape == (2, 6) and not torch.allclose(a, b)


def test_single_session_batches_draw_every_neuron_from_one_session() -> None:
    silent = prepare_session(synthetic_recording(seed=2, n_bins=400, subject_id="m2", rate_scale=0.0), CONFIG, None)
    sessions = [_session(), silent]
    pools = [np.arange(24), np.arange(24)]
    kinds = set()
    for seed in range(12):
        view_a, _ = ViewSampler(sessions, pools, (2.0, 4.0), single_session=True).sample(np.random.default_rng(seed), 16)
        active = np.bincount(view_a.owner, weights=view_a.values.sum(axis=1), minlength=16) > 0
        assert active.all() or not active.any()
        kinds.add(bool(active.any()))
    assert kinds == {True, False}
    view_a, _ = ViewSampler(sessions, pools, (2.0, 4.0)).sample(np.random.default_rng(0), 16)
    active = np.bincount(view_a.owner, weights=view_a.values.sum(axis=1), minlength=16) > 0
    assert 0 < active.sum() < 16

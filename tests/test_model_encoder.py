"""The neuron encoder: masking, length independence, batching independence, population context, grouped sampling."""

from __future__ import annotations

import numpy as np
import torch

from nwb_neurpir.testing import mock_recording
from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.model.embed import embed_session, observed_chunks
from nwb_neurpir.model.encoder import NeuronEncoder, batch_tensors, encode, encode_own
from nwb_neurpir.model.segments import ViewBatch, ViewSampler, gather_views
from nwb_neurpir.model.sessions import prepare_session

CONFIG = NeurPIRConfig(hidden_dim=8, representation_dim=6, max_chunk_bins=50).resolved("spikes")


def _encoder(context_dim: int = 0) -> NeuronEncoder:
    torch.manual_seed(0)
    return NeuronEncoder(CONFIG, context_dim).eval()


def _session(observed: np.ndarray | None = None):  # noqa: ANN202
    recording = mock_recording(seed=1, n_bins=400)
    if observed is not None:
        recording.observed = observed
    return prepare_session(recording, CONFIG, None)


def test_masked_bins_do_not_change_the_output() -> None:
    session = _session()
    batch = gather_views(session, np.array([0, 5]), [np.arange(3), np.arange(2, 6)])
    batch.mask[:, 10:20] = False
    batch.values[~batch.mask] = 0.0
    changed = ViewBatch(values=batch.values.copy(), mask=batch.mask, context=None,
                        owner=batch.owner, n_views=batch.n_views, population=batch.population)
    changed.values[~batch.mask] = 50.0
    encoder = _encoder()
    with torch.no_grad():
        assert torch.equal(encode_own(encoder, batch, torch.device("cpu")),
                           encode_own(encoder, changed, torch.device("cpu")))


def test_padding_chunks_do_not_change_the_output() -> None:
    batch = gather_views(_session(), np.array([0, 5, 7]), [np.arange(3), np.arange(2, 6), np.arange(1)])
    padded = batch.padded(200)
    assert padded.values.shape[0] == 200 and not padded.mask[batch.values.shape[0]:].any()
    encoder = _encoder()
    with torch.no_grad():
        torch.testing.assert_close(encode_own(encoder, batch, torch.device("cpu")),
                                   encode_own(encoder, padded, torch.device("cpu")), rtol=1e-5, atol=1e-6)


def test_unobserved_activity_is_ignored_when_sampling() -> None:
    observed = np.ones((24, 400), dtype=bool)
    observed[:, 100:200] = False
    session = _session(observed)
    noisy = _session(observed)
    noisy.activity[:, 100:200] = 200
    encoder = _encoder()
    views = [np.arange(8)]
    with torch.no_grad():
        a = encode_own(encoder, gather_views(session, np.array([3]), views), torch.device("cpu"))
        b = encode_own(encoder, gather_views(noisy, np.array([3]), views), torch.device("cpu"))
    assert torch.equal(a, b)


def test_variable_length_batch_matches_one_by_one() -> None:
    session = _session()
    neurons = np.array([0, 9, 17, 20])
    chunk_lists = [np.arange(1), np.arange(2, 8), np.arange(3), np.arange(8)]
    encoder = _encoder()
    with torch.no_grad():
        together = encode_own(encoder, gather_views(session, neurons, chunk_lists), torch.device("cpu"))
        alone = torch.cat([encode_own(encoder, gather_views(session, neurons[i:i + 1], [c]), torch.device("cpu"))
                           for i, c in enumerate(chunk_lists)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def test_sampler_draws_groups_of_co_recorded_neurons_with_shared_chunks() -> None:
    sessions = [_session(), prepare_session(mock_recording(seed=2, n_bins=400, subject_id="m2"), CONFIG, None)]
    sampler = ViewSampler(sessions, [np.arange(24), np.arange(24)], (0.5, 4.0), groups=2)
    lengths_differ = []
    for seed in range(6):
        pair = sampler.sample(np.random.default_rng(seed), 32)
        assert pair.view_a.n_views == pair.view_b.n_views == pair.group.size == 32
        lengths_a = np.bincount(pair.view_a.owner, minlength=32)
        lengths_b = np.bincount(pair.view_b.owner, minlength=32)
        for recording in np.unique(pair.recording):  # one recording's neurons share their chunks within a view
            rows = pair.recording == recording
            assert np.unique(lengths_a[rows]).size == 1 and np.unique(lengths_b[rows]).size == 1
            assert np.unique(pair.group[rows]).size == 1
        lengths_differ.append(lengths_a[0] != lengths_b[0])
        assert 0 < pair.keep_a.sum() <= 32
    assert any(lengths_differ)


def test_small_recordings_are_pooled_into_one_group_but_attend_only_within_themselves() -> None:
    recordings = [mock_recording(seed=s, n_per_kind=1, n_bins=400, subject_id=f"m{s % 2}") for s in range(8)]
    sessions = [prepare_session(r, CONFIG, None) for r in recordings]
    sampler = ViewSampler(sessions, [np.arange(3)] * 8, (0.5, 2.0), groups=1)
    pair = sampler.sample(np.random.default_rng(0), 12)
    assert np.unique(pair.group).size == 1 and np.unique(pair.recording).size >= 3


def test_a_neuron_s_vector_depends_on_its_population_only_through_its_own_recording() -> None:
    session = _session()
    encoder = _encoder()
    neurons = np.arange(6)
    batch = gather_views(session, neurons, [np.arange(4)] * 6)
    keep = np.ones(6, bool)
    with torch.no_grad():
        inputs = batch_tensors(batch, torch.device("cpu"))
        together = encode(encoder, inputs, np.zeros(6, np.int64), keep, torch.device("cpu"))
        split = encode(encoder, inputs, np.array([0, 0, 0, 1, 1, 1]), keep, torch.device("cpu"))
        dropped = keep.copy()
        dropped[5] = False
        without_5 = encode(encoder, inputs, np.array([0, 0, 0, 1, 1, 1]), dropped, torch.device("cpu"))
    assert not torch.allclose(together[:3], split[:3])  # the population changed
    torch.testing.assert_close(split[:3], without_5[:3])  # another recording's unit dropout changes nothing
    assert not torch.allclose(split[3:5], without_5[3:5])


def test_population_activity_is_the_session_mean_and_reaches_the_encoder() -> None:
    recording = mock_recording(seed=1, n_bins=400)
    session = prepare_session(recording, CONFIG, None)
    rows = np.arange(recording.n_neurons)
    expected = session.normalizer.apply(session.activity, rows).mean(axis=0)
    assert abs(np.corrcoef(session.population, expected)[0, 1] - 1.0) < 1e-5
    assert abs(float(session.population.mean())) < 1e-5 and abs(float(session.population.std()) - 1.0) < 1e-4
    batch = gather_views(session, np.array([0, 5]), [np.arange(3), np.arange(2, 6)])
    encoder = _encoder()
    shifted = ViewBatch(values=batch.values, mask=batch.mask, context=None,
                        owner=batch.owner, n_views=batch.n_views, population=batch.population + 1.0)
    with torch.no_grad():
        a = encode_own(encoder, batch, torch.device("cpu"))
        b = encode_own(encoder, shifted, torch.device("cpu"))
    assert a.shape == (2, 6) and not torch.allclose(a, b)


def test_embedding_without_population_context_relates_each_neuron_to_itself_only() -> None:
    session = _session()
    encoder = _encoder()
    cpu = torch.device("cpu")
    alone = embed_session(encoder, session, 4, 0.0, context_neurons=0, seed=0, device=cpu, progress=False)
    with_population = embed_session(encoder, session, 4, 0.0, context_neurons=512, seed=0, device=cpu, progress=False)
    assert not np.allclose(alone, with_population)
    with torch.no_grad():
        for neuron in (0, session.n_neurons - 1):
            own = encode_own(encoder, gather_views(session, np.array([neuron]), [observed_chunks(session, neuron, 0)]),
                             cpu)
            np.testing.assert_allclose(alone[neuron], encoder.population(own, own)[0].numpy(), rtol=1e-5, atol=1e-6)


def test_session_statistics_in_small_blocks_equal_those_of_the_whole_session(monkeypatch) -> None:  # noqa: ANN001
    from nwb_neurpir.model import normalize
    from nwb_neurpir.model.sessions import population_activity

    rng = np.random.default_rng(0)
    activity = rng.poisson(0.3, (7, 500)).astype(np.uint8)
    observed = rng.random((7, 500)) > 0.1
    whole = normalize.fit_normalizer(activity, observed, "ophys", "neuron")
    population = population_activity(activity, observed, whole)
    monkeypatch.setattr(normalize, "BLOCK_CELLS", 1000)  # two rows per block
    assert len(normalize.row_blocks(7, 500)) == 4
    blocked = normalize.fit_normalizer(activity, observed, "ophys", "neuron")
    np.testing.assert_allclose(blocked.scale, whole.scale, rtol=1e-6)
    np.testing.assert_allclose(blocked.offset, whole.offset, rtol=1e-6)
    np.testing.assert_allclose(population_activity(activity, observed, blocked), population, rtol=1e-5, atol=1e-6)


def test_a_view_holds_at_most_half_of_a_short_recording() -> None:
    session = _session()  # far shorter than the views asked for
    sampler = ViewSampler([session], [np.arange(24)], (100.0, 150.0), groups=1)
    rng = np.random.default_rng(0)
    views = [sampler.draw_chunks(rng, session, sampler.draw_seconds(rng)) for _ in range(20)]
    assert all(0 < view.size <= session.layout.n_chunks // 2 for view in views)
    assert len({tuple(view) for view in views}) > 1

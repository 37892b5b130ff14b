"""Animals, sessions, seeds, context and the population-level behaviour of the simulated network."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.simulate import CELL_TYPES, DEMO, SimulationConfig, simulate_population
from nwb_neurpir.simulate.context import ContextSettings, make_context
from nwb_neurpir.simulate.izhikevich import draw_parameters
from nwb_neurpir.simulate.network import random_connectivity
from nwb_neurpir.simulate.population import make_animal

SMALL = SimulationConfig(n_animals=2, sessions_per_animal=2, n_neurons=50, duration_s=6.0, seed=5)


@pytest.fixture(scope="module")
def sessions():  # noqa: ANN201 - list[SimulatedSession]
    return simulate_population(SMALL, progress=False)


def test_sessions_are_ordered_by_animal_with_dandi_friendly_ids(sessions) -> None:  # noqa: ANN001
    assert [(s.subject_id, s.session_id) for s in sessions] == [
        ("sim01", "sim01s01"), ("sim01", "sim01s02"), ("sim02", "sim02s01"), ("sim02", "sim02s02")]
    assert len({s.identifier("spikes") for s in sessions} | {s.identifier("ophys") for s in sessions}) == 8
    assert len({s.session_start_time for s in sessions}) == 4


def test_sessions_of_one_animal_share_neurons_but_not_context(sessions) -> None:  # noqa: ANN001
    first, second, other = sessions[0], sessions[1], sessions[2]
    np.testing.assert_array_equal(first.animal.params.a, second.animal.params.a)
    np.testing.assert_array_equal(first.animal.connectivity.weights, second.animal.connectivity.weights)
    assert not np.array_equal(first.context.trial_contrast, second.context.trial_contrast)
    assert not np.array_equal(first.animal.params.a, other.animal.params.a)


def test_an_animal_does_not_depend_on_how_many_are_asked_for(sessions) -> None:  # noqa: ANN001
    again = simulate_population(SMALL.with_overrides(n_animals=1, sessions_per_animal=1), progress=False)[0]
    np.testing.assert_array_equal(again.spike_steps, sessions[0].spike_steps)
    np.testing.assert_array_equal(again.spike_neurons, sessions[0].spike_neurons)
    assert again.identifier("spikes") == sessions[0].identifier("spikes")
    other_seed = simulate_population(SMALL.with_overrides(n_animals=1, sessions_per_animal=1, seed=6),
                                     progress=False)[0]
    assert not np.array_equal(other_seed.animal.params.d, sessions[0].animal.params.d)


def test_types_come_in_equal_parts_with_jitter_that_keeps_them_apart() -> None:
    params = draw_parameters(2000, np.random.default_rng(0))
    names, counts = np.unique(params.cell_type, return_counts=True)
    assert set(names) == set(CELL_TYPES) and set(counts) == {400}
    fs, rs = params.cell_type == "FS", params.cell_type == "RS"
    assert params.a[fs].min() > params.a[rs].max()
    assert np.std(params.a[rs]) > 0
    assert params.c[params.cell_type == "CH"].min() > params.c[params.cell_type == "IB"].max() - 5


def test_connectivity_has_fixed_in_degree_no_self_loops_and_signed_weights() -> None:
    rng = np.random.default_rng(1)
    params = draw_parameters(100, rng)
    connectivity = random_connectivity(params.excitatory, rng, in_degree=20)
    pre = np.repeat(np.arange(100), np.diff(connectivity.indptr))
    assert np.all(np.bincount(connectivity.targets, minlength=100) == 20)
    assert not np.any(pre == connectivity.targets)
    assert np.all((connectivity.weights > 0) == params.excitatory[pre])
    fired = np.array([0, 7, 99])
    expected = np.zeros(100)
    for j in fired:
        span = slice(connectivity.indptr[j], connectivity.indptr[j + 1])
        np.add.at(expected, connectivity.targets[span], connectivity.weights[span])
    np.testing.assert_allclose(connectivity.input_from(fired), expected)


def test_context_has_trials_at_several_contrasts_and_running_bouts() -> None:
    settings = ContextSettings()
    context = make_context(300.0, np.random.default_rng(2), settings)
    assert context.trial_start.size > 50 and np.all(context.trial_stop <= 300.0)
    assert np.all(context.trial_stop > context.trial_start)
    assert np.all(context.trial_start[1:] >= context.trial_stop[:-1])
    assert set(np.unique(context.trial_contrast)) == set(settings.contrasts)
    assert context.running_speed.min() >= 0 and context.running_speed.max() > 10
    assert 0.1 < np.mean(context.running_speed > 5) < 0.9
    on = context.contrast > 0
    assert np.all(context.sustained[on] > 0) and np.all(context.sustained[~on] == 0)


def test_context_and_running_change_rates_but_types_keep_their_signature() -> None:
    session = simulate_population(SimulationConfig(n_animals=1, n_neurons=100, duration_s=20.0, seed=1),
                                  progress=False)[0]
    rates = session.firing_rates()
    types = session.animal.params.cell_type
    assert 1.0 < rates.mean() < 40.0
    times = session.spike_times()

    def burst_fraction(kind: str) -> float:
        isi = np.concatenate([np.diff(t) for t, name in zip(times, types) if name == kind])
        return float(np.mean(isi < 0.008))

    assert burst_fraction("CH") > 0.3 > burst_fraction("RS")
    assert burst_fraction("CH") > burst_fraction("IB") > burst_fraction("RS")
    assert np.median(rates[types == "FS"]) > np.median(rates[types == "RS"])
    bins = (session.spike_steps // 10).astype(np.int64)
    population = np.bincount(bins, minlength=session.context.n_samples)
    running = session.context.running_speed > 5
    assert population[running].mean() > 1.3 * population[~running].mean()


def test_invalid_settings_raise_one_line_errors() -> None:
    with pytest.raises(NeurPIRError, match="n_neurons must be at least 5"):
        SimulationConfig(n_neurons=3).validate()
    with pytest.raises(NeurPIRError, match="duration"):
        simulate_population(SimulationConfig(duration_s=0.0), progress=False)
    with pytest.raises(NeurPIRError, match="does not divide"):
        SimulationConfig(dt=0.0003).validate()


def test_demo_preset_is_small_but_has_every_type_in_every_animal() -> None:
    assert DEMO.n_animals >= 3 and DEMO.n_neurons // len(CELL_TYPES) >= 40
    assert DEMO.n_animals * DEMO.n_neurons * DEMO.duration_s <= 4 * 250 * 300
    animal = make_animal(DEMO, DEMO.n_animals - 1)
    assert set(np.unique(animal.params.cell_type)) == set(CELL_TYPES)

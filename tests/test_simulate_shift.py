"""Shifted peripheral conditions: an animal that runs far more and sees other contrasts, with the same neurons."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.simulate import (
    CONTEXT_SHIFTS,
    DEMO,
    PRESETS,
    ContextSettings,
    SimulationConfig,
    shift_context,
    simulate_population,
)
from nwb_neurpir.simulate.population import make_animal

NORMAL = SimulationConfig(n_animals=3, n_neurons=50, duration_s=120.0, seed=4)
SHIFTED = NORMAL.with_shift((2,), "both")
STATISTICS = {"contrasts", "on_s", "off_s", "still_bout_s", "run_bout_s", "run_speed_cm_s"}
"""The only ContextSettings fields a shift may change: trial and running statistics, not how neurons respond."""


@pytest.fixture(scope="module")
def shifted_sessions():  # noqa: ANN201 - list[SimulatedSession]
    return simulate_population(SHIFTED, progress=False)


def _running_fraction(session) -> float:  # noqa: ANN001 - SimulatedSession
    return float(np.mean(session.context.running_speed > 5.0))


def test_the_shifted_animal_runs_far_more_and_sees_other_contrasts_and_trials(shifted_sessions) -> None:  # noqa: ANN001
    *normal, shifted = shifted_sessions
    assert max(_running_fraction(s) for s in normal) < 0.6 < 0.8 < _running_fraction(shifted)
    assert np.mean(shifted.context.running_speed) > 2 * max(np.mean(s.context.running_speed) for s in normal)
    normal_contrasts = set(np.concatenate([s.context.trial_contrast for s in normal]).tolist())
    assert normal_contrasts == {0.1, 0.25, 0.5, 1.0}
    assert set(shifted.context.trial_contrast.tolist()) == {0.05, 0.8}
    assert shifted.context.trial_start.size > 2 * max(s.context.trial_start.size for s in normal)
    assert shifted.firing_rates().mean() > 1.3 * max(s.firing_rates().mean() for s in normal)


def test_shifting_changes_no_neuron_and_no_other_animal(shifted_sessions) -> None:  # noqa: ANN001
    unshifted = simulate_population(NORMAL, progress=False)
    for before, after in zip(unshifted, shifted_sessions):
        for name in ("a", "b", "c", "d", "cell_type"):
            np.testing.assert_array_equal(getattr(before.animal.params, name), getattr(after.animal.params, name))
        np.testing.assert_array_equal(before.animal.connectivity.weights, after.animal.connectivity.weights)
        for name in ("baseline", "w_sustained", "w_transient", "running_gain", "noise_sd"):
            np.testing.assert_array_equal(getattr(before.animal.drive, name), getattr(after.animal.drive, name))
    for before, after in zip(unshifted[:2], shifted_sessions[:2]):
        np.testing.assert_array_equal(before.spike_steps, after.spike_steps)
    assert not np.array_equal(unshifted[2].context.running_speed, shifted_sessions[2].context.running_speed)


def test_shifts_change_only_trial_and_running_statistics() -> None:
    base = ContextSettings()
    for name in CONTEXT_SHIFTS:
        shifted = shift_context(base, name)
        changed = {field.name for field in dataclasses.fields(base)
                   if getattr(base, field.name) != getattr(shifted, field.name)}
        assert changed and changed <= STATISTICS, name
    assert set(shift_context(base, "both").contrasts).isdisjoint(base.contrasts)
    with pytest.raises(NeurPIRError, match="unknown context shift 'rain'"):
        shift_context(base, "rain")


def test_the_same_seed_gives_the_same_shifted_animal(shifted_sessions) -> None:  # noqa: ANN001
    config = SHIFTED.with_overrides(n_neurons=20, duration_s=10.0)
    first, second = (simulate_population(config, progress=False)[2] for _ in range(2))
    np.testing.assert_array_equal(first.spike_steps, second.spike_steps)
    np.testing.assert_array_equal(first.context.running_speed, second.context.running_speed)
    other_seed = simulate_population(config.with_overrides(seed=5), progress=False)[2]
    assert not np.array_equal(other_seed.context.running_speed, first.context.running_speed)


def test_shift_is_part_of_the_identifiers_but_unshifted_data_keep_theirs() -> None:
    assert DEMO.fingerprint() == "ce9c9114dbe4c8db"  # as before shifts existed
    assert PRESETS["demo-shifted"].fingerprint() != DEMO.fingerprint()
    assert PRESETS["demo-shifted"].shifted_animals == (3,)
    assert make_animal(PRESETS["demo-shifted"], 3).params.a.tolist() == make_animal(DEMO, 3).params.a.tolist()
    with pytest.raises(NeurPIRError, match="shifted animal.* sim05 not among the 4"):
        DEMO.with_shift((4,)).validate()


def test_cli_shifts_the_last_animal_and_writes_it_into_the_files(tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO

    result = CliRunner().invoke(app, ["simulate", str(tmp_path), "--preset", "demo", "--animals", "2", "--neurons",
                                      "10", "--duration", "200", "--seed", "3", "--shift", "behaviour", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["shifted_subjects"] == ["sim02"]
    fractions, notes = [], []
    for path in summary["files"]:
        with NWBHDF5IO(path, "r") as io:
            nwbfile = io.read()
            speed = nwbfile.processing["behavior"]["BehavioralTimeSeries"]["running_speed"].data[:]
            fractions.append(float(np.mean(speed > 5.0)))
            notes.append(json.loads(nwbfile.notes)["shifted_conditions"])
    assert notes == [False, True]
    assert fractions[1] > 0.7 > fractions[0]


def test_cli_rejects_a_shift_it_cannot_apply_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    without_shift = runner.invoke(app, ["simulate", str(tmp_path), "--preset", "demo", "--shifted-animal", "2"])
    assert without_shift.exit_code == 1 and "--shifted-animal needs --shift" in without_shift.output
    unknown = runner.invoke(app, ["simulate", str(tmp_path), "--preset", "demo", "--shift", "rain"])
    assert unknown.exit_code == 1 and "unknown context shift" in unknown.output
    missing = runner.invoke(app, ["simulate", str(tmp_path), "--preset", "demo", "--shift", "both",
                                  "--shifted-animal", "9"])
    assert missing.exit_code == 1 and "sim09 not among the 4" in missing.output
    assert "Traceback" not in missing.output and not list(tmp_path.iterdir())

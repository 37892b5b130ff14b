"""The CEBRA context: one space for every session, no session identity in it, scaled over whole sessions, fitted on
blocks spread over each session within its budget, missing covariates read as typical (and warned about), old column
names still read."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.testing import make_spikes_nwbfile, mock_recording, write_nwbfile
from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.model.context import ContextEncoder, fit_context, fit_sample, selected_columns

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


def test_a_one_bin_stretch_of_time_gets_context_without_a_torch_warning(context, recordings) -> None:  # noqa: ANN001
    import warnings

    times = recordings[0].bin_times.copy()
    times[-1] += 1.0  # the last bin alone after a gap: an epoch of one bin (a frame between dropped ones)
    recording = dataclasses.replace(recordings[0], bin_times=times)
    assert recording.epoch_starts()[-1] == recording.n_bins - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "use of x.T on tensors of dimension other than 2 is deprecated"
        out = context.transform(recording)
    assert out.shape == (600, CONFIG.context_dim) and np.isfinite(out).all()


def test_same_seed_gives_the_same_context_network(recordings, context) -> None:  # noqa: ANN001
    """CEBRA's own samplers would draw their seeds from the OS; the fit pins them to the config's seed."""
    import torch

    again = fit_context(recordings, CONFIG)
    for name, value in context.network.state_dict().items():
        assert torch.equal(value, again.network.state_dict()[name]), name


def _ramp_recordings(n_recordings: int, n_bins: int) -> list:
    """Recordings whose ``speed`` is 0 for the first 10 % of the session, then rises with the bin index."""
    recordings = [mock_recording(seed=s, n_per_kind=2, n_bins=n_bins, subject_id=f"r{s}") for s in range(n_recordings)]
    ramp = np.where(np.arange(n_bins) < n_bins // 10, 0.0, np.arange(n_bins)).astype(np.float32)
    for recording in recordings:
        recording.covariates = {"speed": ramp, "stimulus": recording.covariates["stimulus"]}
    return recordings


def test_scaling_is_pooled_over_every_bin_of_every_recording() -> None:
    recordings = _ramp_recordings(12, 2000)
    recordings[0].covariates["speed"] = recordings[0].covariates["speed"] * 3
    encoder = fit_context(recordings, NeurPIRConfig(), fit=False)
    every_bin = np.concatenate([r.covariate_matrix()[0] for r in recordings]).astype(np.float64)
    np.testing.assert_allclose(encoder.mean, every_bin.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(encoder.std, every_bin.std(axis=0), rtol=1e-4)


@pytest.mark.parametrize("n_recordings", [12, 60])
def test_the_fit_sees_blocks_over_each_whole_session_within_the_budget(n_recordings: int) -> None:
    recordings = _ramp_recordings(n_recordings, 2000)
    config = NeurPIRConfig()
    encoder = fit_context(recordings, config, fit=False)
    sample = fit_sample(encoder, recordings, config)
    assert sample.shape[0] <= config.context_max_samples
    per_recording = np.split(sample[:, 0] * encoder.std[0] + encoder.mean[0], n_recordings)
    for seen in per_recording:
        assert seen.min() < 200 and seen.max() > 1800  # its first and last tenth


def test_the_sample_respects_the_budget_as_far_as_the_receptive_field_allows() -> None:
    recordings = _ramp_recordings(1000, 100)
    config = NeurPIRConfig(context_max_samples=4000)
    encoder = fit_context(recordings, config, fit=False)
    shortest = len(encoder.network.get_offset()) + config.context_time_offsets
    assert fit_sample(encoder, recordings, config).shape[0] == 1000 * shortest


def test_a_fit_on_many_recordings_reports_at_most_the_budget(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    recordings = _ramp_recordings(60, 1000)
    fit_context(recordings, dataclasses.replace(CONFIG, context_iterations=1), progress=True)
    fitted = int(re.search(r"fitting CEBRA on (\d+) bins", capsys.readouterr().err).group(1))
    assert 0 < fitted <= CONFIG.context_max_samples


def _without_speed(seed: int) -> object:
    recording = mock_recording(seed=seed, n_bins=600, subject_id="rig-b")
    del recording.covariates["speed"]
    return recording


def test_missing_columns_are_read_as_their_mean_over_the_recordings_that_have_them(recordings,  # noqa: ANN001
                                                                                   caplog) -> None:  # noqa: ANN001
    rig_b = _without_speed(9)
    with caplog.at_level(logging.WARNING):
        context = fit_context([*recordings, rig_b], CONFIG)
    lines = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(lines) == 1 and "1 of 4 training recordings" in lines[0]
    assert rig_b.source.label() in lines[0] and "(speed)" in lines[0]
    speed = context.columns.index("speed")
    np.testing.assert_allclose(context.mean[speed], np.mean([r.covariates["speed"] for r in recordings]), rtol=1e-5)
    filled = _without_speed(9)
    filled.covariates["speed"] = np.full(600, context.mean[speed], dtype=np.float32)
    np.testing.assert_array_equal(context.transform(rig_b), context.transform(filled))
    assert context.missing_columns(rig_b) == ["speed"] and context.missing_columns(filled) == []


def _encoder_for(columns: list[str], like: ContextEncoder) -> ContextEncoder:
    """An encoder reading ``columns`` with ``like``'s weights and scaling."""
    encoder = ContextEncoder.from_meta({**like.meta(), "columns": columns})
    encoder.network.load_state_dict(like.network.state_dict())
    return encoder


def test_a_model_saved_with_short_series_names_reads_them_where_unambiguous(context) -> None:  # noqa: ANN001
    recording = mock_recording(seed=3, n_bins=600)
    speed, stimulus = recording.covariates["speed"], recording.covariates["stimulus"]
    recording.covariates = {"behavior/BehavioralTimeSeries/running_speed": speed,
                            "stimulus/visual_contrast": stimulus}
    current = _encoder_for(["behavior/BehavioralTimeSeries/running_speed", "stimulus/visual_contrast"], context)
    old = _encoder_for(["behavior/running_speed", "stimulus/visual_contrast"], context)
    assert old.missing_columns(recording) == []
    np.testing.assert_array_equal(old.transform(recording), current.transform(recording))
    recording.covariates["behavior/Other/running_speed"] = speed * 2  # now two series end so: which one is unknown
    assert old.missing_columns(recording) == ["behavior/running_speed"]


def test_context_off_and_no_covariates_give_none(recordings) -> None:  # noqa: ANN001
    assert fit_context(recordings, dataclasses.replace(CONFIG, context="none")) is None
    assert fit_context([mock_recording(seed=1, n_bins=100, with_covariates=False)], CONFIG) is None


def test_context_covariates_choose_what_the_context_reads(recordings) -> None:  # noqa: ANN001
    chosen = fit_context(recordings, dataclasses.replace(CONFIG, context_covariates="spe*"))
    assert chosen.columns == ["speed"]
    assert chosen.transform(recordings[0]).shape == (600, CONFIG.context_dim)


def test_a_covariate_name_also_names_each_column_of_a_multi_column_covariate() -> None:
    columns = ["behavior/Position/position[0]", "behavior/Position/position[1]", "speed"]
    assert selected_columns(columns, ["behavior/Position/position"]) == columns[:2]
    assert selected_columns(columns, ["behavior/*", "speed"]) == columns


def test_a_covariate_pattern_that_matches_none_is_refused_naming_what_there_is(recordings) -> None:  # noqa: ANN001
    with pytest.raises(NeurPIRError, match=r"context_covariates: running matches none of the training recordings' "
                                           r"covariates \(speed, stimulus\)"):
        fit_context(recordings, dataclasses.replace(CONFIG, context_covariates="speed, running"))
    with pytest.raises(NeurPIRError, match="context_covariates must name at least one covariate"):
        NeurPIRConfig(context_covariates=" , ")


def test_a_covariate_pattern_naming_a_text_trials_column_says_text_is_no_covariate(tmp_path) -> None:  # noqa: ANN001
    nwbfile = make_spikes_nwbfile(n_units=3, duration=20.0, n_trials=4)
    nwbfile.trials.add_column("stimulus_name", "what was shown", data=["grating", "blank", "grating", "movie"])
    recording = read_nwb(write_nwbfile(nwbfile, tmp_path / "text_trials.nwb"))
    with pytest.raises(NeurPIRError, match=r"context_covariates: trials/stim\* matches none of the training "
                                           r"recordings' covariates \(.*\); trials/stimulus_name is a text column, "
                                           r"and text columns are not covariates \(only numeric ones are\)$"):
        fit_context([recording], dataclasses.replace(CONFIG, context_covariates="trials/contrast, trials/stim*"))

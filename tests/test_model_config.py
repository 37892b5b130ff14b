"""The config: strict JSON round trip, per-modality defaults, the one loader, runtime settings apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import MODALITY_DEFAULTS, NeurPIRConfig
from nwb_neurpir.model.config import RUNTIME_FIELDS, parse_overrides


def test_json_round_trip() -> None:
    config = NeurPIRConfig(hidden_dim=16, context="none", segment_length_min=3.0, segment_length_max=3.0)
    again = NeurPIRConfig.from_json(config.to_json())
    assert again == config
    assert again.fixed_length


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(NeurPIRError, match="unknown config keys: sneaky"):
        NeurPIRConfig.from_dict({"sneaky": 1})


@pytest.mark.parametrize("values", [{"hidden_dim": "32"}, {"context": 3}, {"seed": 1.5}, {"max_steps": [1]},
                                    {"context": "maybe"}, {"batch_size": 1}, {"segment_length_min": -1.0}])
def test_bad_values_are_refused(values: dict) -> None:
    with pytest.raises(NeurPIRError):
        NeurPIRConfig.from_dict(values)


def test_numpy_scalars_count_as_the_python_values_they_hold() -> None:
    config = NeurPIRConfig.from_dict({"max_steps": np.int64(50), "learning_rate": np.float32(1e-3),
                                      "embed_max_seconds": np.float64(60.0), "context": np.str_("none")})
    assert [type(value) for value in (config.max_steps, config.learning_rate, config.embed_max_seconds,
                                      config.context)] == [int, float, float, str]
    assert json.loads(config.to_json())["max_steps"] == 50 and config.learning_rate == pytest.approx(1e-3)
    with pytest.raises(NeurPIRError, match="'max_steps' has a value of the wrong type: True"):
        NeurPIRConfig.from_dict({"max_steps": np.bool_(True)})  # refused as True is


@pytest.mark.parametrize(("values", "message"), [
    ({"checkpoint_every": 0}, "checkpoint_every must be at least 1"),
    ({"validate_every": 0}, "validate_every must be at least 1"),
    ({"device": "gpu"}, "device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'"),
    ({"device": "cuda:x"}, "device must be"),
])
def test_intervals_and_device_are_checked_before_training(values: dict, message: str) -> None:
    with pytest.raises(NeurPIRError, match=message):
        NeurPIRConfig.from_dict(values)


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_the_devices_torch_runs_on_are_accepted(device: str) -> None:
    assert NeurPIRConfig(device=device).device == device


def test_not_json_is_refused() -> None:
    with pytest.raises(NeurPIRError, match="not valid JSON"):
        NeurPIRConfig.from_json("{nope")


def test_resolved_fills_modality_defaults() -> None:
    spikes = NeurPIRConfig().resolved("spikes")
    ophys = NeurPIRConfig(segment_length_max=10.0).resolved("ophys")
    assert spikes.segment_length_max == MODALITY_DEFAULTS["spikes"]["segment_length_max"]
    assert spikes.normalization == "session"
    assert ophys.normalization == "neuron"
    assert ophys.segment_length_min <= ophys.segment_length_max == 10.0
    assert (spikes.segment_sampling, spikes.embed_max_seconds) == ("auto", 64.0)
    calcium = NeurPIRConfig().resolved("ophys")  # views of chunks drawn from the whole session, embedded from 10 min
    assert (calcium.segment_sampling, calcium.segment_length_min, calcium.segment_length_max,
            calcium.embed_max_seconds) == ("chunks", 100.0, 150.0, 600.0)
    assert (spikes.max_steps, calcium.max_steps) == (400, 1600)  # calcium gains from longer training, spikes lose
    assert NeurPIRConfig(max_steps=7).resolved("ophys").max_steps == 7
    with pytest.raises(NeurPIRError, match="config is for spikes"):
        NeurPIRConfig(modality="spikes").resolved("ophys")


def test_from_file_applies_the_given_overrides(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "config.json"
    path.write_text('{"hidden_dim": 16, "max_steps": 7}')
    config = NeurPIRConfig.from_file(path, max_steps=3, seed=None)
    assert (config.hidden_dim, config.max_steps, config.seed) == (16, 3, 0)
    assert NeurPIRConfig.from_file(None, context="none") == NeurPIRConfig(context="none")


@pytest.mark.parametrize(("text", "message"), [("{nope", "config is not valid JSON"), ("[1]", "must be a JSON object"),
                                                ('{"sneaky": 1}', "unknown config keys: sneaky"),
                                                ('{"seed": 1.5}', "wrong type")])
def test_from_file_names_the_file_and_the_problem(tmp_path, text: str, message: str) -> None:  # noqa: ANN001
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(NeurPIRError, match=message) as error:
        NeurPIRConfig.from_file(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_from_file_refuses_a_missing_file(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(NeurPIRError, match="cannot read the config"):
        NeurPIRConfig.from_file(tmp_path / "absent.json")


def test_overrides_are_typed_by_the_fields() -> None:
    values = parse_overrides(["max_steps=50", "context=none", "segment_length_min=2", "modality=null",
                              "device=cpu", "normalization=none"])
    assert values == {"max_steps": 50, "context": "none", "segment_length_min": 2, "modality": None, "device": "cpu",
                      "normalization": "none"}
    assert NeurPIRConfig(**values).max_steps == 50


@pytest.mark.parametrize(("pair", "message"), [("max_steps", "key=value"), ("hidden=3", "unknown config keys: hidden"),
                                                ("seed=1.5", "wrong type"), ("max_steps=many", "wrong type")])
def test_bad_overrides_are_refused(pair: str, message: str) -> None:
    with pytest.raises(NeurPIRError, match=message):
        parse_overrides([pair])


def test_runtime_settings_are_not_hyperparameters() -> None:
    config = NeurPIRConfig(num_threads=3, device="cpu", checkpoint_every=7, embed_batch_size=5, hidden_dim=16)
    assert RUNTIME_FIELDS == {"num_threads", "device", "checkpoint_every", "embed_batch_size"}
    assert not RUNTIME_FIELDS & set(config.hyperparameters())
    assert config.hyperparameters() == NeurPIRConfig(hidden_dim=16).hyperparameters()
    assert config.hyperparameters()["hidden_dim"] == 16


def test_resuming_compares_hyperparameters_only() -> None:
    saved = {**NeurPIRConfig().hyperparameters(), "num_threads": 1, "device": "cuda"}  # an older checkpoint's file
    assert NeurPIRConfig(num_threads=4, max_steps=800, embed_max_seconds=0.0).resume_conflicts(saved) == {}
    assert NeurPIRConfig(hidden_dim=16, seed=2).resume_conflicts(saved) == {"hidden_dim": 64, "seed": 0}


def test_resuming_compares_a_key_added_since_with_the_value_the_checkpoint_was_trained_with() -> None:
    saved = NeurPIRConfig(predict_weight=0.0).hyperparameters()
    del saved["predict_weight"]  # a checkpoint of a release before the prediction term
    assert NeurPIRConfig(predict_weight=0.0).resume_conflicts(saved) == {}
    assert NeurPIRConfig().resume_conflicts(saved) == {"predict_weight": 0.0}


def test_a_saved_config_without_a_later_key_reads_as_it_was_trained() -> None:
    saved = NeurPIRConfig().resolved("spikes").hyperparameters()
    del saved["predict_weight"]
    assert NeurPIRConfig.from_saved(saved).predict_weight == 0.0
    assert NeurPIRConfig.from_saved({**saved, "predict_weight": 7.0}).predict_weight == 7.0
    with pytest.raises(NeurPIRError, match="unknown config keys"):
        NeurPIRConfig.from_saved({**saved, "no_such_key": 1})


def test_warmup_takes_at_most_a_quarter_of_the_run() -> None:
    from nwb_neurpir.model.trainer import _learning_rate

    short = NeurPIRConfig(max_steps=20)
    assert _learning_rate(short, 4) > 0.75 * short.learning_rate  # warmed up after 5 of 20 steps, not 100
    default = NeurPIRConfig().resolved("spikes")
    assert _learning_rate(default, 49) == pytest.approx(0.5 * default.learning_rate, rel=0.05)  # 100 of 400 steps

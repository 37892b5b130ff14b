"""The config: strict JSON round trip and per-modality defaults."""

from __future__ import annotations

import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model import MODALITY_DEFAULTS, NeurPIRConfig


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
    with pytest.raises(NeurPIRError, match="config is for spikes"):
        NeurPIRConfig(modality="spikes").resolved("ophys")

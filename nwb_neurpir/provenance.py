"""What made a set of embeddings: written next to them into NWB (``NeurPIRModel``) and into checkpoints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from nwb_neurpir import __version__

__all__ = ["ModelProvenance"]


@dataclass(frozen=True)
class ModelProvenance:
    """The model behind embeddings: version, settings, checkpoint checksum and training data."""

    hyperparameters: dict[str, Any]
    checkpoint_sha256: str
    training_data: list[str]
    """DANDI asset IDs or NWB file identifiers of the sessions the model was trained on."""
    description: str = "NeurPIR neuron encoder trained on segment-length-augmented views."
    package_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def hyperparameters_json(self) -> str:
        """Hyperparameters as sorted, compact JSON (what the NWB extension stores)."""
        return json.dumps(self.hyperparameters, sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

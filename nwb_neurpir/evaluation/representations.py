"""Per-neuron vectors a probe reads, per fold: fixed ones (hand features, given embeddings, a given model) and NeurPIR
variants trained on each fold's training recordings only (inductive).

A representation returns a matrix for every labelled neuron of the evaluation (train and test rows alike); only the
probe looks at labels, and only at the training rows.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from nwb_neurpir.evaluation.dataset import LabelledNeurons
from nwb_neurpir.recording import Recording

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR, NeurPIRConfig

__all__ = ["NEURPIR_VARIANTS", "FixedRepresentation", "TrainedRepresentation", "gather_rows", "variant_config"]

NEURPIR_VARIANTS: dict[str, str] = {
    "neurpir": "NeurPIR vectors (the full model)",
    "neurpir-no-context": "ablation: no CEBRA context",
    "neurpir-fixed-length": "ablation: both views of one fixed length (geometric mean of min and max)",
    "neurpir-untrained": "ablation: randomly initialised encoder (max_steps=0)",
}


def gather_rows(neurons: LabelledNeurons, per_recording: Sequence[np.ndarray]) -> np.ndarray:
    """Stack per-recording (n_neurons, dim) matrices into the evaluation's kept-neuron order."""
    return np.concatenate([matrix[rows] for matrix, rows in zip(per_recording, neurons.recording_rows)], axis=0)


def variant_config(config: NeurPIRConfig, variant: str, modality: str) -> NeurPIRConfig:
    """The config of one NeurPIR variant (``NEURPIR_VARIANTS``) derived from the user's config."""
    if variant == "neurpir":
        return config
    if variant == "neurpir-no-context":
        return dataclasses.replace(config, context="none")
    if variant == "neurpir-untrained":
        return dataclasses.replace(config, max_steps=0)
    if variant == "neurpir-fixed-length":
        resolved = config.resolved(modality)
        length = math.sqrt(float(resolved.segment_length_min) * float(resolved.segment_length_max))
        return dataclasses.replace(resolved, segment_length_min=length, segment_length_max=length)
    raise ValueError(f"unknown NeurPIR variant {variant!r}")


@dataclass
class FixedRepresentation:
    """The same matrix on every fold (no training involved, or training that does not depend on the fold)."""

    name: str
    matrix: np.ndarray
    mode: str
    """``inductive``, ``transductive`` or ``none`` (no self-supervised training: hand features)."""
    training_data: tuple[str, ...] = ()
    """Sessions the model behind the matrix was trained on, when known."""
    checkpoint_sha256: str = ""
    """Checksum of the model behind the matrix, when known."""
    per_recording: list[np.ndarray] | None = None
    """Vectors of every neuron of every recording (labelled or not), when known."""
    population: tuple[np.ndarray, np.ndarray] | None = None
    """Without recordings (an embeddings table): every neuron's vector, labelled or not, and its session key."""

    def needs_training(self, train_recordings: Sequence[int]) -> bool:  # noqa: ARG002 - same on every fold
        return False

    def for_fold(self, train_recordings: Sequence[int]) -> np.ndarray:  # noqa: ARG002 - same on every fold
        return self.matrix

    def full_for_fold(self, train_recordings: Sequence[int]) -> list[np.ndarray]:  # noqa: ARG002 - same everywhere
        """Per recording, the vectors of all its neurons."""
        if self.per_recording is None:
            raise ValueError(f"{self.name}: the vectors of unlabelled neurons are not known")
        return self.per_recording


@dataclass
class TrainedRepresentation:
    """A NeurPIR variant trained on each fold's training recordings (cached per training set)."""

    name: str
    recordings: Sequence[Recording]
    neurons: LabelledNeurons
    config: NeurPIRConfig
    mode: str
    progress: bool = True
    training_data: tuple[str, ...] = ()
    """Sessions the latest model was trained on (its provenance)."""
    checkpoint_sha256: str = ""
    """Checksum of the latest model."""
    every_recording: bool = False
    """Embed the recordings without a labelled neuron too (their vectors are read beside the probes)."""
    _cache: dict[tuple[int, ...], list[np.ndarray]] = field(default_factory=dict)

    def needs_training(self, train_recordings: Sequence[int]) -> bool:
        """Whether ``for_fold`` will train a model (its vectors for this training set are not cached)."""
        return tuple(sorted(train_recordings)) not in self._cache

    def for_fold(self, train_recordings: Sequence[int]) -> np.ndarray:
        return gather_rows(self.neurons, self.full_for_fold(train_recordings))

    def full_for_fold(self, train_recordings: Sequence[int]) -> list[np.ndarray]:
        """Per recording, the vectors of all its neurons from the model trained on ``train_recordings``."""
        from nwb_neurpir.model import train

        key = tuple(sorted(train_recordings))
        if key not in self._cache:
            model = train([self.recordings[i] for i in key], self.config, progress=self.progress)
            self.training_data = tuple(model.training_data_)
            self.checkpoint_sha256 = model.provenance().checkpoint_sha256
            self._cache.clear()
            self._cache[key] = embed_all(model, self.recordings, None if self.every_recording else self.neurons,
                                         self.progress)
        return self._cache[key]


def embed_all(model: NeurPIR, recordings: Sequence[Recording], neurons: LabelledNeurons | None,
              progress: bool = False) -> list[np.ndarray]:
    """Embeddings of every recording with a labelled neuron (others get a matrix of zeros); of every recording when
    ``neurons`` is None."""
    out = []
    for index, recording in enumerate(recordings):
        if neurons is None or neurons.recording_rows[index].size:
            out.append(np.asarray(model.embed(recording, progress=progress), dtype=np.float64))
        else:
            out.append(np.zeros((recording.n_neurons, model.representation_dim)))
    return out

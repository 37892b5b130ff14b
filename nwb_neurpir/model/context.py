"""Surrounding information as context: ONE CEBRA model fitted jointly on the covariates of all training sessions.

Covariate columns are aligned by name across sessions (a column a session lacks is zeros, and is logged), z-scored with
statistics pooled over sessions, and encoded by the same CEBRA network everywhere, so the context lives in one space
for every session and animal, including new ones. CEBRA is trained behaviour-guided (the covariates are its auxiliary
labels, ``time_delta`` conditional). Only the network's ``state_dict`` is kept (saved as safetensors), never CEBRA's
pickle-based ``save``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.recording import Recording

__all__ = ["ContextEncoder", "fit_context", "aligned_covariates"]

log = logging.getLogger(__name__)


def aligned_covariates(recording: Recording, columns: list[str]) -> np.ndarray:
    """The recording's covariates as (n_bins, len(columns)) float32 in ``columns`` order; missing columns are 0."""
    matrix, names = recording.covariate_matrix()
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in columns if name not in index]
    if missing:
        log.info("%s: covariates %s missing, using zeros", recording.source.label(), ", ".join(missing))
    out = np.zeros((recording.n_bins, len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        if name in index:
            out[:, j] = matrix[:, index[name]]
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class ContextEncoder:
    """A fitted CEBRA network plus the column order and scaling of its input."""

    columns: list[str]
    mean: np.ndarray
    std: np.ndarray
    architecture: str
    hidden: int
    output_dim: int
    network: torch.nn.Module

    @staticmethod
    def build_network(architecture: str, n_inputs: int, hidden: int, output_dim: int) -> torch.nn.Module:
        """The CEBRA architecture by registry name, freshly initialised."""
        import cebra.models

        return cebra.models.init(architecture, num_neurons=n_inputs, num_units=hidden, num_output=output_dim)

    def meta(self) -> dict[str, Any]:
        """Everything but the weights, as JSON-able values."""
        return {"columns": self.columns, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "architecture": self.architecture, "hidden": self.hidden, "output_dim": self.output_dim}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ContextEncoder:
        """An encoder with the saved layout and fresh weights (load the state dict next)."""
        columns = [str(c) for c in meta["columns"]]
        network = cls.build_network(str(meta["architecture"]), len(columns), int(meta["hidden"]),
                                    int(meta["output_dim"]))
        return cls(columns=columns, mean=np.asarray(meta["mean"], np.float32), std=np.asarray(meta["std"], np.float32),
                   architecture=str(meta["architecture"]), hidden=int(meta["hidden"]),
                   output_dim=int(meta["output_dim"]), network=network)

    def transform(self, recording: Recording) -> np.ndarray:
        """Context per bin, (n_bins, output_dim) float32; each epoch is padded at its edges for the receptive field."""
        scaled = (aligned_covariates(recording, self.columns) - self.mean) / self.std
        left, right = _receptive_offset(self.network)
        starts = recording.epoch_starts()
        ends = np.append(starts[1:], recording.n_bins)
        out = np.zeros((recording.n_bins, self.output_dim), dtype=np.float32)
        self.network.eval()
        with torch.no_grad():
            for start, end in zip(starts, ends):
                piece = np.pad(scaled[start:end], ((left, right - 1), (0, 0)), mode="edge")
                out[start:end] = _run(self.network, piece, end - start)
        return out


def _receptive_offset(network: torch.nn.Module) -> tuple[int, int]:
    offset = network.get_offset()
    return int(offset.left), int(offset.right)


def _run(network: torch.nn.Module, piece: np.ndarray, n_out: int) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(piece.T))[None]
    if tensor.shape[-1] == n_out:  # single-bin models see each bin separately
        result = network(tensor[0].T[:, :, None])
        return result.reshape(n_out, -1).numpy()
    return network(tensor)[0].T.numpy()


def fit_context(recordings: list[Recording], config: NeurPIRConfig, fit: bool = True,
                progress: bool = False) -> ContextEncoder | None:
    """One CEBRA model over every training session's covariates, or None (logged) when there are none.

    ``progress`` shows CEBRA's own progress bar while it fits. With ``fit=False`` the layout and scaling are computed
    but the network keeps fresh weights (to be loaded from a checkpoint or received from rank 0).
    """
    if config.context == "none":
        log.info("context is off (context='none')")
        return None
    columns = sorted({name for recording in recordings for name in recording.covariate_matrix()[1]})
    if not columns:
        log.warning("no covariates in the training recordings: training without context")
        return None
    stacked = np.concatenate([_blocks(aligned_covariates(recording, columns), config.context_max_samples //
                                      len(recordings)) for recording in recordings])
    mean = stacked.mean(axis=0).astype(np.float32)
    std = stacked.std(axis=0).astype(np.float32)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    if fit:
        network = _fit_cebra(((stacked - mean) / std).astype(np.float32), config, progress)
    else:
        network = ContextEncoder.build_network(config.context_architecture, len(columns), config.context_hidden,
                                               config.context_dim).eval()
    return ContextEncoder(columns=columns, mean=mean, std=std, architecture=config.context_architecture,
                          hidden=config.context_hidden, output_dim=config.context_dim, network=network)


def _blocks(values: np.ndarray, budget: int, block: int = 400) -> np.ndarray:
    """At most ``budget`` rows of ``values`` as evenly spaced contiguous blocks (CEBRA's neighbour search over
    behaviour labels costs time linear in the number of samples, so the fit sees a bounded subset)."""
    if values.shape[0] <= budget:
        return values
    n_blocks = max(1, budget // block)
    starts = np.linspace(0, values.shape[0] - block, n_blocks).astype(np.int64)
    return np.concatenate([values[start:start + block] for start in starts])


def _fit_cebra(scaled: np.ndarray, config: NeurPIRConfig, progress: bool = False) -> torch.nn.Module:
    """Train CEBRA (behaviour-guided on the covariates themselves) and return its torch network, on CPU."""
    import cebra
    from tqdm.auto import tqdm

    if progress:  # CEBRA's own bar has no label: say what it is doing first
        tqdm.write(f"context: fitting CEBRA on {scaled.shape[0]} bins of {scaled.shape[1]} covariates "
                   f"({max(config.context_iterations, 1)} iterations)", file=sys.stderr)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    estimator = cebra.CEBRA(
        model_architecture=config.context_architecture, output_dimension=config.context_dim,
        num_hidden_units=config.context_hidden, max_iterations=max(config.context_iterations, 1),
        batch_size=min(config.context_batch_size, scaled.shape[0]), learning_rate=config.context_learning_rate,
        temperature=config.context_temperature, conditional="time_delta", time_offsets=config.context_time_offsets,
        device="cpu", verbose=progress)
    with _seeded_cebra_samplers(config.seed):
        estimator.fit(scaled, scaled)
    network = estimator.model_.cpu().eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


@contextlib.contextmanager
def _seeded_cebra_samplers(seed: int) -> Iterator[None]:
    """While fitting, give CEBRA's samplers seeds derived from ``seed``.

    CEBRA (0.4-0.6) seeds every sampler's generator from ``torch.Generator().seed()``, which draws from the operating
    system, so two fits with the same data and ``torch.manual_seed`` differ. Within this block each sampler created
    gets the next seed of a sequence that starts from ``seed`` instead; the class is restored afterwards.
    """
    from cebra.distributions.base import HasGenerator

    original = HasGenerator.__init__
    seeds = itertools.count(seed * 1_000_003 + 1)

    def seeded_init(self: HasGenerator, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        original(self, *args, **kwargs)
        self._seed = next(seeds)
        self.generator.manual_seed(self._seed)

    HasGenerator.__init__ = seeded_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        HasGenerator.__init__ = original  # type: ignore[method-assign]

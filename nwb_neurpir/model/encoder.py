"""The neuron encoder: one token per chunk, pooled over the chunks of a view, then attention over the co-recorded
neurons.

A chunk (a trial, or a piece of continuous recording) is padded to ``max_chunk_bins`` and read whole by a small MLP:
the neuron's normalised activity in each bin (zeroed where unobserved), the observation mask, the recording's
population activity in the same bins, and the chunk's mean CEBRA context. Bin ``i`` of a trial is always input ``i``,
so the token keeps the shape of the neuron's response and its relation to the population's. The mean and standard
deviation of the tokens over a view's chunks (weighted by their observed bins) do not depend on the view's length, so
one network embeds views of any length; a head maps them to the neuron's own vector. A population layer then lets each
neuron attend to the other neurons of its recording (order-free, no unit position), so the final vector describes the
neuron relative to its population. An unseen recording needs no retraining: its own neurons are the context.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nwb_neurpir.model.config import NeurPIRConfig

__all__ = ["ActivityDecoder", "Expander", "NeuronEncoder", "PopulationLayer", "batch_tensors", "encode", "encode_own"]

if TYPE_CHECKING:
    from nwb_neurpir.model.segments import ViewBatch


class _DilatedBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + F.gelu(self.conv(h))


class _ConvSummary(nn.Module):
    """A shift-invariant description of a chunk: dilated residual 1-D convolutions over pairs of bins, then the mean
    and standard deviation over the chunk's observed bins (what the flattened token cannot give for continuous
    recordings, whose chunks start anywhere)."""

    def __init__(self, channels: int, layers: int = 3, kernel_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.stride = stride
        self.input = nn.Conv1d(3, channels, stride, stride=stride)
        self.blocks = nn.ModuleList([_DilatedBlock(channels, kernel_size, 2**i) for i in range(layers)])

    def forward(self, values: torch.Tensor, weight: torch.Tensor, population: torch.Tensor) -> torch.Tensor:
        """(n_chunks, T) inputs -> (n_chunks, 2 * channels)."""
        extra = (0, -values.shape[-1] % self.stride)  # whole input patches; padded bins are unobserved
        weight = F.pad(weight, extra)
        h = F.gelu(self.input(torch.stack([F.pad(values, extra), weight, F.pad(population, extra)], dim=1)))
        for block in self.blocks:
            h = block(h)
        w = F.avg_pool1d(weight[:, None], self.stride)
        return _mean_and_std(w.sum(-1), (h * w).sum(-1), (h * h * w).sum(-1))


class PopulationLayer(nn.Module):
    """One attention step from each neuron's own vector to the vectors of its co-recorded neurons, added residually."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.mix = nn.Sequential(nn.Linear(2 * dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, own: torch.Tensor, keys: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """``own`` (n, d) attends to ``keys`` (m, d); ``allowed`` (n, m) bool limits which keys each row sees."""
        scores = self.query(own) @ self.key(keys).T / math.sqrt(own.shape[1])
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        population = torch.softmax(scores, dim=-1) @ self.value(keys)
        return own + self.mix(torch.cat([own, own - population], dim=1))


class NeuronEncoder(nn.Module):
    """Maps a batch of chunked views to one ``representation_dim`` vector per view."""

    def __init__(self, config: NeurPIRConfig, context_dim: int) -> None:
        super().__init__()
        self.context_dim = context_dim
        self.width = config.max_chunk_bins
        hidden = config.hidden_dim
        self.token = nn.Sequential(nn.Linear(3 * self.width + context_dim, 2 * hidden), nn.GELU(),
                                   nn.Linear(2 * hidden, hidden), nn.GELU())
        self.summary = _ConvSummary(config.conv_channels)
        token_dim = hidden + 2 * config.conv_channels
        self.head = nn.Sequential(nn.Linear(2 * token_dim, 2 * hidden), nn.GELU(),
                                  nn.Linear(2 * hidden, config.representation_dim))
        self.population = PopulationLayer(config.representation_dim)

    @property
    def output_dim(self) -> int:
        return int(self.head[-1].out_features)

    def own(self, values: torch.Tensor, mask: torch.Tensor, population: torch.Tensor, context: torch.Tensor | None,
            owner: torch.Tensor, n_views: int) -> torch.Tensor:
        """(n_chunks, T) inputs + (n_chunks,) owner -> (n_views, representation_dim), before the population layer."""
        if values.shape[1] > self.width:
            raise ValueError(f"chunks of {values.shape[1]} bins exceed this encoder's {self.width}")
        weight = mask.to(values.dtype)
        masked = values * weight
        summary = self.summary(masked, weight, population)
        pad = (0, self.width - values.shape[1])
        inputs = [F.pad(masked, pad), F.pad(weight, pad), F.pad(population, pad)]
        observed = weight.sum(dim=1)
        if self.context_dim:
            if context is None:
                raise ValueError("this encoder was built with context but the batch has none")
            inputs.append((context * weight[..., None]).sum(dim=1) / observed.clamp(min=1.0)[:, None])
        tokens = torch.cat([self.token(torch.cat(inputs, dim=1)), summary], dim=1)
        share = observed / float(self.width)
        return self.head(_weighted_moments(tokens, share, owner, n_views))

    def forward(self, values: torch.Tensor, mask: torch.Tensor, population: torch.Tensor,
                context: torch.Tensor | None, owner: torch.Tensor, n_views: int, recording: torch.Tensor,
                keep: torch.Tensor) -> torch.Tensor:
        """Views of neurons of several recordings -> (n_views, representation_dim); each view attends to itself and
        to the kept views of its own recording."""
        own = self.own(values, mask, population, context, owner, n_views)
        same = recording[:, None] == recording[None, :]
        allowed = same & (keep[None, :] | torch.eye(n_views, dtype=torch.bool, device=own.device))
        return self.population(own, own, allowed)


def _weighted_moments(tokens: torch.Tensor, weight: torch.Tensor, owner: torch.Tensor, n_views: int) -> torch.Tensor:
    """Weighted mean and standard deviation of the chunk tokens of each view (chunks without observed bins weigh 0)."""
    def view_sum(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros((n_views, *values.shape[1:]), dtype=tokens.dtype,
                           device=tokens.device).index_add(0, owner, values)

    weighted = tokens * weight[:, None]
    return _mean_and_std(view_sum(weight)[:, None], view_sum(weighted), view_sum(weighted * tokens))


def _mean_and_std(total: torch.Tensor, sums: torch.Tensor, squares: torch.Tensor) -> torch.Tensor:
    """[mean, standard deviation] per row from the total weight (n, 1), weighted sums and weighted squares (n, d)."""
    total = total.clamp(min=1e-6)
    mean = sums / total
    return torch.cat([mean, torch.sqrt((squares / total - mean * mean).clamp(min=0.0) + 1e-6)], dim=1)


class Expander(nn.Module):
    """VICReg expander: used only for the loss, never for embeddings."""

    def __init__(self, representation_dim: int, expander_dim: int) -> None:
        super().__init__()
        def norm() -> nn.Module:  # batch statistics always: no buffers to keep in step across ranks
            return nn.BatchNorm1d(expander_dim, track_running_stats=False)

        self.net = nn.Sequential(
            nn.Linear(representation_dim, expander_dim), norm(), nn.ReLU(),
            nn.Linear(expander_dim, expander_dim), norm(), nn.ReLU(),
            nn.Linear(expander_dim, expander_dim))

    def forward(self, representation: torch.Tensor) -> torch.Tensor:
        return self.net(representation)


class ActivityDecoder(nn.Module):
    """Predicts a neuron's activity in a chunk from its vector and the population activity of that chunk (loss only).

    Used across views: the vector of one view predicts the chunks of the other, so the vector must say how the neuron
    follows its population and the trial -- a NeuPRINT-like predictive term beside the invariance loss.
    """

    def __init__(self, representation_dim: int, width: int, hidden: int) -> None:
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Linear(representation_dim + 2 * width, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, z: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, population: torch.Tensor,
                owner: torch.Tensor, **_: object) -> torch.Tensor:
        """Mean squared error over the observed bins of the chunks (``owner`` names each chunk's row of ``z``)."""
        weight = mask.to(values.dtype)
        pad = (0, self.width - values.shape[1])
        inputs = torch.cat([z[owner], F.pad(population * weight, pad), F.pad(weight, pad)], dim=1)
        predicted = self.net(inputs)[:, :values.shape[1]]
        return ((predicted - values).pow(2) * weight).sum() / weight.sum().clamp(min=1.0)


CHUNK_MULTIPLE = 64
"""Batches are padded to a multiple of this many chunks. Views have random lengths, so unpadded batches have ever new
sizes, and glibc's heap grew step after step (RSS 480 -> 1180 MB over 800 steps on the demo data); padded, it stays
flat at ~530 MB at the same speed (docs/findings.md, model section)."""


def batch_tensors(batch: ViewBatch, device: torch.device) -> dict[str, torch.Tensor | int | None]:
    """The per-chunk inputs of :meth:`NeuronEncoder.own` as tensors (batch padded to a multiple of CHUNK_MULTIPLE)."""
    batch = batch.padded(CHUNK_MULTIPLE)

    def tensor(array):  # noqa: ANN001, ANN202
        return torch.from_numpy(array).to(device)

    return {"values": tensor(batch.values), "mask": tensor(batch.mask), "population": tensor(batch.population),
            "context": None if batch.context is None else tensor(batch.context), "owner": tensor(batch.owner),
            "n_views": batch.n_views}


def encode_own(encoder: NeuronEncoder, batch: ViewBatch, device: torch.device) -> torch.Tensor:
    """Each view's own vector (before the population layer) from a numpy ``ViewBatch``."""
    return encoder.own(**batch_tensors(batch, device))


def encode(encoder: nn.Module, inputs: dict[str, torch.Tensor | int | None], recording: np.ndarray, keep: np.ndarray,
           device: torch.device) -> torch.Tensor:
    """Run ``encoder`` (a NeuronEncoder, possibly wrapped for DDP) on the :func:`batch_tensors` ``inputs`` of views
    that come from the recordings ``recording`` (n_views,), attending to the ``keep`` (n_views,) views."""
    return encoder(**inputs, recording=torch.from_numpy(recording).to(device), keep=torch.from_numpy(keep).to(device))

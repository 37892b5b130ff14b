"""The neuron encoder: dilated residual 1-D convolutions over each chunk, masked pooling over all chunks of a view.

Input channels per bin: normalised activity (zeroed where unobserved), the observation mask, seconds since the epoch
start, optionally the session's population activity (``population_channel``), and the CEBRA context. A first
convolution turns patches of ``input_stride`` bins into one step (cheap on two cores), then residual dilated
convolutions (dilations 1, 2, 4, ...) see a widening window. Pooling (masked mean, optionally + standard deviation, over
every observed bin of every chunk of a view) does not depend on the view's length, so one network embeds views of
any length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from nwb_neurpir.model.config import NeurPIRConfig

__all__ = ["Expander", "NeuronEncoder", "encode"]

if TYPE_CHECKING:
    from nwb_neurpir.model.segments import ViewBatch


class _DilatedBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + F.gelu(self.conv(h))


class NeuronEncoder(nn.Module):
    """Maps a batch of chunked views to one ``representation_dim`` vector per view."""

    def __init__(self, config: NeurPIRConfig, context_dim: int) -> None:
        super().__init__()
        self.context_dim = context_dim
        self.population = config.population_channel
        self.pooling = config.pooling
        hidden = config.hidden_dim
        self.stride = config.input_stride
        n_inputs = 3 + int(self.population) + context_dim
        self.input = nn.Conv1d(n_inputs, hidden, config.input_stride, stride=config.input_stride)
        self.blocks = nn.ModuleList(
            [_DilatedBlock(hidden, config.kernel_size, 2**i) for i in range(config.n_layers)])
        pooled = 2 * hidden if config.pooling == "mean_std" else hidden
        self.head = nn.Sequential(nn.Linear(pooled, 2 * hidden), nn.GELU(),
                                  nn.Linear(2 * hidden, config.representation_dim))

    def forward(self, values: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                context: torch.Tensor | None, owner: torch.Tensor, n_views: int,
                population: torch.Tensor | None = None) -> torch.Tensor:
        """(n_chunks, T) inputs + (n_chunks,) owner -> (n_views, representation_dim)."""
        weight = mask.to(values.dtype)
        channels = [(values * weight)[:, None], weight[:, None], positions[:, None]]
        if self.population:
            if population is None:
                raise ValueError("this encoder was built with a population channel but the batch has none")
            channels.append(population[:, None])
        if self.context_dim:
            if context is None:
                raise ValueError("this encoder was built with context but the batch has none")
            channels.append(context.permute(0, 2, 1))
        inputs = torch.cat(channels, dim=1)
        extra = -inputs.shape[-1] % self.stride
        if extra:  # pad chunks to a whole number of input patches; padded bins are unobserved
            inputs = F.pad(inputs, (0, extra))
            weight = F.pad(weight, (0, extra))
        if self.stride > 1:
            weight = F.avg_pool1d(weight[:, None], self.stride)[:, 0]
        h = F.gelu(self.input(inputs))
        for block in self.blocks:
            h = block(h)
        return self.head(_masked_pool(h, weight, owner, n_views, self.pooling))


def _masked_pool(h: torch.Tensor, weight: torch.Tensor, owner: torch.Tensor, n_views: int,
                 pooling: str) -> torch.Tensor:
    """Mean (and standard deviation) of ``h`` over the observed bins of every chunk of each view."""
    w = weight[:, None, :]
    sums = torch.zeros(n_views, h.shape[1], dtype=h.dtype, device=h.device).index_add(0, owner, (h * w).sum(-1))
    counts = torch.zeros(n_views, dtype=h.dtype, device=h.device).index_add(0, owner, weight.sum(-1))
    counts = counts.clamp(min=1.0)[:, None]
    mean = sums / counts
    if pooling == "mean":
        return mean
    squares = torch.zeros_like(sums).index_add(0, owner, (h * h * w).sum(-1))
    std = torch.sqrt((squares / counts - mean * mean).clamp(min=0.0) + 1e-6)
    return torch.cat([mean, std], dim=1)


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


CHUNK_MULTIPLE = 64
"""Batches are padded to a multiple of this many chunks. Views have random lengths, so unpadded batches have ever new
sizes, and glibc's heap grew step after step (RSS 480 -> 1180 MB over 800 steps on the demo data); padded, it stays
flat at ~530 MB at the same speed (benchmarks/results/model.md)."""


def encode(encoder: nn.Module, batch: ViewBatch, device: torch.device) -> torch.Tensor:
    """Run ``encoder`` (a NeuronEncoder, possibly wrapped) on a numpy ``ViewBatch``."""
    batch = batch.padded(CHUNK_MULTIPLE)

    def tensor(array):  # noqa: ANN001, ANN202
        return torch.from_numpy(array).to(device)

    context = None if batch.context is None else tensor(batch.context)
    population = None if batch.population is None else tensor(batch.population)
    return encoder(tensor(batch.values), tensor(batch.mask), tensor(batch.positions), context, tensor(batch.owner),
                   batch.n_views, population)

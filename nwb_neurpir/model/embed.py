"""Embedding: one vector per neuron, the mean of the representations of segments that tile its observed activity."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from nwb_neurpir.model.encoder import NeuronEncoder, encode
from nwb_neurpir.model.segments import ViewBatch, gather_views
from nwb_neurpir.model.sessions import SessionData

__all__ = ["embed_session", "tile_views"]


def tile_views(session: SessionData, neuron: int, chunks_per_view: int, max_chunks: int) -> list[np.ndarray]:
    """Consecutive groups of the neuron's observed chunks (at most ``max_chunks`` spread evenly; 0 = all)."""
    layout = session.layout
    chunks = np.arange(layout.n_chunks)
    if session.observed is not None and chunks.size:
        chunks = chunks[np.add.reduceat(session.observed[neuron].astype(np.int32), layout.starts) > 0]
    if max_chunks and chunks.size > max_chunks:
        chunks = chunks[np.linspace(0, chunks.size - 1, max_chunks).round().astype(np.int64)]
    return [chunks[i:i + chunks_per_view] for i in range(0, chunks.size, chunks_per_view)]


def embed_session(encoder: NeuronEncoder, session: SessionData, segment_seconds: float, batch_size: int,
                  max_seconds: float, device: torch.device, progress: bool = True) -> np.ndarray:
    """(n_neurons, representation_dim) float32; neurons with no observed bin get NaN rows."""
    per_view = session.chunks_per_view(segment_seconds)
    max_chunks = session.chunks_per_view(max_seconds) if max_seconds > 0 else 0
    out = np.full((session.n_neurons, encoder.head[-1].out_features), np.nan, dtype=np.float32)
    encoder.eval()
    bar = tqdm(total=session.n_neurons, desc="embed", unit="neuron", disable=not progress, leave=False)
    with torch.no_grad():
        for start in range(0, session.n_neurons, batch_size):
            neurons = np.arange(start, min(start + batch_size, session.n_neurons))
            views = [(n, v) for n in neurons for v in tile_views(session, int(n), per_view, max_chunks)]
            if views:
                batch = gather_views(session, np.array([n for n, _ in views]), [v for _, v in views])
                _accumulate(out, encode(encoder, batch, device).cpu().numpy(), batch, np.array([n for n, _ in views]))
            bar.update(neurons.size)
    bar.close()
    return out


def _accumulate(out: np.ndarray, representations: np.ndarray, batch: ViewBatch, view_neurons: np.ndarray) -> None:
    """Average each neuron's view representations, weighted by the observed bins each view holds."""
    weights = np.zeros(batch.n_views)
    np.add.at(weights, batch.owner, batch.mask.sum(axis=1))
    for neuron in np.unique(view_neurons):
        rows = np.flatnonzero((view_neurons == neuron) & (weights > 0))
        if rows.size:
            out[neuron] = np.average(representations[rows], axis=0, weights=weights[rows])

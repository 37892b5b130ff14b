"""Embedding: each neuron's own vector from one view of its observed activity, then the population layer over the
neurons of its recording."""

from __future__ import annotations

import numpy as np
import torch

from nwb_neurpir.model.encoder import NeuronEncoder, encode_own
from nwb_neurpir.model.segments import gather_views
from nwb_neurpir.model.sessions import SessionData
from nwb_neurpir.progress import tqdm

__all__ = ["embed_session", "observed_chunks"]


def observed_chunks(session: SessionData, neuron: int, max_chunks: int) -> np.ndarray:
    """The chunks holding observed activity of ``neuron`` (at most ``max_chunks`` spread evenly; 0 = all)."""
    layout = session.layout
    chunks = np.arange(layout.n_chunks)
    if session.observed is not None and chunks.size:
        chunks = chunks[np.add.reduceat(session.observed[neuron].astype(np.int32), layout.starts) > 0]
    if max_chunks and chunks.size > max_chunks:
        chunks = chunks[np.linspace(0, chunks.size - 1, max_chunks).round().astype(np.int64)]
    return chunks


def embed_session(encoder: NeuronEncoder, session: SessionData, batch_size: int, max_seconds: float,
                  context_neurons: int, seed: int, device: torch.device, progress: bool = True) -> np.ndarray:
    """(n_neurons, representation_dim) float32; neurons with no observed bin get NaN rows.

    Each neuron's own vector pools all its observed chunks (at most ``max_seconds`` of them, spread over the
    recording; 0 = all); each then attends to the own vectors of up to ``context_neurons`` neurons of the recording
    (a subset seeded by ``seed`` when there are more; 0: to itself only).
    """
    max_chunks = session.chunks_per_view(max_seconds) if max_seconds > 0 else 0
    own = torch.full((session.n_neurons, encoder.output_dim), float("nan"))
    encoder.eval()
    bar = tqdm(total=session.n_neurons, desc="embed", unit="neuron", disable=not progress, leave=False)
    with torch.no_grad():
        for start in range(0, session.n_neurons, batch_size):
            neurons = np.arange(start, min(start + batch_size, session.n_neurons))
            chunk_lists = [observed_chunks(session, int(n), max_chunks) for n in neurons]
            seen = np.array([chunks.size > 0 for chunks in chunk_lists])
            if seen.any():
                batch = gather_views(session, neurons[seen], [c for c, s in zip(chunk_lists, seen) if s])
                own[neurons[seen]] = encode_own(encoder, batch, device).cpu()
            bar.update(neurons.size)
        bar.close()
        return _relate_to_population(encoder, own, context_neurons, seed, device).numpy()


def _relate_to_population(encoder: NeuronEncoder, own: torch.Tensor, context_neurons: int, seed: int,
                          device: torch.device, rows_per_pass: int = 1024) -> torch.Tensor:
    """The population layer on every neuron with an own vector, attending to (a subset of) those neurons; with
    ``context_neurons=0`` each neuron attends to itself only (the vector without its population context)."""
    out = torch.full_like(own, float("nan"))
    seen = torch.nonzero(~torch.isnan(own).any(dim=1)).flatten()
    if seen.numel() == 0:
        return out
    keys = seen
    if 0 < context_neurons < seen.numel():
        keys = seen[np.sort(np.random.default_rng(seed).choice(seen.numel(), context_neurons, replace=False))]
    key_vectors = own[keys].to(device) if context_neurons else None
    for start in range(0, seen.numel(), rows_per_pass):
        rows = seen[start:start + rows_per_pass]
        queries = own[rows].to(device)
        if key_vectors is None:
            itself = torch.eye(rows.numel(), dtype=torch.bool, device=device)
            out[rows] = encoder.population(queries, queries, itself).cpu()
        else:
            out[rows] = encoder.population(queries, key_vectors).cpu()
    return out

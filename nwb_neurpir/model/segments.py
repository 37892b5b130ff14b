"""Segment-length augmentation: two views of each neuron with independently drawn lengths, packed as chunks.

A view is a set of chunks of one neuron's observed activity (a run of consecutive chunks, or a random set of whole
trials for trial-structured data). All chunks of a batch are stacked into one padded (n_chunks, chunk_bins) array with
a mask and an ``owner`` index saying which view each chunk belongs to, so views of any length share one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from nwb_neurpir.model.sessions import SessionData

__all__ = ["ViewBatch", "ViewSampler", "gather_views"]


@dataclass
class ViewBatch:
    """Chunks of several views, padded to a common chunk length."""

    values: np.ndarray
    """(n_chunks, T) float32 normalised activity, 0 where masked."""
    mask: np.ndarray
    """(n_chunks, T) bool: observed bins."""
    positions: np.ndarray
    """(n_chunks, T) float32 seconds since epoch start (zeros when chunks are not whole epochs)."""
    context: np.ndarray | None
    """(n_chunks, T, context_dim) float32, or None."""
    owner: np.ndarray
    """(n_chunks,) int64: index of the view each chunk belongs to."""
    n_views: int
    population: np.ndarray | None = None
    """(n_chunks, T) float32 population activity of the neuron's session, or None."""

    def chunk_arrays(self) -> dict[str, np.ndarray]:
        """Every per-chunk array of the batch that is present (context and population may be None), by field name."""
        return {f.name: value for f in fields(self) if isinstance(value := getattr(self, f.name), np.ndarray)}

    @staticmethod
    def concatenate(parts: list[ViewBatch]) -> ViewBatch:
        """Join batches (views renumbered in order), padding chunks to the longest chunk length."""
        width = max(part.values.shape[1] for part in parts)
        offsets = np.cumsum([0] + [part.n_views for part in parts[:-1]])

        def pad(array: np.ndarray) -> np.ndarray:
            extra = [(0, 0), (0, width - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
            return np.pad(array, extra)

        joined = {name: np.concatenate([pad(part.chunk_arrays()[name]) for part in parts])
                  for name in parts[0].chunk_arrays() if name != "owner"}
        return replace(parts[0], **joined, owner=np.concatenate([p.owner + off for p, off in zip(parts, offsets)]),
                       n_views=int(sum(p.n_views for p in parts)))

    def padded(self, multiple: int) -> ViewBatch:
        """This batch with empty (fully masked) chunks appended until the chunk count is a multiple of ``multiple``.

        Masked chunks change no view's pooled output; the point is that batches then come in few distinct sizes.
        """
        extra = -self.values.shape[0] % multiple
        if not extra:
            return self
        return replace(self, **{name: np.concatenate([array, np.zeros((extra, *array.shape[1:]), dtype=array.dtype)])
                                for name, array in self.chunk_arrays().items()})


def gather_views(session: SessionData, neurons: np.ndarray, chunk_lists: list[np.ndarray]) -> ViewBatch:
    """Cut and normalise the chunks ``chunk_lists[i]`` of neuron ``neurons[i]`` (one view per entry)."""
    layout = session.layout
    width = layout.chunk_bins
    chunks = np.concatenate(chunk_lists) if chunk_lists else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(chunk_lists)), [len(c) for c in chunk_lists]).astype(np.int64)
    rows = np.asarray(neurons, dtype=np.int64)[owner]
    steps = np.arange(width)
    inside = steps[None, :] < layout.lengths[chunks][:, None]
    bins = np.minimum(layout.starts[chunks][:, None] + steps[None, :], session.activity.shape[1] - 1)
    raw = session.activity[rows[:, None], bins]
    mask = inside if session.observed is None else inside & session.observed[rows[:, None], bins]
    values = np.where(mask, session.normalizer.apply(raw, rows), 0.0).astype(np.float32)
    context = None
    if session.context is not None:
        context = np.where(inside[..., None], session.context[bins], 0.0).astype(np.float32)
    positions = np.where(inside, layout.positions[bins], 0.0).astype(np.float32)
    population = None
    if session.population is not None:
        population = np.where(inside, session.population[bins], 0.0).astype(np.float32)
    return ViewBatch(values=values, mask=mask, positions=positions, context=context, owner=owner,
                     n_views=len(chunk_lists), population=population)


class ViewSampler:
    """Draws batches of neurons balanced over animals then sessions (or all from one such session), and two views of
    each."""

    def __init__(self, sessions: list[SessionData], pools: list[np.ndarray], length_range: tuple[float, float],
                 single_session: bool = False):
        self.sessions = sessions
        self.single_session = single_session
        self.pools = pools
        self.length_range = length_range
        usable = [i for i, pool in enumerate(pools) if pool.size and sessions[i].layout.n_chunks]
        if not usable:
            raise ValueError("no neurons to sample from")
        animals: dict[str, list[int]] = {}
        for index in usable:
            animals.setdefault(sessions[index].subject_id, []).append(index)
        self.animals = [np.asarray(v) for _, v in sorted(animals.items())]

    def draw_seconds(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """View lengths in seconds, log-uniform over the configured range."""
        low, high = self.length_range
        return np.exp(rng.uniform(np.log(low), np.log(high), size))

    def draw_chunks(self, rng: np.random.Generator, session: SessionData, seconds: float) -> np.ndarray:
        """Chunk indices of one view of about ``seconds``."""
        n_chunks = session.layout.n_chunks
        count = session.chunks_per_view(seconds)
        if session.layout.random_chunks:
            return np.sort(rng.choice(n_chunks, size=count, replace=False))
        start = int(rng.integers(0, n_chunks - count + 1))
        return np.arange(start, start + count)

    def _pick_session(self, rng: np.random.Generator, animal: int) -> int:
        sessions = self.animals[animal]
        return int(sessions[rng.integers(0, sessions.size)])

    def sample(self, rng: np.random.Generator, batch_size: int) -> tuple[ViewBatch, ViewBatch]:
        """Two aligned batches of views: row i of each is a view of the same neuron."""
        picks: dict[int, list[int]] = {}
        if self.single_session:
            pool_index = self._pick_session(rng, int(rng.integers(0, len(self.animals))))
            pool = self.pools[pool_index]
            picks[pool_index] = pool[rng.integers(0, pool.size, batch_size)].tolist()
        else:
            for animal in rng.integers(0, len(self.animals), batch_size):
                pool_index = self._pick_session(rng, int(animal))
                pool = self.pools[pool_index]
                picks.setdefault(pool_index, []).append(int(pool[rng.integers(0, pool.size)]))
        parts_a, parts_b = [], []
        for session_index in sorted(picks):
            session, neurons = self.sessions[session_index], np.asarray(picks[session_index])
            seconds = self.draw_seconds(rng, 2 * neurons.size).reshape(2, -1)
            parts_a.append(gather_views(session, neurons, [self.draw_chunks(rng, session, s) for s in seconds[0]]))
            parts_b.append(gather_views(session, neurons, [self.draw_chunks(rng, session, s) for s in seconds[1]]))
        return ViewBatch.concatenate(parts_a), ViewBatch.concatenate(parts_b)

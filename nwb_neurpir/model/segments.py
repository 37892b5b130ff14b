"""Segment-length augmentation: two views of each neuron with independently drawn lengths, packed as chunks.

A view is a set of chunks of one neuron's observed activity (a run of consecutive chunks, or a random set of whole
trials for trial-structured data). All chunks of a batch are stacked into one padded (n_chunks, chunk_bins) array with
a mask and an ``owner`` index saying which view each chunk belongs to, so views of any length share one forward pass.
Neurons are drawn in groups from one recording whose views cover the same chunks: the group is the population context
of each of its neurons, and the loss contrasts neurons within a group.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from nwb_neurpir.model.sessions import SessionData

__all__ = ["PairBatch", "ViewBatch", "ViewSampler", "gather_views"]


@dataclass
class ViewBatch:
    """Chunks of several views, padded to a common chunk length."""

    values: np.ndarray
    """(n_chunks, T) float32 normalised activity, 0 where masked."""
    mask: np.ndarray
    """(n_chunks, T) bool: observed bins."""
    context: np.ndarray | None
    """(n_chunks, T, context_dim) float32, or None."""
    owner: np.ndarray
    """(n_chunks,) int64: index of the view each chunk belongs to."""
    n_views: int
    population: np.ndarray
    """(n_chunks, T) float32 population activity of the neuron's recording in the chunk's bins."""

    def chunk_arrays(self) -> dict[str, np.ndarray]:
        """Every per-chunk array of the batch that is present (context may be None), by field name."""
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
    population = np.where(inside, session.population[bins], 0.0).astype(np.float32)
    return ViewBatch(values=values, mask=mask, context=context, owner=owner,
                     n_views=len(chunk_lists), population=population)


@dataclass
class PairBatch:
    """Two aligned batches of views (row i of each is a view of the same neuron) and how the neurons group.

    Neurons of one recording in a batch have views that cover the same chunks (a window of that recording, or the same
    trials), so they are each other's population context (``recording``). The loss compares neurons within a
    ``group``: one recording's neurons, or, for recordings too small to be a group alone, neurons pooled from several.
    """

    view_a: ViewBatch
    view_b: ViewBatch
    group: np.ndarray
    """(n_views,) int64: the loss group of each neuron."""
    recording: np.ndarray
    """(n_views,) int64: which of the batch's recordings each neuron comes from (attention stays inside one)."""
    keep_a: np.ndarray
    """(n_views,) bool: neurons that the views of ``view_a`` may attend to (random unit dropout); likewise ``keep_b``."""
    keep_b: np.ndarray


@dataclass
class _Part:
    session: SessionData
    neurons: np.ndarray
    group: int


class ViewSampler:
    """Draws groups of neurons balanced over animals, and two views of each neuron.

    A batch holds ``groups`` groups; a group is one recording's neurons when the recording has at least
    ``MIN_GROUP`` neurons to sample from, else neurons pooled from several small recordings. Within a recording both
    views share their chunks, and each view keeps a random ``keep_range`` share of the recording's neurons as
    population context (unit dropout). In trial-cut recordings a view holds at least ``min_epochs`` trials.
    """

    MIN_GROUP = 16

    def __init__(self, sessions: list[SessionData], pools: list[np.ndarray], length_range: tuple[float, float],
                 groups: int = 2, keep_range: tuple[float, float] = (0.5, 1.0), min_epochs: int = 1):
        self.min_epochs = min_epochs
        self.sessions = sessions
        self.pools = pools
        self.length_range = length_range
        self.groups = groups
        self.keep_range = keep_range
        usable = [i for i, pool in enumerate(pools) if pool.size and sessions[i].layout.n_chunks]
        if sum(pools[i].size for i in usable) < 2:
            raise ValueError("fewer than two neurons to sample from")
        self.large = self._by_animal([i for i in usable if pools[i].size >= self.MIN_GROUP])
        self.small = self._by_animal([i for i in usable if pools[i].size < self.MIN_GROUP])
        self.n_small_neurons = sum(pools[i].size for sessions_ in self.small for i in sessions_)

    def _by_animal(self, indices: list[int]) -> list[np.ndarray]:
        animals: dict[str, list[int]] = {}
        for index in indices:
            animals.setdefault(self.sessions[index].subject_id, []).append(index)
        return [np.asarray(v) for _, v in sorted(animals.items())]

    def draw_seconds(self, rng: np.random.Generator) -> float:
        """A view length in seconds, log-uniform over the configured range."""
        low, high = self.length_range
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    def draw_chunks(self, rng: np.random.Generator, session: SessionData, seconds: float) -> np.ndarray:
        """Chunk indices of one view of about ``seconds``, at most half the recording's chunks (so that two views of a
        short recording still differ)."""
        n_chunks = session.layout.n_chunks
        count = session.chunks_per_view(seconds)
        if session.layout.epoch_aligned:
            count = max(count, self.min_epochs)
        count = min(count, max(1, n_chunks // 2))
        if session.layout.random_chunks:
            return np.sort(rng.choice(n_chunks, size=count, replace=False))
        start = int(rng.integers(0, n_chunks - count + 1))
        return np.arange(start, start + count)

    @staticmethod
    def _session_of(rng: np.random.Generator, animals: list[np.ndarray]) -> int:
        sessions = animals[int(rng.integers(0, len(animals)))]
        return int(sessions[rng.integers(0, sessions.size)])

    def _group(self, rng: np.random.Generator, index: int, size: int) -> list[_Part]:
        """One group: a large recording's neurons, or neurons pooled from small recordings (balanced over animals)."""
        n_large = sum(len(s) for s in self.large)
        use_large = bool(self.large) and (not self.small or rng.random() < n_large / (n_large + len(self.small)))
        if use_large:
            session_index = self._session_of(rng, self.large)
            pool = self.pools[session_index]
            return [_Part(self.sessions[session_index], np.sort(rng.choice(pool, min(size, pool.size), replace=False)),
                          index)]
        parts: dict[int, _Part] = {}
        for _ in range(4 * size):
            if sum(part.neurons.size for part in parts.values()) >= min(size, self.n_small_neurons):
                break
            session_index = self._session_of(rng, self.small)
            if session_index not in parts:
                parts[session_index] = _Part(self.sessions[session_index], self.pools[session_index], index)
        return list(parts.values())

    def _keep(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.random(size) < rng.uniform(*self.keep_range)

    def sample(self, rng: np.random.Generator, batch_size: int) -> PairBatch:
        """About ``batch_size`` neurons split over ``groups`` groups, two views each."""
        per_group = max(2, batch_size // self.groups)
        parts = [part for index in range(self.groups) for part in self._group(rng, index, per_group)]
        views: dict[str, list[ViewBatch]] = {"a": [], "b": []}
        for part in parts:
            for name in views:
                chunks = self.draw_chunks(rng, part.session, self.draw_seconds(rng))
                views[name].append(gather_views(part.session, part.neurons, [chunks] * part.neurons.size))
        sizes = [part.neurons.size for part in parts]
        return PairBatch(
            ViewBatch.concatenate(views["a"]), ViewBatch.concatenate(views["b"]),
            group=np.repeat([part.group for part in parts], sizes).astype(np.int64),
            recording=np.repeat(np.arange(len(parts)), sizes).astype(np.int64),
            keep_a=np.concatenate([self._keep(rng, n) for n in sizes]),
            keep_b=np.concatenate([self._keep(rng, n) for n in sizes]))

"""A recording reduced to what the neuron encoder samples from: compact activity, chunk layout, normaliser, context.

Activity stays in its compact dtype (uint8 counts where they fit); views are cut and normalised lazily per batch, so
memory grows with the data kept, never with what a step samples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.model.normalize import Normalizer, fit_normalizer, row_blocks
from nwb_neurpir.recording import Recording

__all__ = ["ChunkLayout", "SessionData", "activity_fingerprint", "chunk_layout", "compact_activity", "hashed_key",
           "population_activity", "prepare_session", "recording_fingerprint"]


@dataclass(frozen=True)
class ChunkLayout:
    """How a session's bins split into chunks the temporal network sees at once."""

    starts: np.ndarray
    """(n_chunks,) int64: first bin of each chunk."""
    lengths: np.ndarray
    """(n_chunks,) int64: bins in each chunk (at most ``chunk_bins``)."""
    chunk_bins: int
    epoch_aligned: bool
    """True when every chunk is one whole epoch (trial windows)."""
    random_chunks: bool
    """Views are random sets of chunks (trials) rather than runs of consecutive chunks."""

    @property
    def n_chunks(self) -> int:
        return int(self.starts.size)


@dataclass
class SessionData:
    """One recording prepared for sampling and embedding."""

    key: str
    """Session identifier used for provenance and balancing (the source identifier or location)."""
    subject_id: str
    activity: np.ndarray
    observed: np.ndarray | None
    normalizer: Normalizer
    layout: ChunkLayout
    context: np.ndarray | None
    """(n_bins, context_dim) float32 or None without context."""
    bin_size: float
    population: np.ndarray
    """(n_bins,) float32 z-scored population activity (mean normalised activity of the recording's neurons)."""

    @property
    def n_neurons(self) -> int:
        return int(self.activity.shape[0])

    def chunks_per_view(self, seconds: float) -> int:
        """How many chunks make a view of about ``seconds`` of activity."""
        mean_chunk = float(self.layout.lengths.mean()) * self.bin_size if self.layout.n_chunks else 1.0
        return int(np.clip(round(seconds / mean_chunk), 1, max(self.layout.n_chunks, 1)))


def compact_activity(activity: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Smallest faithful dtype for the activity, and a mask of bins that are not finite (None when all are)."""
    if np.issubdtype(activity.dtype, np.integer):
        top = int(activity.max()) if activity.size else 0
        return activity.astype(np.uint8 if top <= 255 else np.uint16, copy=False), None
    values = np.asarray(activity, dtype=np.float32)
    finite = np.isfinite(values)
    if finite.all():
        return values, None
    return np.where(finite, values, 0.0).astype(np.float32), finite


def chunk_layout(recording: Recording, config: NeurPIRConfig) -> ChunkLayout:
    """Chunks of one recording: whole epochs when every epoch is short, else pieces of ``chunk_bins``."""
    starts = recording.epoch_starts()
    ends = np.append(starts[1:], recording.n_bins)
    epoch_lengths = ends - starts
    longest = int(epoch_lengths.max()) if epoch_lengths.size else 1
    chunk_bins = config.chunk_bins or min(longest, config.max_chunk_bins)
    epoch_aligned = longest <= chunk_bins
    random_chunks = config.segment_sampling == "chunks" or (config.segment_sampling == "auto" and epoch_aligned)
    chunk_starts, chunk_lengths = [], []
    for start, length in zip(starts, epoch_lengths):
        offsets = np.arange(0, length, chunk_bins)
        chunk_starts.append(start + offsets)
        chunk_lengths.append(np.minimum(chunk_bins, length - offsets))
    return ChunkLayout(
        starts=np.concatenate(chunk_starts).astype(np.int64) if chunk_starts else np.zeros(0, np.int64),
        lengths=np.concatenate(chunk_lengths).astype(np.int64) if chunk_lengths else np.zeros(0, np.int64),
        chunk_bins=int(chunk_bins), epoch_aligned=bool(epoch_aligned),
        random_chunks=bool(random_chunks))


def session_key(recording: Recording) -> str:
    """Identifier of a recording for provenance: the DANDI asset ID, else the NWB identifier, else the location (a URL
    without its credentials)."""
    source = recording.source
    return source.asset_id or source.identifier or source.label()


def hashed_key(key: str) -> str:
    """A session key as a redacted model (``neurpir export --redact``) names it: ``sha256:`` and the sha256 of the key
    (a key already hashed is returned as it is)."""
    if key.startswith("sha256:"):
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()

def prepare_session(recording: Recording, config: NeurPIRConfig, context: np.ndarray | None) -> SessionData:
    """Compact, normalise (statistics only) and chunk one recording for a resolved ``config``, with the population's
    mean activity per bin."""
    activity, observed = _compact_recording(recording)
    normalizer = fit_normalizer(activity, observed, recording.modality, str(config.normalization))
    return SessionData(
        key=session_key(recording), subject_id=recording.subject_id, activity=activity, observed=observed,
        normalizer=normalizer, layout=chunk_layout(recording, config), context=context,
        bin_size=float(recording.bin_size), population=population_activity(activity, observed, normalizer))


def _compact_recording(recording: Recording) -> tuple[np.ndarray, np.ndarray | None]:
    """The recording's activity in its compact dtype and its observed mask, bins that are not finite unobserved."""
    activity, not_finite = compact_activity(recording.activity)
    observed = recording.observed
    if not_finite is not None:
        observed = not_finite if observed is None else (observed & not_finite)
    return activity, observed


def activity_fingerprint(session: SessionData) -> dict[str, int | str]:
    """What identifies the activity a session trains on: its bins and the sha256 of its compact activity (dtype, shape,
    values, and the observed mask when there is one), hashed in row blocks (about 1 GB/s, no copy of the matrix)."""
    return _fingerprint(session.activity, session.observed)


def recording_fingerprint(recording: Recording) -> dict[str, int | str]:
    """``activity_fingerprint`` of the session a recording makes, without preparing the rest of it: equal to a
    training session's when the model trained on this very activity (read the same way), whatever the file's name
    or NWB identifier."""
    return _fingerprint(*_compact_recording(recording))


def _fingerprint(activity: np.ndarray, observed: np.ndarray | None) -> dict[str, int | str]:
    digest = hashlib.sha256(repr(activity.shape).encode())
    for matrix in (activity, observed):
        if matrix is None:
            continue
        digest.update(matrix.dtype.str.encode())
        blocks = row_blocks(*matrix.shape)
        for start in blocks:
            digest.update(np.ascontiguousarray(matrix[start:start + blocks.step]).data)
    return {"n_bins": int(activity.shape[1]), "activity_sha256": digest.hexdigest()}


def population_activity(activity: np.ndarray, observed: np.ndarray | None, normalizer: Normalizer) -> np.ndarray:
    """(n_bins,) mean normalised activity over the neurons observed in each bin, z-scored over the session's bins
    (0 where no neuron is observed); computed in row blocks to bound memory."""
    n_neurons, n_bins = activity.shape
    sums, counts = np.zeros(n_bins, np.float64), np.zeros(n_bins, np.float64)
    blocks = row_blocks(n_neurons, n_bins)
    for start in blocks:
        rows = np.arange(start, min(start + blocks.step, n_neurons))
        values = normalizer.apply(activity[rows], rows)
        weight = np.ones(values.shape, bool) if observed is None else observed[rows]
        sums += np.where(weight, values, 0.0).sum(axis=0)
        counts += weight.sum(axis=0)
    seen = counts > 0
    mean = np.divide(sums, counts, out=np.zeros(n_bins), where=seen)
    if seen.any():
        centre, spread = mean[seen].mean(), mean[seen].std()
        mean = np.where(seen, (mean - centre) / (spread if spread > 1e-9 else 1.0), 0.0)
    return mean.astype(np.float32)

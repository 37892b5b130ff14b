"""Surrounding information as context: ONE CEBRA model fitted jointly on the covariates of all training sessions.

Covariate columns are aligned by name across sessions, z-scored with each column's mean and standard deviation pooled
over every bin of the sessions that have it, and encoded by the same CEBRA network everywhere, so the context lives in
one space for every session and animal, including new ones. A column a session lacks is filled with that mean (0
after scaling: "typical", never a made-up raw 0), with one warning during training. CEBRA is trained
behaviour-guided (the covariates are its auxiliary labels, ``time_delta`` conditional) on a bounded sample: evenly
spaced contiguous blocks over the whole of each session. Only the network's ``state_dict`` is kept (saved as
safetensors), never CEBRA's pickle-based ``save``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import torch

from nwb_neurpir.covariate_names import column_positions
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model.config import NeurPIRConfig, covariate_patterns
from nwb_neurpir.recording import Recording

__all__ = ["ContextEncoder", "aligned_covariates", "fit_context", "selected_columns"]

log = logging.getLogger(__name__)

_BLOCK_BINS = 400
"""Longest contiguous block of a session the CEBRA fit sees."""
_BLOCKS_PER_SESSION = 8
"""Blocks shrink (down to the network's receptive field plus the positive pair's offset) to give a session at least
this many, spread over its whole length, within its share of ``context_max_samples``."""
_NAMES_SHOWN = 3


def aligned_covariates(recording: Recording, columns: list[str], fill: np.ndarray) -> np.ndarray:
    """The recording's covariates as (n_bins, len(columns)) float32 in ``columns`` order; a column the recording lacks
    is ``fill[column]`` in every bin."""
    matrix, names = recording.covariate_matrix()
    out = np.empty((recording.n_bins, len(columns)), dtype=np.float32)
    for j, index in enumerate(column_positions(names, columns)):
        out[:, j] = fill[j] if index is None else matrix[:, index]
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

    def missing_columns(self, recording: Recording) -> list[str]:
        """The encoder's input columns ``recording`` lacks (each is read as its training mean)."""
        positions = column_positions(recording.covariate_names(), self.columns)
        return [column for column, index in zip(self.columns, positions) if index is None]

    def scaled(self, recording: Recording) -> np.ndarray:
        """The recording's inputs z-scored, (n_bins, len(columns)) float32; a missing column is 0 (its mean)."""
        return ((aligned_covariates(recording, self.columns, self.mean) - self.mean) / self.std).astype(np.float32)

    def transform(self, recording: Recording) -> np.ndarray:
        """Context per bin, (n_bins, output_dim) float32; each epoch is padded at its edges for the receptive field."""
        scaled = self.scaled(recording)
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
    return network(tensor)[0].reshape(-1, n_out).T.numpy()  # CEBRA drops the time axis of a one-bin output


def fit_context(recordings: list[Recording], config: NeurPIRConfig, fit: bool = True,
                progress: bool = False) -> ContextEncoder | None:
    """One CEBRA model over every training session's covariates, or None (logged) when there are none.

    ``progress`` shows CEBRA's own progress bar while it fits. With ``fit=False`` the layout and scaling are computed
    but the network keeps fresh weights (to be loaded from a checkpoint or received from rank 0); the warning about
    columns some sessions lack comes with the fit, so once per training.
    """
    if config.context == "none":
        log.info("context is off (context='none')")
        return None
    columns = sorted({name for recording in recordings for name in recording.covariate_names()})
    if not columns:
        log.warning("no covariates in the training recordings: training without context")
        return None
    if config.context_covariates is not None:
        columns = selected_columns(columns, covariate_patterns(config.context_covariates),
                                   _text_columns(recordings))
    mean, std = _pooled_scaling(recordings, columns)
    network = ContextEncoder.build_network(config.context_architecture, len(columns), config.context_hidden,
                                           config.context_dim).eval()
    encoder = ContextEncoder(columns=columns, mean=mean, std=std, architecture=config.context_architecture,
                             hidden=config.context_hidden, output_dim=config.context_dim, network=network)
    if fit:
        summary = _missing_summary(recordings, columns)
        if summary:
            log.warning(summary)
        encoder.network = _fit_cebra(fit_sample(encoder, recordings, config), config, progress)
    return encoder


def selected_columns(columns: list[str], patterns: list[str], text_columns: Sequence[str] = ()) -> list[str]:
    """The ``columns`` that one of ``patterns`` names (fnmatch; ``name`` also names ``name[i]``), in order; a pattern
    that names none of them is a ``NeurPIRError`` listing what there is, and saying which of ``text_columns`` (the
    interval tables' text columns, which are no covariates) it names."""
    def base(column: str) -> str:
        return column.split("[", 1)[0]

    unmatched = [p for p in patterns if not any(fnmatchcase(c, p) or fnmatchcase(base(c), p) for c in columns)]
    if unmatched:
        shown = ", ".join(sorted({base(c) for c in columns}))
        text = [c for c in text_columns if any(fnmatchcase(c, p) for p in unmatched)]
        named = (f"; {', '.join(text)} {'is a text column' if len(text) == 1 else 'are text columns'}, and text "
                 "columns are not covariates (only numeric ones are)") if text else ""
        raise NeurPIRError(f"context_covariates: {', '.join(unmatched)} matches none of the training recordings' "
                           f"covariates ({shown}){named}")
    return [c for c in columns if any(fnmatchcase(c, p) or fnmatchcase(base(c), p) for p in patterns)]


def _text_columns(recordings: list[Recording]) -> list[str]:
    """``<table>/<column>`` for each text column of the recordings' interval tables, sorted."""
    return sorted({column for recording in recordings for column in recording.text_columns})


def fit_sample(encoder: ContextEncoder, recordings: list[Recording], config: NeurPIRConfig) -> np.ndarray:
    """The scaled bins CEBRA is fitted on: each recording's share of ``context_max_samples`` as blocks spread over
    its whole length (see :func:`_blocks`), in recording order."""
    shortest = len(encoder.network.get_offset()) + config.context_time_offsets
    budget = config.context_max_samples // len(recordings)
    return np.concatenate([_blocks(encoder.scaled(recording), budget, shortest) for recording in recordings])


def _pooled_scaling(recordings: list[Recording], columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (1 where it is ~0) of each column over every bin of the recordings that have it,
    combined recording by recording (Chan et al.'s pairwise update, in float64)."""
    count, mean, squares = (np.zeros(len(columns)) for _ in range(3))
    position = {name: j for j, name in enumerate(columns)}
    for recording in recordings:
        matrix, names = recording.covariate_matrix()
        read = [i for i, name in enumerate(names) if name in position]
        if matrix.shape[0] == 0 or not read:
            continue
        j = np.array([position[names[i]] for i in read], dtype=np.int64)
        values = np.nan_to_num(matrix[:, read].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        n, own_mean = values.shape[0], values.mean(axis=0)
        own_squares = ((values - own_mean) ** 2).sum(axis=0)
        total = count[j] + n
        delta = own_mean - mean[j]
        mean[j] += delta * n / total
        squares[j] += own_squares + delta ** 2 * count[j] * n / total
        count[j] = total
    std = np.sqrt(squares / np.maximum(count, 1))
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def _missing_summary(recordings: list[Recording], columns: list[str]) -> str | None:
    """One line naming the training recordings that lack some of ``columns`` and which, or None when none does."""
    lacking = []
    for recording in recordings:
        present = set(recording.covariate_names())
        missing = [column for column in columns if column not in present]
        if missing:
            lacking.append((recording.source.label(), missing))
    if not lacking:
        return None
    shown = "; ".join(f"{label} lacks {len(missing)} ({_first_names(missing)})"
                      for label, missing in lacking[:_NAMES_SHOWN])
    more = f"; and {len(lacking) - _NAMES_SHOWN} more recordings" if len(lacking) > _NAMES_SHOWN else ""
    return (f"context: {len(lacking)} of {len(recordings)} training recordings lack some of the {len(columns)} "
            f"covariates, each filled with its mean over the recordings that have it: {shown}{more}")


def _first_names(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    return shown if len(names) <= _NAMES_SHOWN else f"{shown}, ..."


def _blocks(values: np.ndarray, budget: int, shortest: int) -> np.ndarray:
    """About ``budget`` rows of ``values`` as contiguous blocks centred at evenly spaced points of the whole session
    (CEBRA's neighbour search over behaviour labels costs time linear in the number of samples, so the fit sees a
    bounded subset). Blocks are ``_BLOCK_BINS`` long, shorter when that gives fewer than ``_BLOCKS_PER_SESSION``,
    never shorter than ``shortest`` (a sample and its positive fit in one block), which may exceed the budget."""
    n_rows = values.shape[0]
    if n_rows <= max(budget, shortest):
        return values
    block = max(shortest, min(_BLOCK_BINS, budget // _BLOCKS_PER_SESSION))
    n_blocks = max(1, budget // block)
    centres = (np.arange(n_blocks) + 0.5) * n_rows / n_blocks
    starts = np.clip(np.round(centres - block / 2).astype(np.int64), 0, n_rows - block)
    return np.concatenate([values[start:start + block] for start in starts])


def _fit_cebra(scaled: np.ndarray, config: NeurPIRConfig, progress: bool = False) -> torch.nn.Module:
    """Train CEBRA (behaviour-guided on the covariates themselves) and return its torch network, on CPU."""
    import cebra
    from nwb_neurpir.progress import tqdm

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

"""Hand-made per-neuron features from a ``Recording`` (the baseline NeurPIR must beat).

Spikes: rate relative to the session, Fano factor, ISI CV / CV2 / LV, burst index, ISI histogram, short-lag
autocorrelation, population coupling, normalised PSTH, stimulus-minus-blank, stimulus tuning and reward modulation.
Calcium: skewness, SNR, event rate, autocorrelation decay and the same autocorrelation / coupling / trial features.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.evaluation.features.activity import binned_activity_features
from nwb_neurpir.evaluation.features.spikes import spike_train_features
from nwb_neurpir.evaluation.features.traces import trace_features
from nwb_neurpir.evaluation.features.trials import align_trials, trial_response_features
from nwb_neurpir.recording import Recording

__all__ = ["feature_matrix", "hand_features", "on_shared_columns"]


def hand_features(recording: Recording) -> pd.DataFrame:
    """One row per neuron (recording order), one named column per feature; no NaN (a feature a neuron has no
    observed activity for, e.g. trials outside its ``obs_intervals``, is 0)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)  # such a neuron's mean is NaN, then 0
        windows = align_trials(recording)
        per_trial = None if windows is None else np.nanmean(windows.responses, axis=2)
        parts = [trial_response_features(recording, windows), binned_activity_features(recording, per_trial)]
        if recording.modality == "spikes":
            trial_counts = None if windows is None else windows.responses.sum(axis=2)  # NaN: trial unobserved
            parts.insert(0, spike_train_features(recording, trial_counts))
        else:
            parts.insert(0, trace_features(recording))
    table = pd.concat([part.reset_index(drop=True) for part in parts], axis=1)
    return table.replace([np.inf, -np.inf], np.nan).fillna(0.0).astype(np.float64)


def feature_matrix(recordings: Sequence[Recording], progress: bool = False,
                   among: Sequence[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Hand features of several recordings on one shared column set (a column a recording lacks is 0 there).
    ``among``: per recording, a boolean mask of the neurons to compute them among (e.g. those with a vector); the
    rows of the other neurons are NaN."""
    from nwb_neurpir.progress import tqdm

    masks = [None] * len(recordings) if among is None else list(among)
    tables = [_features_among(recording, mask)
              for recording, mask in tqdm(list(zip(recordings, masks)), desc="hand features", unit="session",
                                          disable=not progress)]
    matrices, columns = on_shared_columns(tables)
    return [matrix if mask is None else _scattered(matrix, mask) for matrix, mask in zip(matrices, masks)], columns


def _features_among(recording: Recording, mask: np.ndarray | None) -> pd.DataFrame:
    """``hand_features`` of the neurons ``mask`` selects (every neuron when None; no row when it selects none)."""
    if mask is None:
        return hand_features(recording)
    return hand_features(recording.select_neurons(mask)) if mask.any() else pd.DataFrame()


def _scattered(rows: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(len(mask), k): ``rows`` where ``mask`` is set, NaN elsewhere."""
    out = np.full((mask.size, rows.shape[1]), np.nan)
    out[mask] = rows
    return out


def on_shared_columns(tables: Sequence[pd.DataFrame]) -> tuple[list[np.ndarray], list[str]]:
    """Feature tables as matrices on the union of their columns (a column a table lacks is 0 there), and the names."""
    columns = list(dict.fromkeys(name for table in tables for name in table.columns))
    return [table.reindex(columns=columns, fill_value=0.0).to_numpy() for table in tables], columns

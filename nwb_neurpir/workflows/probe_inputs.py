"""What a ``LabelProbe`` reads besides the NeurPIR vectors: the neurons' hand features, computed from the recording
itself, and the per-recording z-scoring both inputs get (as in ``neurpir evaluate``). Both are computed among the
neurons that have a vector (those embedded, e.g. the ROIs ``--filter`` kept), never the recording's other neurons.

A recording with fewer than ``normalization.MIN_SESSION_NEURONS`` neurons is not z-scored on its own (it would erase
what tells its few neurons apart); the probe's training statistics standardise it instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from nwb_neurpir.covariate_names import column_positions
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.normalization import unfit_sessions
from nwb_neurpir.evaluation.probes import standardize_per_session

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from nwb_neurpir.recording import Recording

__all__ = ["PROBE_INPUTS", "frame_hand_features", "recording_hand_features", "zscored_per_recording"]

_CORRELATION = "covariate_corr["
"""How the hand features name a neuron's correlation with a covariate: ``covariate_corr[<covariate>]``."""

PROBE_INPUTS = {
    "neurpir+hand": "the NeurPIR vector and the hand features, one probe each, their log-probabilities summed",
    "neurpir": "the NeurPIR vector alone",
}
"""What a probe reads. Late fusion with the hand features measured above the vectors alone on every data set so far
and at or above the hand features alone (Steinmetz 4 regions, 3 seeds: 0.412 against 0.388 NeurPIR / 0.373 hand;
simulated calcium 0.620 against 0.425 / 0.616; BENCHMARKS.md)."""


def zscored_per_recording(matrix: np.ndarray, recordings: Sequence[str] | np.ndarray) -> np.ndarray:
    """Every column z-scored within each recording, except recordings too small for it (``unfit_sessions``), which
    are left unchanged."""
    keys = np.asarray(recordings, dtype=str)
    out = np.asarray(matrix, dtype=np.float64).copy()
    fit = ~np.isin(keys, list(unfit_sessions(keys)))
    out[fit] = standardize_per_session(out[fit], keys[fit])
    return out


def recording_hand_features(recording: Recording, neuron_ids: Sequence[object] | np.ndarray,
                            columns: Sequence[str], *, exact_isis: bool = True,
                            training_means: np.ndarray | None = None) -> np.ndarray:
    """Hand features of the recording's neurons ``neuron_ids`` (rows in that order), computed and z-scored among
    those neurons (as their vectors are), on ``columns`` (a probe's covariate correlation under a covariate's older
    name is read from the covariate it names). ``exact_isis``: ISIs from the recording's spike times (a spike
    recording must keep them), else between its bins, as the probe was fitted. A feature the recording lacks is set
    to its mean over the probe's training neurons (``training_means``, one per column; None: 0, the mean of a
    z-scored feature), so that it moves no prediction, with one warning naming the features missing."""
    table = _hand_table(_with_isis(recording, exact_isis), neuron_ids)
    table = table.rename(columns=_older_covariate_names(list(table.columns), list(columns)))
    missing = [column for column in columns if column not in table.columns]
    if missing:
        warnings.warn(f"{recording.source.label()}: {len(missing)} of the probe's {len(columns)} hand features are "
                      f"missing and set to their training mean: {', '.join(missing)}", stacklevel=3)
    means = dict(zip(columns, np.zeros(len(columns)) if training_means is None else training_means))
    return table.reindex(columns=list(columns)).fillna({column: means[column] for column in missing}).to_numpy()


def _older_covariate_names(present: list[str], wanted: list[str]) -> dict[str, str]:
    """``{present column: wanted column}`` for each ``covariate_corr[<name>]`` of ``wanted`` absent from ``present``
    whose covariate ``present`` holds under its path name (probes saved before series were named by path)."""
    inner = [name[len(_CORRELATION):-1] for name in present if _is_correlation(name)]
    older = [name[len(_CORRELATION):-1] for name in wanted if _is_correlation(name) and name not in present]
    return {f"{_CORRELATION}{inner[i]}]": f"{_CORRELATION}{name}]"
            for name, i in zip(older, column_positions(inner, older)) if i is not None}


def _with_isis(recording: Recording, exact: bool) -> Recording:
    """``recording`` as the hand features should read it: with its spike times when ``exact`` (a ``NeurPIRError``
    when it has none), without them otherwise."""
    if recording.modality != "spikes":
        return recording
    if not exact:
        return replace(recording, spike_times=None)
    if recording.spike_times is None:
        raise NeurPIRError("the probe's hand features take ISIs from exact spike times, and this recording kept none: "
                           "read it with keep_spike_times=True", recording.source.label())
    return recording


def _is_correlation(column: str) -> bool:
    return column.startswith(_CORRELATION) and column.endswith("]")


def frame_hand_features(frame: pd.DataFrame, bin_size: float | None = None, moved_sources: Sequence[str | Path] = (),
                        name: str | None = None) -> tuple[np.ndarray, list[str], float]:
    """Hand features of every row of a ``read_embeddings`` frame, read from each row's ``file`` (the neurons of its
    ``neuron_table``, when the frame has that column, over the time their vectors -- of the table ``name``, else
    the file's first -- were made from) or, for a sidecar, from the source it names (when that has
    moved, the file among ``moved_sources`` with its NWB identifier; the first file read at ``bin_size`` or its
    reader's default fixes the bin size of the rest; spike times are kept, for exact ISIs as ``evaluate`` takes them):
    matrix, column names, bin size."""
    from nwb_neurpir.evaluation.features import on_shared_columns
    from nwb_neurpir.workflows.annotated import MovedSources, activity_source
    from nwb_neurpir.workflows.recordings import open_recordings

    keys = frame.assign(file=frame["file"].astype(str), neuron_table=frame.get("neuron_table", ""))
    groups = keys.groupby(["file", "neuron_table"], sort=False).indices
    moved = MovedSources(moved_sources)
    features = []
    for (path, neuron_table), rows in groups.items():
        try:
            source, same_neurons = activity_source(path, moved, neuron_table or None, name=name)
            (recording,) = open_recordings(source, progress=False, bin_size=bin_size, keep_spike_times=True,
                                           **same_neurons)
        except (NeurPIRError, ValueError) as error:
            one_line = error.one_line() if isinstance(error, NeurPIRError) else f"{path}: {error}"
            raise NeurPIRError(f"{one_line}; the probe reads hand features from the files' activity (fit it with "
                               "inputs='neurpir' to read the vectors alone)") from None
        bin_size = recording.bin_size
        features.append(_hand_table(recording, frame["neuron_id"].to_numpy()[rows]))
    per_group, columns = on_shared_columns(features)
    matrix = np.zeros((len(frame), len(columns)))
    for rows, values in zip(groups.values(), per_group):
        matrix[rows] = values
    return matrix, columns, float(bin_size)


def _hand_table(recording: Recording, neuron_ids: Sequence[object] | np.ndarray) -> pd.DataFrame:
    """The hand features of ``neuron_ids`` (rows in that order), computed among those neurons alone -- the neurons
    whose vectors are z-scored together -- and each column z-scored over them."""
    from nwb_neurpir.evaluation.features import hand_features

    position = {str(neuron): row for row, neuron in enumerate(recording.neuron_ids)}
    missing = [str(neuron) for neuron in neuron_ids if str(neuron) not in position]
    if missing:
        raise NeurPIRError(f"has no neuron {missing[0]} (of {len(missing)} embedded neurons) in its activity",
                           recording.source.label())
    rows = np.asarray([position[str(neuron)] for neuron in neuron_ids], dtype=np.int64)
    among = np.unique(rows)
    table = hand_features(recording.select_neurons(among))
    table.loc[:, :] = zscored_per_recording(table.to_numpy(), np.zeros(len(table)))
    return table.iloc[np.searchsorted(among, rows)]


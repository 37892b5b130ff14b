"""NWB ``TimeSeries`` groups read with h5py: finding them, their sample times, and their data in physical units."""

from __future__ import annotations

from collections.abc import Iterator

import h5py
import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import decode_text, member_names, numeric_dataset

__all__ = ["iter_timeseries", "neurodata_type", "sample_period", "sample_times", "scaled"]


def neurodata_type(node: h5py.HLObject) -> str:
    """The node's ``neurodata_type`` attribute ("" when absent)."""
    value = node.attrs.get("neurodata_type")
    return "" if value is None else decode_text(value)


def is_timeseries(node: h5py.HLObject) -> bool:
    """A group with ``data`` and either ``timestamps`` or ``starting_time`` (any TimeSeries subtype)."""
    return isinstance(node, h5py.Group) and "data" in node and ("timestamps" in node or "starting_time" in node)


def iter_timeseries(group: h5py.Group) -> Iterator[h5py.Group]:
    """Every TimeSeries under ``group`` (itself included), depth first, in name order."""
    if is_timeseries(group):
        yield group
        return
    for name in member_names(group):
        child = group.get(name)
        if isinstance(child, h5py.Group):
            yield from iter_timeseries(child)


def sample_times(series: h5py.Group, source: str) -> np.ndarray:
    """(n,) float64 time of each sample: ``timestamps``, or ``starting_time + i / rate`` for the data's length."""
    if "timestamps" in series:
        timestamps = numeric_dataset(series["timestamps"], f"{series.name}/timestamps", source, home=series)[()]
        return timestamps.astype(np.float64, copy=False)
    start = numeric_dataset(series["starting_time"], f"{series.name}/starting_time", source, ndim=(0,),
                            home=series)
    rate = _number_attribute(start, "rate", np.nan)
    if not (np.isfinite(rate) and rate > 0) or not np.isfinite(start[()]):
        raise NeurPIRError(f"{series.name} has starting_time {start[()]} and rate {rate}; need finite values and a "
                           "positive rate", source=source)
    n_samples = series["data"].shape[0] if series["data"].ndim else 0
    return float(start[()]) + np.arange(n_samples) / rate


def sample_period(series: h5py.Group, times: np.ndarray) -> float:
    """Seconds per sample: ``1 / rate`` when the series has one, else the median timestamp step (NaN if < 2)."""
    if "starting_time" in series and "timestamps" not in series:
        return 1.0 / _number_attribute(series["starting_time"], "rate", np.nan)
    return float(np.median(np.diff(times))) if times.size > 1 else np.nan


def scaled(series: h5py.Group, values: np.ndarray) -> np.ndarray:
    """Data in the series' unit: ``data * conversion + offset`` (both attributes of ``data``, default 1 and 0)."""
    conversion = _number_attribute(series["data"], "conversion", 1.0)
    offset = _number_attribute(series["data"], "offset", 0.0)
    if conversion == 1.0 and offset == 0.0:
        return values
    return values * np.asarray(conversion, dtype=values.dtype) + np.asarray(offset, dtype=values.dtype)


def _number_attribute(node: h5py.HLObject, name: str, default: float) -> float:
    """A scalar numeric attribute as float, ``default`` when absent or not a finite number."""
    value = node.attrs.get(name)
    if value is None or np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "biuf":
        return default
    value = float(value)
    return value if np.isfinite(value) else default

"""What a modality reader (units, ophys) hands back to ``read_nwb``: activity on a grid plus the neurons' table."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from nwb_neurpir.io.binning import TimeGrid

__all__ = ["LESS_DATA", "NeuronActivity"]

LESS_DATA = ("read fewer neurons (--filter, unit_filter=...), in larger bins (--bin-size, bin_size=...) or, in "
             "Python, a time range (time_range=(start, stop) in seconds)")
"""The settings that make a recording's activity smaller, for errors about memory."""


@dataclass
class NeuronActivity:
    """Activity of the selected neurons on ``grid``; fields mean what the same-named ``Recording`` fields mean."""

    grid: TimeGrid
    activity: np.ndarray
    neuron_ids: np.ndarray
    neuron_table: str
    neuron_metadata: pd.DataFrame
    observed: np.ndarray | None = None
    spike_times: list[np.ndarray] | None = None
    series: str = ""

    def without_bins(self, dropped: np.ndarray) -> NeuronActivity:
        """The activity with the bins where ``dropped`` (n_bins,) is true left out of the grid, for every neuron, and
        the kept spike times that fell in them."""
        kept = ~dropped
        spike_times = None
        if self.spike_times is not None:
            bins = [self.grid.locate(times) for times in self.spike_times]
            spike_times = [times[(where >= 0) & kept[where]] for times, where in zip(self.spike_times, bins)]
        return replace(self, grid=self.grid.restrict(kept), activity=self.activity[:, kept],
                       observed=None if self.observed is None else self.observed[:, kept], spike_times=spike_times)

"""Grids of observed bins, locating times in them and counting/averaging events agree with naive references."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.binning import (
    TimeGrid,
    bin_means,
    bins_inside_windows,
    count_events,
    merge_windows,
    window_grid,
)


def naive_locate(bin_times: np.ndarray, bin_size: float, times: np.ndarray) -> np.ndarray:
    """Last bin holding each time, after the documented snap of a billionth of a bin forward (all pairs compared)."""
    snapped = (times + 1e-9 * bin_size)[:, None]
    holds = (bin_times[None, :] <= snapped) & (snapped < bin_times[None, :] + bin_size)
    last = bin_times.size - 1 - np.argmax(holds[:, ::-1], axis=1)
    return np.where(holds.any(axis=1), last, -1)


def test_window_grid_aligns_bins_to_each_window_and_never_crosses_its_end() -> None:
    grid = window_grid(np.array([[10.0, 10.35], [0.0, 0.2], [0.1, 0.25]]), 0.1)
    # (0, 0.2) and (0.1, 0.25) merge into (0, 0.25): 2 whole bins; (10, 10.35): 3 whole bins
    np.testing.assert_allclose(grid.bin_times, [0.0, 0.1, 10.0, 10.1, 10.2])
    assert grid.bin_size == 0.1


def test_window_grid_keeps_a_bin_when_the_window_end_is_short_by_float_rounding() -> None:
    grid = window_grid(np.array([[0.26940832, 0.26940832 + 0.39999999999997726]]), 0.01)
    assert grid.n_bins == 40


def test_window_grid_time_range_keeps_only_whole_bins_inside() -> None:
    grid = window_grid(np.array([[0.0, 1.0]]), 0.1, time_range=(0.25, 0.75))
    np.testing.assert_allclose(grid.bin_times, [0.3, 0.4, 0.5, 0.6])


def test_window_grid_refuses_absurd_sizes_and_bad_bin_sizes() -> None:
    with pytest.raises(NeurPIRError, match="bins"):
        window_grid(np.array([[0.0, 1e12]]), 0.001, source="x.nwb")
    with pytest.raises(NeurPIRError, match="positive"):
        window_grid(np.array([[0.0, 1.0]]), 0.0)


def test_merge_windows_sorts_merges_and_drops_empty_or_nan() -> None:
    merged = merge_windows(np.array([[5, 6], [0, 2], [1, 3], [4, 4], [np.nan, 9], [3, 3.5]]))
    np.testing.assert_allclose(merged, [[0, 3], [3, 3.5], [5, 6]])


@pytest.mark.parametrize("kind", ["windows", "irregular"])
def test_locate_matches_a_brute_force_search(kind: str) -> None:
    rng = np.random.default_rng(3)
    if kind == "windows":  # regular bins in windows: the cell look-up table is used
        grid = window_grid(np.sort(rng.uniform(0, 50, (30, 2)), axis=1), 0.05)
        assert grid._lookup is not None
    else:  # bins closer than their width (jittered frames): binary search is used
        grid = TimeGrid(np.cumsum(rng.uniform(0.02, 0.05, 400)), 0.04)
        assert grid._lookup is None
    edges = np.concatenate([grid.bin_times, grid.bin_times + grid.bin_size])
    times = np.concatenate([rng.uniform(-1, 55, 3000), edges, np.nextafter(edges, -np.inf), edges - 1e-9,
                            [np.nan, np.inf]])
    np.testing.assert_array_equal(grid.locate(times), naive_locate(grid.bin_times, grid.bin_size, times))


def test_samples_on_computed_bin_edges_land_in_the_bin_they_start() -> None:
    grid = window_grid(np.array([[0.0, 5.0]]), 0.05)
    samples = np.arange(500) / 100.0  # 0.6 lies just below the computed start of bin 12 (0.6000000000000001)
    np.testing.assert_array_equal(grid.locate(samples), np.arange(500) // 5)


def test_count_events_matches_a_naive_count_even_for_unsorted_events() -> None:
    rng = np.random.default_rng(0)
    grid = window_grid(np.array([[0.0, 1.0], [2.0, 2.5]]), 0.05)
    rows = np.repeat(np.arange(4), 200)
    times = rng.uniform(-0.5, 3.0, rows.size)
    rng.shuffle(times[:200])
    cells, counts = count_events(grid.locate(times), rows, grid.n_bins)
    dense = np.zeros(4 * grid.n_bins, dtype=np.int64)
    dense[cells] = counts
    start, stop = grid.bin_times[None, :], grid.bin_times[None, :] + grid.bin_size
    for row in range(4):
        t = times[rows == row][:, None]
        np.testing.assert_array_equal(dense.reshape(4, -1)[row], ((t >= start) & (t < stop)).sum(axis=0))
    assert counts.sum() > 0


def test_bin_means_ignores_nan_and_marks_empty_bins() -> None:
    bins = np.array([0, 0, 2, 2, -1, 2])
    values = np.array([[1.0, 10.0], [3.0, np.nan], [5.0, 1.0], [np.nan, 3.0], [100.0, 100.0], [7.0, 5.0]])
    means, counts = bin_means(bins, values, 3)
    np.testing.assert_allclose(means, [[2.0, 10.0], [np.nan, np.nan], [6.0, 3.0]])
    np.testing.assert_array_equal(counts, [[2, 1], [0, 0], [2, 3]])


def test_bins_inside_windows_marks_bins_wholly_inside() -> None:
    grid = window_grid(np.array([[0.0, 1.0]]), 0.25)
    np.testing.assert_array_equal(bins_inside_windows(grid, np.array([[0.25, 0.8]])), [False, True, True, False])
    assert not bins_inside_windows(grid, np.zeros((0, 2))).any()

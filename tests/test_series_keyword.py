"""``series=`` names what the Python API reads, as ``--series`` does on the command line: a plane's ROI traces for
calcium, a units table for spikes. ``ophys_series=``, its name until 0.2.2, still works with a ``FutureWarning`` and
gives the same result; both at once is a ``TypeError``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reader_files import SECOND_SORTING, copy_of, suite2p_like_file, two_sortings_file

import nwb_neurpir as npir
from nwb_neurpir import io
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.model import train
from nwb_neurpir.recording import Recording
from nwb_neurpir.store import read_embeddings
from nwb_neurpir.testing import tiny_config
from nwb_neurpir.workflows.embedding_export import embed_sources

PLANE1_TRACES = "processing/ophys/Fluorescence/RoiResponseSeriesPlane1"
RENAMED = "ophys_series= is now series="


def _name(value: Any) -> str:  # noqa: ANN401 - a parameter of the tests below
    """A function as ``module.name`` (``npir.open_recordings`` and ``io.open_recordings`` apart), else ``value``."""
    return f"{value.__module__}.{value.__name__}" if callable(value) else str(value)


def test_series_reads_a_second_units_table_and_a_second_imaging_plane(tmp_path: Path) -> None:
    (sorting,) = npir.open_recordings(two_sortings_file(tmp_path), series="units_ms5", progress=False)
    assert (sorting.neuron_table, list(sorting.neuron_ids)) == (SECOND_SORTING, [10, 11, 12, 13])
    (plane,) = npir.open_recordings(suite2p_like_file(tmp_path), series="PlaneSegmentationPlane1", progress=False)
    assert (plane.activity_series, plane.n_neurons) == (PLANE1_TRACES, 3)
    (summary,) = npir.inspect(tmp_path / "suite2p.nwb", series="RoiResponseSeriesPlane1", progress=False).files
    assert (summary["activity_series"], summary["n_neurons"]) == (PLANE1_TRACES, 3)


@pytest.mark.parametrize(("read", "name"), [(npir.open_recordings, "units_ms5"), (io.open_recordings, "units_ms5"),
                                            (io.open_recording, "PlaneSegmentationPlane1"),
                                            (read_nwb, "PlaneSegmentationPlane1")], ids=_name)
def test_the_old_keyword_warns_and_reads_the_same_neurons(tmp_path: Path, read: Callable[..., Any],
                                                          name: str) -> None:
    path = two_sortings_file(tmp_path) if name == "units_ms5" else suite2p_like_file(tmp_path)
    source = [path] if read is io.open_recordings else path
    new = read(source, series=name)
    with pytest.warns(FutureWarning, match=RENAMED) as caught:
        old = read(source, ophys_series=name)
    assert [warning.filename for warning in caught] == [__file__]  # points at the caller's line, once
    new, old = ([result] if isinstance(result, Recording) else list(result) for result in (new, old))
    assert [r.neuron_table for r in old] == [r.neuron_table for r in new] != ["units"]
    for before, after in zip(new, old):
        np.testing.assert_array_equal(after.activity, before.activity)


def test_annotate_with_the_old_keyword_warns_and_stores_the_same_vectors(tmp_path: Path) -> None:
    path = two_sortings_file(tmp_path)
    copy = copy_of(path, tmp_path / "copy")
    train([read_nwb(path, series="units_ms5")], tiny_config(context="none", batch_size=4),
          out_dir=tmp_path / "model", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        npir.annotate(tmp_path / "model", path, series="units_ms5", name="ms5", progress=False)
    with pytest.warns(FutureWarning, match=RENAMED):
        npir.annotate(tmp_path / "model", copy, ophys_series="units_ms5", name="ms5", progress=False)
    new, old = read_embeddings(path, "ms5"), read_embeddings(copy, "ms5")
    assert new.attrs["neuron_table"] == old.attrs["neuron_table"] == SECOND_SORTING
    np.testing.assert_array_equal(np.stack(old["embedding"]), np.stack(new["embedding"]))


@pytest.mark.parametrize("function", [npir.open_recordings, npir.annotate, npir.predict, npir.inspect,
                                      npir.evaluate, embed_sources, read_nwb, io.open_recording, io.open_recordings],
                         ids=_name)
def test_both_keywords_at_once_are_refused(function: Callable[..., Any]) -> None:
    with pytest.raises(TypeError, match=r"got both series= and ophys_series= \(its old name\); give series= only"):
        function("model", "sources", series="units_ms5", ophys_series="units_ms5")

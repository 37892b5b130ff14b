"""The unit filter language selects rows by column values and refuses anything that could run code."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError, NoneSelected
from nwb_neurpir.io import open_recordings
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.unit_filter import filter_mask
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

TABLE = pd.DataFrame({"quality": ["good", "mua", "good", "noise"], "area": ["CA1", "VISp", "root", "CA1"],
                      "snr": [5.0, 1.0, 3.0, 0.5], "depth": [100, 200, 300, 400]})


@pytest.mark.parametrize(("expression", "expected"), [
    ('quality == "good"', [True, False, True, False]),
    ("quality != 'good' and snr > 0.8", [False, True, False, False]),
    ("area in ['CA1', 'VISp']", [True, True, False, True]),
    ("area not in ('root',) & (depth >= 200)", [False, True, False, True]),
    ("150 < depth <= 300", [False, True, True, False]),
    ("not (snr < 2) or area == 'root'", [True, False, True, False]),
    ("~(quality == 'good') | (snr == -1)", [False, True, False, True]),
])
def test_filter_selects_rows(expression: str, expected: list[bool]) -> None:
    np.testing.assert_array_equal(filter_mask(expression, TABLE), expected)


@pytest.mark.parametrize("expression", [
    "__import__('os').system('echo hacked')",
    "quality.str.len() > 2",
    "(lambda: True)()",
    "[x for x in quality]",
    "snr + 1 > 2",
    "quality ==",
])
def test_filter_refuses_code_and_bad_syntax(expression: str) -> None:
    with pytest.raises(NeurPIRError, match="unit filter"):
        filter_mask(expression, TABLE, source="f.nwb")


def test_filter_names_the_columns_when_one_is_unknown() -> None:
    with pytest.raises(NeurPIRError, match="no column 'brain_area'.*quality, area, snr, depth"):
        filter_mask("brain_area == 'CA1'", TABLE)


def test_filter_reports_incomparable_types_and_non_boolean_results() -> None:
    with pytest.raises(NeurPIRError, match="incompatible"):
        filter_mask("quality < 3", TABLE)
    with pytest.raises(NeurPIRError, match="true/false"):
        filter_mask("snr", TABLE)


def test_among_many_files_one_without_a_neuron_passing_the_filter_is_skipped(tmp_path: Path) -> None:
    for session, seed in (("1", 0), ("2", 1)):
        write_nwbfile(make_spikes_nwbfile(n_units=4, duration=5.0, seed=seed, session_id=session, with_context=False),
                      tmp_path / f"sub-m_ses-{session}.nwb")
    with h5py.File(tmp_path / "sub-m_ses-2.nwb", "a") as file:  # every unit of the second session is good
        file["units/quality"][...] = np.array([b"good"] * 4, dtype=object)
    with pytest.warns(UserWarning, match=r"sub-m_ses-2.nwb: no unit passes the filter .*; skipped"):
        (kept,) = open_recordings([tmp_path], progress=False, unit_filter='quality == "mua"')
    assert kept.session_id == "1" and set(kept.neuron_metadata["quality"]) == {"mua"}
    with pytest.raises(NeurPIRError, match="no neuron of any source passes the filter"), pytest.warns(UserWarning):
        list(open_recordings([tmp_path], progress=False, unit_filter="quality == 'noise'"))



def test_a_filter_comparing_text_with_a_number_that_keeps_nothing_says_so(tmp_path: Path) -> None:
    nwbfile = make_spikes_nwbfile(n_units=3, duration=5.0, with_context=False)
    nwbfile.add_unit_column("unit_name", "the sorter's cluster name", data=["7", "12", "40"])
    path = write_nwbfile(nwbfile, tmp_path / "names.nwb")
    with pytest.raises(NoneSelected, match=r"names.nwb: no unit passes the filter 'unit_name == 12' \(3 in the "
                                           r"file\); column 'unit_name' holds text, compared here with a number "
                                           r'\(did you mean unit_name == "12"\?\)'):
        read_nwb(path, unit_filter="unit_name == 12")
    with pytest.raises(NoneSelected, match=r"column 'electrode_id' holds numbers, compared here with text \(did "
                                           r"you mean electrode_id in \[5, 6\]\?\)"):
        read_nwb(path, unit_filter='electrode_id in ["5", "6"]')
    with pytest.raises(NoneSelected, match=r"\(3 in the file\)$"):  # no hint when the types agree
        read_nwb(path, unit_filter='unit_name == "13"')
    assert list(read_nwb(path, unit_filter='unit_name == "12"').neuron_ids) == [1]
    result = CliRunner().invoke(app, ["inspect", str(path), "--filter", "unit_name == 12"])
    assert 'did you mean unit_name == "12"?' in result.output, result.output


def test_a_filter_knows_neuron_id_the_row_id_outputs_name(tmp_path: Path) -> None:
    """``neuron_id`` (the row's id in its table, as the package's outputs call it) is a filter column wherever files
    are read, spikes and calcium, the units table's own ``neuron_id`` column being ``unit_neuron_id``."""
    from nwb_neurpir.testing import make_ophys_nwbfile

    nwbfile = make_spikes_nwbfile(n_units=4, duration=5.0, with_context=False)
    nwbfile.add_unit_column("neuron_id", "the lab's own neuron number", data=[10, 11, 12, 13])
    spikes = write_nwbfile(nwbfile, tmp_path / "spikes.nwb")
    calcium = write_nwbfile(make_ophys_nwbfile(n_rois=5, with_context=False), tmp_path / "calcium.nwb")
    with pytest.warns(UserWarning, match="read as unit_neuron_id"):
        assert list(read_nwb(spikes, unit_filter="neuron_id >= 2").neuron_ids) == [2, 3]
        assert list(read_nwb(spikes, unit_filter="unit_neuron_id == 11").neuron_ids) == [1]
    assert list(read_nwb(calcium, unit_filter="neuron_id in [0, 4]").neuron_ids) == [0, 4]
    with pytest.raises(NeurPIRError, match=r"no column 'nope' \(columns: .*, neuron_id\)"):
        read_nwb(calcium, unit_filter="nope > 1")
    result = CliRunner().invoke(app, ["inspect", str(calcium), "--filter", "neuron_id < 2"])
    assert result.exit_code == 0, result.output
    assert "2 calcium ROIs from" in result.output, result.output

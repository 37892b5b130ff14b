"""A unit's electrode columns as SpikeInterface and neuroconv write them: several electrodes per unit (sparsity) and
an ``electrode_group`` without electrodes; to_pynapple gives the same ``location`` as the readers."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning
from nwb_neurpir.testing import write_nwbfile

LOCATIONS = ["VISp", "VISp", "CA1", "CA1", "LGd", "LGd"]
"""The electrodes' locations; electrodes 0-3 are in group imec0 (location "unknown"), 4-5 in imec1 ("LGd")."""


def probe_file(path: Path, electrodes: list[list[int]] | None) -> Path:
    """One unit per entry of ``electrodes`` (the rows it lists), or, with None, four units with only an
    ``electrode_group`` column (imec0, imec1, imec0, imec1), as neuroconv writes them without electrode indices."""
    from pynwb import NWBFile
    from pynwb.file import Subject

    nwbfile = NWBFile(session_description="probe", identifier=path.stem, session_id=path.stem,
                      session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
                      subject=Subject(subject_id="m1", species="Mus musculus"))
    device = nwbfile.create_device(name="NP", description="Neuropixels")
    groups = [nwbfile.create_electrode_group(name=name, description="shank", location=location, device=device)
              for name, location in (("imec0", "unknown"), ("imec1", "LGd"))]
    for row, location in enumerate(LOCATIONS):
        nwbfile.add_electrode(group=groups[row // 4], location=location)
    rng = np.random.default_rng(0)
    for unit in range(4 if electrodes is None else len(electrodes)):
        listed = {} if electrodes is None else {"electrodes": electrodes[unit]}
        nwbfile.add_unit(spike_times=np.sort(rng.uniform(0, 20, 50)), electrode_group=groups[unit % 2], **listed)
    return write_nwbfile(nwbfile, path)


def test_a_unit_on_several_electrodes_takes_the_location_most_of_them_share(tmp_path: Path) -> None:
    path = probe_file(tmp_path / "sparse.nwb", [[0, 2, 3], [2, 0], [1, 0, 2], [4], [5, 4]])
    with pytest.warns(NWBReadWarning, match=r"sparse.nwb: 3 units are listed on electrodes in more than one "
                                            r"location; each takes the location most of its electrodes share"):
        metadata = read_nwb(path).neuron_metadata
    assert list(metadata["location"]) == ["CA1", "CA1", "VISp", "LGd", "LGd"]
    assert list(metadata["electrode_id"]) == [2, 2, 1, 4, 5]
    assert list(metadata["electrode_group_name"]) == ["imec0"] * 3 + ["imec1"] * 2


def test_units_each_in_one_location_are_read_without_a_warning(tmp_path: Path) -> None:
    path = probe_file(tmp_path / "one_place.nwb", [[0, 1], [4, 5], [2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NWBReadWarning)
        metadata = read_nwb(path).neuron_metadata
    assert list(metadata["location"]) == ["VISp", "LGd", "CA1"]
    assert list(metadata["electrode_id"]) == [0, 4, 2]


def test_without_electrodes_a_unit_takes_its_electrode_groups_name_and_location(tmp_path: Path) -> None:
    path = probe_file(tmp_path / "groups.nwb", None)
    metadata = read_nwb(path).neuron_metadata
    assert list(metadata["electrode_group_name"]) == ["imec0", "imec1", "imec0", "imec1"]
    assert list(metadata["location"]) == ["unknown", "LGd", "unknown", "LGd"]
    chosen = read_nwb(path, unit_filter='electrode_group_name == "imec1"')
    assert list(chosen.neuron_ids) == [1, 3]


def test_to_pynapple_gives_the_location_the_readers_give(tmp_path: Path) -> None:
    pytest.importorskip("pynapple")
    import nwb_neurpir as npir

    path = probe_file(tmp_path / "sparse.nwb", [[2, 3], [4], [1, 0]])
    locations = list(npir.to_pynapple(path).metadata["location"])
    assert locations == list(read_nwb(path).neuron_metadata["location"]) == ["CA1", "LGd", "VISp"]
    # pynapple's own location is the electrode group's: "unknown", "LGd", "unknown"

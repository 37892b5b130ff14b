"""Small simulated datasets and a tiny training config shared by the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from nwb_neurpir.simulate.nwb_output import write_dataset
from nwb_neurpir.testing import tiny_config, tiny_population

TINY = tiny_config()
"""Trains in about a second: enough to exercise the pipeline, not to learn anything."""


def simulated_folder(tmp_path_factory: pytest.TempPathFactory, seed: int, name: str = "simulated") -> Path:
    """3 animals x 1 session x 25 neurons (5 per cell type) x 20 s of simulated spikes, written as NWB files."""
    folder = tmp_path_factory.mktemp(name)
    write_dataset(folder, tiny_population(seed), modality="spikes", progress=False)
    return folder


def cluster_id(row: int) -> str:
    """The Phy cluster id ``phy_folder`` gives the unit in row ``row``: not its row id, though some coincide."""
    return str(3 * row + 2)


def phy_folder(tmp_path_factory: pytest.TempPathFactory, seed: int) -> Path:
    """The animals of ``simulated_folder`` written by pynwb as Kilosort+Phy exports (SpikeInterface, neuroconv) are:
    each unit's Phy cluster id (``cluster_id``) in a text ``unit_name`` column."""
    from pynwb import NWBHDF5IO

    from nwb_neurpir.simulate.nwb_output import dandi_path, spikes_nwbfile
    from nwb_neurpir.simulate.population import iter_sessions

    folder = tmp_path_factory.mktemp("phy")
    for session in iter_sessions(tiny_population(seed), progress=False):
        nwbfile = spikes_nwbfile(session)
        nwbfile.units.add_column("unit_name", "unique reference for each unit (Phy cluster id)",
                                 data=[cluster_id(row) for row in range(len(nwbfile.units))])
        path = dandi_path(folder, session.subject_id, session.session_id, "spikes")
        path.parent.mkdir(parents=True, exist_ok=True)
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile)
    return folder


def set_text(path: Path, dataset: str, value: str | None) -> None:
    """Replace (or, with ``None``, delete) a scalar text dataset such as ``general/subject/subject_id``."""
    import h5py

    with h5py.File(path, "a") as file:
        if dataset in file:
            del file[dataset]
        if value is not None:
            file.create_dataset(dataset, data=value, dtype=h5py.string_dtype("utf-8"))


def add_unit_column(path: Path, name: str, values: list[str]) -> None:
    """Add a text column to the file's units table, as another tool writing NWB would."""
    import uuid

    import h5py
    import numpy as np

    with h5py.File(path, "a") as file:
        units = file["units"]
        column = units.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype("utf-8"))
        column.attrs.update(description=name, namespace="hdmf-common", neurodata_type="VectorData",
                            object_id=str(uuid.uuid4()))
        names = [c.decode() if isinstance(c, bytes) else str(c) for c in units.attrs["colnames"]]
        units.attrs["colnames"] = np.array([*names, name], dtype=object)


def rendered(markdown: str) -> str:
    """``markdown`` as it renders: its backslash escapes resolved (report.md escapes the data it shows)."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown)

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


def set_text(path: Path, dataset: str, value: str | None) -> None:
    """Replace (or, with ``None``, delete) a scalar text dataset such as ``general/subject/subject_id``."""
    import h5py

    with h5py.File(path, "a") as file:
        if dataset in file:
            del file[dataset]
        if value is not None:
            file.create_dataset(dataset, data=value, dtype=h5py.string_dtype("utf-8"))


"""Annotating a copy of the shared real human MTL file (NWB 2.4): plain pynwb reads the embeddings back in a clean
process, our objects validate and pass nwbinspector, and nothing that was in the file changes.

``pynwb.validate(path)`` and ``nwbinspector.inspect_nwbfile(path)`` cannot be used on this file, before or after
annotation: its cached ``hdmf-common`` 1.5.0 namespace names an ``experimental.yaml`` that was never cached, and
loading the cached namespaces raises KeyError. So the objects we add are validated against the ndx-neurpir spec
directly, and nwbinspector runs on the NWBFile as pynwb reads it.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from hdmf.validate import ValidatorMap
from nwbinspector import inspect_nwbfile_object, load_config
from pynwb import NWBHDF5IO

from nwb_neurpir.store import read_embeddings, write_embeddings
from store_helpers import PROVENANCE, h5_contents, read_in_clean_process, serious_messages_about_ours, vectors

pytestmark = pytest.mark.shared_data


@pytest.fixture()
def human_copy(human_mtl_file: Path, tmp_path: Path) -> Path:
    path = Path(shutil.copyfile(human_mtl_file, tmp_path / human_mtl_file.name))
    path.chmod(0o644)
    return path


@pytest.mark.slow
def test_annotated_human_file_reads_back_validates_and_keeps_the_rest(human_copy: Path) -> None:
    with h5py.File(human_copy, "r") as file:
        unit_ids = file["units/id"][()]
    matrix = vectors(unit_ids.size, dim=16, seed=7)
    before = h5_contents(human_copy)
    write_embeddings(human_copy, unit_ids, matrix, PROVENANCE)

    seen = read_in_clean_process(human_copy, "neurpir", "NeurPIREmbeddings")
    assert seen["loaded"] == [] and seen["type"] == "NeuronEmbeddings"
    np.testing.assert_array_equal(np.array(seen["embedding"], dtype=np.float32), matrix)
    assert seen["target"] == "units"
    assert np.array(seen["target_ids"])[seen["rows"]].tolist() == unit_ids.tolist()
    assert seen["training_data"] == list(PROVENANCE.training_data)
    assert seen["hyperparameters"] == PROVENANCE.hyperparameters

    frame = read_embeddings(human_copy)
    assert set(frame["location"]) == {"hippocampus_right", "amygdala_right"}

    after = h5_contents(human_copy)
    assert [name for name in before if after[name] != before[name]] == []
    with h5py.File(human_copy, "r") as file:
        assert file.attrs["nwb_version"] == "2.4.0"
        assert {name: list(file["specifications"][name]) for name in file["specifications"]} == {
            "core": ["2.4.0"], "hdmf-common": ["1.5.0"], "ndx-neurpir": ["0.2.4"]}

    with warnings.catch_warnings(), NWBHDF5IO(str(human_copy), "r") as io:
        warnings.simplefilter("ignore")  # the file's own OpticalSeries warnings
        validator = ValidatorMap(io.manager.namespace_catalog.get_namespace("ndx-neurpir"))
        module = io.read_builder()["processing"]["neurpir"]
        assert sorted(module.groups) == ["NeurPIREmbeddings", "NeurPIREmbeddings_model"]
        assert [error for name in module.groups for error in validator.validate(module[name])] == []
        messages = list(inspect_nwbfile_object(io.read(), config=load_config("dandi")))
    assert serious_messages_about_ours(messages) == []
    assert any("neurpir" in str(message.object_name) for message in messages)  # the inspector did look at them

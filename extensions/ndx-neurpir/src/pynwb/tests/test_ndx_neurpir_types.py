"""The generated ndx-neurpir classes: construction, and a write/read round trip through pynwb that validates."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hdmf.common import DynamicTable, DynamicTableRegion, VectorData
from pynwb import NWBHDF5IO, NWBFile, get_type_map, validate

from ndx_neurpir import NAMESPACE, NeurPIRModel, NeurPIRProbe, NeurPIRSource, NeuronEmbeddings, NeuronPredictions

CREATED = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


def _model_arguments(name: str = "model") -> dict:
    return {"name": name, "description": "test model", "package_version": "0.1.0", "checkpoint_sha256": "0" * 64,
            "created": CREATED, "hyperparameters": '{"dim":4}', "training_data": ["asset-a", "asset-b"]}


def _model(name: str = "model") -> NeurPIRModel:
    return NeurPIRModel(**_model_arguments(name))


def _nwbfile_with_embeddings(n_neurons: int = 5, dim: int = 4) -> tuple[NWBFile, np.ndarray]:
    nwbfile = NWBFile(session_description="types test", identifier="types-test", session_start_time=CREATED)
    for index in range(n_neurons):
        nwbfile.add_unit(spike_times=[0.1 * (index + 1)])
    vectors = np.arange(n_neurons * dim, dtype=np.float32).reshape(n_neurons, dim)
    model = _model()
    rows = DynamicTableRegion(name="neurons", data=list(range(n_neurons)), description="unit rows",
                              table=nwbfile.units)
    embedding = VectorData(name="embedding", data=vectors, description="embedding vectors")
    table = NeuronEmbeddings(name="embeddings", description="test embeddings", model=model,
                             columns=[rows, embedding], id=list(range(n_neurons)))
    module = nwbfile.create_processing_module("neurpir", "NeurPIR embeddings")
    module.add(model)
    module.add(table)
    return nwbfile, vectors


def test_constructor_exposes_spec_fields() -> None:
    model = _model()
    assert model.checkpoint_sha256 == "0" * 64
    assert list(model.training_data) == ["asset-a", "asset-b"]
    assert [(column["name"], column["required"]) for column in NeuronEmbeddings.__columns__] == [
        ("neurons", True), ("embedding", True), ("silent", False)]
    source = NeurPIRSource(name="source", identifier="abc", location="/x.nwb", neuron_table="units")
    assert source.asset_id is None


def test_created_takes_a_datetime_or_iso_text_and_holds_text_with_an_offset() -> None:
    assert _model().created == "2025-03-01T09:30:00+00:00"
    assert NeurPIRModel(**{**_model_arguments(), "created": "2025-03-01T10:30:00+01:00"}).created == (
        "2025-03-01T10:30:00+01:00")
    naive = NeurPIRModel(**{**_model_arguments(), "created": datetime(2025, 3, 1, 9, 30)}).created
    assert datetime.fromisoformat(naive) == datetime(2025, 3, 1, 9, 30).astimezone()  # local time, offset written
    with pytest.raises(TypeError, match="created"):
        NeurPIRModel(**{**_model_arguments(), "created": 1740821400})


def test_embeddings_table_requires_its_model() -> None:
    with pytest.raises(TypeError):
        NeuronEmbeddings(name="embeddings", description="no model")


def _written_and_valid(nwbfile: NWBFile, path: Path) -> str:
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    assert validate(path=str(path)) == []
    return str(path)


def test_round_trip_validates(tmp_path: Path) -> None:
    nwbfile, vectors = _nwbfile_with_embeddings()
    with NWBHDF5IO(_written_and_valid(nwbfile, tmp_path / "types.nwb"), "r") as io:
        table = io.read().processing["neurpir"]["embeddings"]
        assert isinstance(table, NeuronEmbeddings)
        np.testing.assert_array_equal(table["embedding"].data[:], vectors)
        assert table.neurons.table.name == "units"
        assert table.model.created == CREATED.isoformat()  # text, as it is stored
        assert table.model.hyperparameters == '{"dim":4}'


def test_the_optional_silent_column_round_trips_and_validates(tmp_path: Path) -> None:
    nwbfile, _ = _nwbfile_with_embeddings(n_neurons=3)
    table = nwbfile.processing["neurpir"]["embeddings"]
    table.add_column(name="silent", description="no activity", data=[False, True, False])
    with NWBHDF5IO(_written_and_valid(nwbfile, tmp_path / "silent.nwb"), "r") as io:
        table = io.read().processing["neurpir"]["embeddings"]
        assert table["silent"].data[:].tolist() == [False, True, False]
        assert table["silent"].data.dtype == bool


def test_region_may_target_any_dynamic_table(tmp_path: Path) -> None:
    nwbfile = NWBFile(session_description="sidecar-like", identifier="sidecar-like", session_start_time=CREATED)
    labels = DynamicTable(name="labels", description="label columns copied from a source table", id=[7, 9])
    labels.add_column(name="brain_area", description="area", data=["CA1", "VISp"])
    model = _model()
    table = NeuronEmbeddings(
        name="embeddings", description="embeddings of a sidecar", model=model,
        columns=[DynamicTableRegion(name="neurons", data=[0, 1], description="label rows", table=labels),
                 VectorData(name="embedding", data=np.ones((2, 3), dtype=np.float32), description="vectors")],
        source_file=NeurPIRSource(name="source", identifier="src", location="dandi://x", neuron_table="units",
                                  asset_id="abc"),
        id=[7, 9],
    )
    module = nwbfile.create_processing_module("neurpir", "NeurPIR embeddings")
    for container in (labels, model, table.source_file, table):
        module.add(container)
    with NWBHDF5IO(_written_and_valid(nwbfile, tmp_path / "sidecar.nwb"), "r") as io:
        table = io.read().processing["neurpir"]["embeddings"]
        assert table.source_file.asset_id == "abc"
        assert list(table.neurons.table["brain_area"].data[:]) == ["CA1", "VISp"]


def _probe() -> NeurPIRProbe:
    return NeurPIRProbe(name="probe", description="test probe", kind="logistic", label="cell_type", grouping="",
                        package_version="0.1.0", checkpoint_sha256="1" * 64, cross_animal_accuracy=0.5,
                        class_names=["FS", "RS"], training_data=["a.nwb", "b.nwb"])


def test_predictions_round_trip_validates(tmp_path: Path) -> None:
    nwbfile, _ = _nwbfile_with_embeddings(n_neurons=3)
    model = nwbfile.processing["neurpir"]["model"]
    probe = _probe()
    probability = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    table = NeuronPredictions(
        name="predicted_cell_type", description="predicted cell types", model=model, probe=probe, id=[0, 1, 2],
        columns=[DynamicTableRegion(name="neurons", data=[0, 1, 2], description="unit rows", table=nwbfile.units),
                 VectorData(name="label", data=["FS", "RS", "FS"], description="predicted class"),
                 VectorData(name="probability", data=probability, description="class probabilities")])
    nwbfile.processing["neurpir"].add(probe)
    nwbfile.processing["neurpir"].add(table)
    with NWBHDF5IO(_written_and_valid(nwbfile, tmp_path / "predictions.nwb"), "r") as io:
        table = io.read().processing["neurpir"]["predicted_cell_type"]
        assert isinstance(table, NeuronPredictions) and isinstance(table.probe, NeurPIRProbe)
        assert list(table["label"].data[:]) == ["FS", "RS", "FS"]
        np.testing.assert_array_equal(table["probability"].data[:], probability)
        assert list(table.probe.class_names[:]) == ["FS", "RS"]
        assert table.probe.cross_animal_accuracy == 0.5
        assert table.model.name == "model"


OLD_VERSIONS = sorted((Path(__file__).parent / "old_versions").glob("ndx-neurpir-*.nwb"))
"""The kept files of earlier versions. None (a copy of the project without them) fails the tests' collection: the
project's pytest settings make an empty parameter set an error."""


def test_the_spec_is_a_version_after_every_kept_file() -> None:
    """A spec change bumps the namespace version after keeping a file of the version before (README)."""
    from packaging.version import Version

    current = Version(get_type_map().namespace_catalog.get_namespace(NAMESPACE).version)
    kept = [Version(path.stem.removeprefix("ndx-neurpir-")) for path in OLD_VERSIONS]
    assert kept and all(version < current for version in kept), (current, kept)


@pytest.mark.parametrize("path", OLD_VERSIONS, ids=[path.stem for path in OLD_VERSIONS])
def test_files_of_earlier_versions_still_read(path: Path) -> None:
    with NWBHDF5IO(str(path), "r") as io:
        table = io.read().processing["neurpir"]["NeurPIREmbeddings"]
        assert isinstance(table, NeuronEmbeddings)
        np.testing.assert_array_equal(table["embedding"].data[:], np.arange(24, dtype=np.float32).reshape(6, 4) / 10)
        assert table.model.checkpoint_sha256 == "cd" * 32
        assert table.model.created == "2026-12-03T00:00:00+00:00"  # the stored ISO text, also where it was isodatetime
    assert validate(path=str(path)) == []

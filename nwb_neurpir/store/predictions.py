"""``write_predictions``: add a ``NeuronPredictions`` table (predicted label and class probabilities per neuron), its
``NeurPIRProbe`` and ``NeurPIRModel`` to an NWB file or a sidecar, atomically and under the file's lock.

The same steps as ``write_embeddings``: copy to a temporary file next to the target (dropping an older table of the
same name when ``overwrite``), append, verify by reading back, ``os.replace``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store.append import append_objects, replaceable_objects
from nwb_neurpir.store.atomic import is_writable, staged_replace
from nwb_neurpir.store.checks import checked_name, locate_neurons
from nwb_neurpir.store.containers import model_container, model_name
from nwb_neurpir.store.read import read_predictions
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, _fresh_copy, earlier_copy_or

__all__ = ["ProbeProvenance", "predictions_name", "write_predictions"]


@dataclass(frozen=True)
class ProbeProvenance:
    """The probe behind predicted labels: what it predicts, from which files, how well on animals it never saw."""

    kind: str
    label: str
    class_names: list[str]
    training_data: list[str]
    """The labelled, annotated files the probe was fitted on."""
    checkpoint_sha256: str
    """sha256 of the saved probe's manifest."""
    grouping: dict[str, Any] | None = None
    cross_animal_accuracy: float | None = None
    """Leave-one-animal-out balanced accuracy measured when the probe was fitted (None with a single animal)."""
    description: str = "Probe fitted on NeurPIR embeddings of labelled neurons."
    package_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predictions_name(label: str) -> str:
    """Default name of the table of predictions of ``label``: ``predicted_<label>``."""
    return f"predicted_{label}"


def write_predictions(
    path: str | Path,
    neuron_ids: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    probe: ProbeProvenance,
    model: ModelProvenance,
    *,
    neuron_table: str | None = None,
    name: str | None = None,
    module: str = DEFAULT_MODULE,
    overwrite: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: bool = True,
    output: str | Path | None = None,
) -> Path:
    """Store each neuron's class probabilities (columns in ``probe.class_names`` order) and its most probable class
    in the NWB file at ``path`` -- in place, or in a copy written to ``output`` -- as ``processing/<module>/<name>``
    (default ``predicted_<label>``).

    ``neuron_table`` is the HDF5 path of the table whose ids are ``neuron_ids`` (``None``: the Units table or
    PlaneSegmentation holding them; a sidecar's label table must be named). An earlier copy of the same recording at
    ``output`` gets the table added. Returns the written path.
    """
    source = Path(path)
    name = checked_name(name or predictions_name(probe.label), "predictions", source)
    checked_name(module, "processing module", source)
    ids, probability = _checked(neuron_ids, probabilities, probe, source)
    with open_nwb(source):
        pass  # not found / not HDF5 / not NWB: said before any lock file is made
    in_place = output is None or Path(output).resolve() == source.resolve()
    target = source.resolve() if in_place else Path(output)
    if in_place and not is_writable(target):
        raise NeurPIRError("file is read-only; write predictions into a sidecar file", source=source)
    labels = np.asarray(probe.class_names, dtype=object)[probability.argmax(axis=1)].astype(str)
    with staged_replace(target, lock_timeout) as staging:
        base = earlier_copy_or(source, target, in_place)
        with open_nwb(base) as file:
            table_path, rows = locate_neurons(file, ids, neuron_table, base)
            stale = replaceable_objects(file, module, {name: "NeuronPredictions", model_name(name): "NeurPIRModel",
                                                       probe_name(name): "NeurPIRProbe"}, "NeurPIR predictions", base)
        if stale and not overwrite:
            raise NeurPIRError(f"already has predictions named '{name}' in processing/{module}; use --overwrite "
                               "(overwrite=True) to replace them", source=base)
        work = _fresh_copy(staging, base, stale, progress)
        append_objects(work, table_path, module,
                       lambda table: _containers(name, ids, rows, labels, probability, table, probe, model), source)
        written = read_predictions(work, f"{module}/{name}")
        if not (np.array_equal(written["neuron_id"].to_numpy(), ids) and list(written["label"]) == list(labels)
                and np.array_equal(np.stack(written["probability"].to_numpy()), probability)):
            raise NeurPIRError("the predictions read back differ from those written; the file was left unchanged",
                               source=source)
        staging.commit(work)
    return source if in_place else target


def _checked(neuron_ids: Sequence[int] | np.ndarray, probabilities: np.ndarray, probe: ProbeProvenance,
             source: Path) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(neuron_ids)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu" or np.unique(ids).size != ids.size:
        raise NeurPIRError("neuron ids must be a non-empty list of distinct integers", source=source)
    probability = np.asarray(probabilities, dtype=np.float32)
    if probability.shape != (ids.size, len(probe.class_names)):
        raise NeurPIRError(f"probabilities have shape {probability.shape}, expected ({ids.size}, "
                           f"{len(probe.class_names)}) for {ids.size} neurons and classes {probe.class_names}",
                           source=source)
    if not np.all(np.isfinite(probability)):
        raise NeurPIRError("probabilities contain NaN or infinite values", source=source)
    return ids.astype(np.int64), probability


def probe_name(predictions: str) -> str:
    """Name of the ``NeurPIRProbe`` next to the predictions called ``predictions``."""
    return f"{predictions}_probe"


def _containers(name: str, ids: np.ndarray, rows: np.ndarray, labels: np.ndarray, probability: np.ndarray,
                target: Any, probe: ProbeProvenance, provenance: ModelProvenance) -> list[Any]:
    from hdmf.common import DynamicTableRegion, VectorData
    from ndx_neurpir import NeurPIRProbe, NeuronPredictions

    model = model_container(provenance, name)
    optional: dict[str, Any] = {}
    if probe.cross_animal_accuracy is not None:
        optional["cross_animal_accuracy"] = probe.cross_animal_accuracy
    if probe.grouping:
        optional["grouping"] = json.dumps(probe.grouping, sort_keys=True)
    probe_object = NeurPIRProbe(
        name=probe_name(name), description=probe.description, kind=probe.kind, label=probe.label, package_version=probe.package_version, checkpoint_sha256=probe.checkpoint_sha256,
        class_names=list(probe.class_names), training_data=list(probe.training_data), **optional)
    table = NeuronPredictions(
        name=name,
        description=(f"{probe.label} of {ids.size} neurons of '{target.name}' predicted by the {probe.kind} probe "
                     f"'{probe_object.name}' from their NeurPIR embeddings (model '{model.name}')."),
        model=model, probe=probe_object, id=ids,
        columns=[
            DynamicTableRegion(name="neurons", data=rows, table=target,
                               description=f"Row of each neuron in the table '{target.name}'."),
            VectorData(name="label", data=labels.tolist(), description=f"Predicted {probe.label} (most probable class)."),
            VectorData(name="probability", data=probability,
                       description=f"Probability of each class, in the order of {probe_object.name}.class_names."),
        ],
    )
    return [model, probe_object, table]

"""``write_predictions``: add a ``NeuronPredictions`` table (predicted label and class probabilities per neuron), its
``NeurPIRProbe`` and ``NeurPIRModel`` to an NWB file or a sidecar, atomically and under the file's lock.

The same steps as ``write_embeddings``: copy to a temporary file next to the target (dropping an older table of the
same name when ``overwrite``), append, verify by reading back, ``os.replace``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.followed_links import resolved_for_writing
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store.append import append_objects, replaceable_objects
from nwb_neurpir.store.atomic import is_writable, staged_replace
from nwb_neurpir.store.checks import checked_name, locate_neurons
from nwb_neurpir.store.containers import model_container, model_name
from nwb_neurpir.store.read import AnnotatedRecording, annotated_recording, read_predictions
from nwb_neurpir.store.write import DEFAULT_LOCK_TIMEOUT, DEFAULT_MODULE, _fresh_copy, earlier_copy_or

__all__ = ["ProbeProvenance", "predictions_name", "write_predictions"]


@dataclass(frozen=True)
class ProbeProvenance:
    """The probe behind predicted labels: what it reads and predicts, from which recordings, how well on animals it
    never saw. ``from_record`` makes it from a saved probe's ``probe.json``."""

    kind: str
    label: str
    class_names: list[str]
    training_data: list[str]
    """The labelled recordings the probe was fitted on: DANDI asset IDs or NWB identifiers (as a model names its
    training data)."""
    checkpoint_sha256: str
    """sha256 of the saved probe's manifest."""
    grouping: dict[str, Any] | None = None
    cross_animal_accuracy: float | None = None
    """Leave-one-animal-out balanced accuracy measured when the probe was fitted (None with a single animal)."""
    inputs: str | None = None
    """``neurpir`` (the embeddings) or ``neurpir+hand`` (and the hand features, by late fusion)."""
    training_subjects: list[str] | None = None
    """Animal of each recording of ``training_data`` ("" where unknown)."""
    training_sessions: list[str] | None = None
    """Session id of each recording of ``training_data`` ("" where unknown)."""
    class_counts: dict[str, int] | None = None
    """Labelled training neurons per class."""
    fold_accuracy: dict[str, float] | None = None
    """Balanced accuracy per held-out animal (the folds behind ``cross_animal_accuracy``)."""
    hand_features: list[str] | None = None
    labels_file_sha256: str | None = None
    """sha256 of the labels file that replaced the training files' labels, when one was used."""
    description: str = "Probe fitted on NeurPIR embeddings of labelled neurons."
    package_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], checkpoint_sha256: str,
                    recordings: Sequence[AnnotatedRecording] | None = None) -> ProbeProvenance:
        """The provenance of a probe from its ``probe.json`` (``record``) and checksum. The training files it lists
        are named by their recordings (``recordings``, one per file, else read from the files by ``annotated_recording``: asset ID or NWB
        identifier, animal, session; a file that cannot be read is named by its file name); what an older probe did
        not record is left out."""
        inputs = str(record.get("inputs") or "neurpir")  # probes of format 1, without the key, read the vectors alone
        kind, label = str(record["kind"]), str(record["label"])
        if recordings is None:
            recordings = [annotated_recording(str(path)) for path in record["training_data"]]
        reads = "NeurPIR embeddings and hand features (late fusion)" if inputs == "neurpir+hand" else \
            "NeurPIR embeddings"
        return cls(
            kind=kind, label=label, class_names=[str(name) for name in record["classes"]],
            training_data=[recording.name for recording in recordings], checkpoint_sha256=checkpoint_sha256,
            grouping=record.get("grouping"), cross_animal_accuracy=record.get("cross_animal_accuracy"), inputs=inputs,
            training_subjects=[recording.subject_id for recording in recordings],
            training_sessions=[recording.session_id for recording in recordings],
            class_counts=record.get("class_counts") or None, fold_accuracy=record.get("fold_accuracy") or None,
            hand_features=record.get("hand_columns") or None, labels_file_sha256=record.get("labels_file_sha256"),
            package_version=str(record.get("package_version", __version__)), created=str(record["created"]),
            description=(f"{kind} probe predicting {label} from {reads}, fitted on {record['n_training_neurons']} "
                         f"labelled neurons of {len(recordings)} files."))


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
    target = resolved_for_writing(source) if in_place else Path(output)
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
    for name in ("training_subjects", "training_sessions"):
        values = getattr(probe, name)
        if values is not None and len(values) != len(probe.training_data):
            raise NeurPIRError(f"the probe's {name} has {len(values)} entries for {len(probe.training_data)} "
                               "training recordings", source=source)
    return ids.astype(np.int64), probability


def probe_name(predictions: str) -> str:
    """Name of the ``NeurPIRProbe`` next to the predictions called ``predictions``."""
    return f"{predictions}_probe"


def _containers(name: str, ids: np.ndarray, rows: np.ndarray, labels: np.ndarray, probability: np.ndarray,
                target: Any, probe: ProbeProvenance, provenance: ModelProvenance) -> list[Any]:
    from hdmf.common import DynamicTableRegion, VectorData
    from ndx_neurpir import NeurPIRProbe, NeuronPredictions

    model = model_container(provenance, name)
    probe_object = NeurPIRProbe(
        name=probe_name(name), description=probe.description, kind=probe.kind, label=probe.label,
        package_version=probe.package_version, checkpoint_sha256=probe.checkpoint_sha256,
        class_names=list(probe.class_names), training_data=list(probe.training_data), **_recorded(probe))
    table = NeuronPredictions(
        name=name,
        description=(f"{probe.label} of {ids.size} neurons of '{target.name}' predicted by the probe "
                     f"'{probe_object.name}' from embeddings of the model '{model.name}'. The probe: "
                     f"{probe.description}"),
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


def _recorded(probe: ProbeProvenance) -> dict[str, Any]:
    """The optional ``NeurPIRProbe`` fields, for what the probe records (the others are left out)."""
    folds = probe.fold_accuracy or {}
    fields: dict[str, Any] = {
        "cross_animal_accuracy": probe.cross_animal_accuracy,
        "grouping": json.dumps(probe.grouping, sort_keys=True) if probe.grouping else None,
        "inputs": probe.inputs, "labels_file_sha256": probe.labels_file_sha256,
        "training_subjects": probe.training_subjects, "training_sessions": probe.training_sessions,
        "class_counts": None if probe.class_counts is None else np.array(
            [probe.class_counts.get(name, 0) for name in probe.class_names], dtype=np.int64),
        "held_out_subjects": list(folds) or None,
        "held_out_accuracy": np.array(list(folds.values()), dtype=np.float64) if folds else None,
        "hand_features": probe.hand_features}
    return {key: value for key, value in fields.items() if value is not None}

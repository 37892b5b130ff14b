"""``read_embeddings`` / ``read_predictions``: the embeddings (or predicted labels) of an annotated NWB file or a
sidecar as a pandas DataFrame.

Read with h5py (fast, and independent of pynwb's object mapping): the ``NeuronEmbeddings`` (``NeuronPredictions``)
table, the rows of the source table it points at, and, for embeddings, that table's one-value-per-row columns (for
units also the electrode ``location``). Nothing stored outside the file (``stored_outside``) is read: such a table
is not one of ours, such a part of one a ``NeurPIRError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import OUTSIDE, decode_text, object_path, region_target, stored_outside, table_ids
from nwb_neurpir.input_files import parse_json
from nwb_neurpir.io.nwb_file import open_nwb
from nwb_neurpir.io.ophys import roi_metadata
from nwb_neurpir.io.units import unit_metadata

__all__ = ["AnnotatedRecording", "annotated_recording", "embedded_during", "list_embeddings", "list_predictions",
           "neuron_table_of", "read_embeddings", "read_predictions", "source_labels", "stored_tables", "tables_named"]

_KINDS = {"NeuronEmbeddings": ("embeddings", "embedding tables"),
          "NeuronPredictions": ("predictions", "prediction tables")}
_PICK_BY_NAME = {"NeuronEmbeddings": "pick one by name (name=, or --embeddings on the command line)",
                 "NeuronPredictions": "pick one by name (name=)"}


def list_embeddings(path: str | Path) -> list[str]:
    """Names (``module/name``) of the ``NeuronEmbeddings`` tables in the NWB file at ``path``."""
    with open_nwb(path) as file:
        return sorted(_typed_groups(file, "NeuronEmbeddings"))


def list_predictions(path: str | Path) -> list[str]:
    """Names (``module/name``) of the ``NeuronPredictions`` tables in the NWB file at ``path``."""
    with open_nwb(path) as file:
        return sorted(_typed_groups(file, "NeuronPredictions"))


def stored_tables(file: h5py.File) -> dict[str, list[dict[str, Any]]]:
    """What an open NWB file holds of ours, for ``inspect``: per embedding table its ``name`` (``module/name``),
    ``model_sha256`` (short), ``created`` (when the model was made), ``n_neurons``, ``n_silent`` (marked silent)
    and ``neuron_table`` (the path of the table whose neurons they are; "" when it cannot be told); per prediction
    table also its ``label`` and ``probe``."""
    embeddings = [{**_table_summary(key, group), "during": _made_during(group)}
                  for key, group in sorted(_typed_groups(file, "NeuronEmbeddings").items())]
    predictions = []
    for key, group in sorted(_typed_groups(file, "NeuronPredictions").items()):
        probe = _member(group, "probe")
        attrs = probe.attrs if isinstance(probe, h5py.Group) else {}
        predictions.append({**_table_summary(key, group), "label": decode_text(attrs.get("label")) or "",
                            "probe": decode_text(attrs.get("kind")) or ""})
    return {"embeddings": embeddings, "predictions": predictions}


def _table_summary(key: str, group: h5py.Group) -> dict[str, Any]:
    """Name, model checksum (first 12 characters), when the model was made, and neurons (how many, how many of them
    marked ``silent``, of which table) of one of our tables."""
    model = _member(group, "model")
    attrs = model.attrs if isinstance(model, h5py.Group) else {}
    ids = group.get("id")
    silent = _member(group, "silent")
    return {"name": key, "model_sha256": (decode_text(attrs.get("checkpoint_sha256")) or "")[:12],
            "created": decode_text(attrs.get("created")) or "",
            "n_neurons": int(ids.shape[0]) if isinstance(ids, h5py.Dataset) else 0,
            "n_silent": int(np.count_nonzero(silent[()])) if isinstance(silent, h5py.Dataset) else 0,
            "neuron_table": neuron_table_of(group) or ""}


def _made_during(table: h5py.Group) -> str | None:
    """The ``--during`` one of our tables' vectors were made with, as its model's hyperparameters record it (None:
    all the observed time, or not readable)."""
    try:
        hyperparameters = _model(table)["hyperparameters"]
    except (KeyError, NeurPIRError):
        return None
    return embedded_during(hyperparameters) if isinstance(hyperparameters, dict) else None


def embedded_during(hyperparameters: dict[str, Any]) -> str | None:
    """The ``--during`` vectors were made with, as their model's ``hyperparameters`` record it (``embedding``:
    ``during``); None for vectors of all the observed time."""
    selection = hyperparameters.get("embedding")
    recorded = selection.get("during") if isinstance(selection, dict) else None
    return str(recorded) if recorded else None


def _member(table: h5py.Group, path: str) -> h5py.HLObject | None:
    """The node at ``path`` below one of our tables, None when there is none; a ``NeurPIRError`` naming the file
    when it is ``stored_outside`` it."""
    node = table.get(path)
    if node is not None and stored_outside(node, table):
        raise NeurPIRError(f"{object_path(table)}/{path} {OUTSIDE}; it is not read", source=table.file.filename)
    return node


def _values(table: h5py.Group, path: str) -> np.ndarray:
    """The whole dataset at ``path`` below one of our tables (``_member``); a KeyError when there is none."""
    node = _member(table, path)
    if node is None:
        raise KeyError(f"{path} is missing")
    return node[()]


def neuron_table_of(group: h5py.Group) -> str | None:
    """The path of the neuron table whose neurons one of our tables (``group``) holds (for a sidecar, the table of
    its source file); None when it cannot be told."""
    region = group.get("neurons")
    if not isinstance(region, h5py.Dataset):
        return None
    try:
        return source_table_of(region_target(region, group.file.filename))
    except NeurPIRError:
        return None


def source_table_of(target: h5py.Group) -> str:
    """The path of the neuron table whose neurons the rows of ``target`` are: ``target``'s own path, or for a
    sidecar's copy of a source's neurons, the ``neuron_table`` its module's ``NeurPIRSource`` records."""
    parent = target.parent
    recorded = {decode_text(node.attrs.get("neuron_table")) for node in parent.values()
                if isinstance(node, h5py.Group) and decode_text(node.attrs.get("neurodata_type")) == "NeurPIRSource"}
    recorded.discard(None)
    recorded.discard("")
    return recorded.pop().strip("/") if len(recorded) == 1 and parent.name != "/" else object_path(target)


def read_embeddings(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """One row per neuron: ``neuron_id``, ``neuron_table`` (the path of the table whose id it is: ``units`` or a
    ``PlaneSegmentation``), ``embedding`` (a float32 vector), ``silent`` (True for a neuron without activity in the
    time read, whose vector says nothing about it; absent from tables written by earlier releases) and the source
    table's label columns (``brain_area``, ``cell_type``, electrode or imaging-plane ``location``, ...).

    ``name`` picks a table by its name or ``module/name``; it may be left out when the file has only one. The
    DataFrame's ``attrs`` hold the table's ``name``, the ``neuron_table`` path (for a sidecar, that of its source
    file), the ``stored_table`` path (of the table in this file its rows point into), the ``model`` provenance and,
    for a sidecar file, the ``source`` file's identity. ``np.stack(frame["embedding"])`` gives the (n_neurons, dim)
    matrix.
    """
    return _read_table(Path(path), "NeuronEmbeddings", name, _frame)


def read_predictions(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """One row per neuron: ``neuron_id``, the predicted ``label``, ``probability`` (a float32 vector over the
    classes) and ``label_probability`` (that of the predicted label), written by ``neurpir predict``.

    ``name`` picks a table by its name or ``module/name`` (e.g. ``predicted_cell_type``); it may be left out when the
    file has only one. ``attrs`` hold the table's ``name``, the ``neuron_table`` and ``stored_table`` paths (as
    ``read_embeddings``), the ``class_names`` (order of
    the probability columns), the ``probe`` (kind, label, inputs, grouping, hand features, training recordings with
    their animals and sessions, neurons per class, labels file checksum, cross-animal accuracy overall and per
    held-out animal in ``fold_accuracy``; None for what it does not record) and the ``model`` provenance.
    """
    return _read_table(Path(path), "NeuronPredictions", name, _prediction_frame)


def _read_table(source: Path, kind: str, name: str | None,
                frame: Callable[[h5py.Group, str, Path], pd.DataFrame]) -> pd.DataFrame:
    """``frame`` of the one table of type ``kind`` called ``name``; a damaged table is a one-line NeurPIRError."""
    with open_nwb(source) as file:
        key, group = _choose(file, kind, name, source)
        try:
            return frame(group, key, source)
        except (KeyError, OSError, ValueError, TypeError) as error:
            raise NeurPIRError(f"{_KINDS[kind][0]} '{key}' are damaged ({type(error).__name__}: {error})",
                               source=source) from error


def _typed_groups(file: h5py.File, neurodata_type: str) -> dict[str, h5py.Group]:
    """``module/name`` -> group of every object of ``neurodata_type`` in a processing module."""
    found = {}
    processing = file.get("processing")
    if isinstance(processing, h5py.Group):
        for module_name, module in processing.items():
            if not isinstance(module, h5py.Group):
                continue
            for child_name, child in module.items():
                if isinstance(child, h5py.Group) and not stored_outside(child, file) \
                        and decode_text(child.attrs.get("neurodata_type")) == neurodata_type:
                    found[f"{module_name}/{child_name}"] = child
    return found


def _choose(file: h5py.File, kind: str, name: str | None, source: Path) -> tuple[str, h5py.Group]:
    """The one table of type ``kind`` called ``name`` (or the only one), or a NeurPIRError saying what is there."""
    groups = _typed_groups(file, kind)
    contents, what = _KINDS[kind]
    if not groups:
        raise NeurPIRError(f"has no NeurPIR {contents} (no {kind} table in processing/)", source=source)
    if name is None:
        if len(groups) > 1:
            raise NeurPIRError(f"has several {what} ({', '.join(sorted(groups))}); {_PICK_BY_NAME[kind]}",
                               source=source)
        return next(iter(groups.items()))
    matches = tables_named(groups, name)
    if len(matches) != 1:
        count = "no" if not matches else "several"
        raise NeurPIRError(f"has {count} {what} named {name!r} (tables: {', '.join(sorted(groups))})", source=source)
    return matches[0], groups[matches[0]]


def tables_named(keys: Iterable[str], name: str) -> list[str]:
    """The ``module/name`` table keys that ``name`` picks: by ``module/name`` or by the table's own name."""
    return [key for key in keys if name in (key, key.split("/", 1)[1])]


def _frame(group: h5py.Group, key: str, source: Path) -> pd.DataFrame:
    label = str(source)
    region = group["neurons"]
    rows = np.asarray(_values(group, "neurons"), dtype=np.int64)
    vectors = np.asarray(_values(group, "embedding"), dtype=np.float32)
    target = region_target(region, label)
    target_ids = table_ids(target, label)
    if vectors.ndim != 2 or vectors.shape[0] != rows.size or np.any((rows < 0) | (rows >= target_ids.size)):
        raise ValueError(f"{rows.size} neuron rows into {target_ids.size}, embedding shape {vectors.shape}")
    labels = source_labels(target, target_ids.size, label).iloc[rows].reset_index(drop=True)
    neuron_table = source_table_of(target)
    frame = pd.DataFrame({"neuron_id": target_ids[rows], "neuron_table": neuron_table, "embedding": list(vectors),
                          **_silent(group, rows.size)})
    frame = pd.concat([frame, labels], axis=1)
    frame.attrs.update(name=key, neuron_table=neuron_table, stored_table=object_path(target), model=_model(group))
    if "source_file" in group:
        frame.attrs["source"] = {k: decode_text(v) for k, v in _member(group, "source_file").attrs.items()
                                 if k not in ("namespace", "neurodata_type", "object_id")}
    return frame


def _silent(group: h5py.Group, n_rows: int) -> dict[str, np.ndarray]:
    """The table's ``silent`` column (neurons without activity, ndx-neurpir 0.2.4), none in earlier files."""
    if "silent" not in group:
        return {}
    marks = np.asarray(_values(group, "silent"), dtype=bool)
    if marks.shape != (n_rows,):
        raise ValueError(f"silent has shape {marks.shape} for {n_rows} neuron rows")
    return {"silent": marks}


def _prediction_frame(group: h5py.Group, key: str, source: Path) -> pd.DataFrame:
    label = str(source)
    region = group["neurons"]
    rows = np.asarray(_values(group, "neurons"), dtype=np.int64)
    probability = np.asarray(_values(group, "probability"), dtype=np.float32)
    predicted = [decode_text(value) for value in np.atleast_1d(_values(group, "label"))]
    target = region_target(region, label)
    target_ids = table_ids(target, label)
    probe = _probe(_member(group, "probe"))
    if probability.shape != (rows.size, len(probe["class_names"])) or len(predicted) != rows.size or np.any(
            (rows < 0) | (rows >= target_ids.size)):
        raise ValueError(f"{rows.size} neuron rows into {target_ids.size}, {len(predicted)} labels, probabilities "
                         f"{probability.shape} for {len(probe['class_names'])} classes")
    column = {name: index for index, name in enumerate(probe["class_names"])}
    chosen = [column[name] for name in predicted]  # a label outside the classes: KeyError, a damaged table
    frame = pd.DataFrame({"neuron_id": target_ids[rows], "label": predicted, "probability": list(probability),
                          "label_probability": probability[np.arange(rows.size), chosen]})
    frame.attrs.update(name=key, neuron_table=source_table_of(target), stored_table=object_path(target),
                       class_names=probe["class_names"], probe=probe, model=_model(group))
    return frame


def _probe(group: h5py.Group) -> dict[str, Any]:
    """What a ``NeurPIRProbe`` records; None for a field it lacks (written before the field was, or not known)."""
    probe: dict[str, Any] = {key: decode_text(group.attrs.get(key)) for key in (
        "description", "kind", "label", "package_version", "checkpoint_sha256")}
    probe.update({key: decode_text(group.attrs[key]) if key in group.attrs else None for key in (
        "inputs", "labels_file_sha256")})
    grouping = decode_text(group.attrs.get("grouping"))
    probe["grouping"] = parse_json(grouping, f"{object_path(group)}.grouping", group.file.filename) if grouping \
        else None
    accuracy = group.attrs.get("cross_animal_accuracy")
    probe["cross_animal_accuracy"] = None if accuracy is None else float(accuracy)
    for key in ("class_names", "training_data", "training_subjects", "training_sessions", "hand_features"):
        probe[key] = _texts(group, key)
    counts, subjects = _member(group, "class_counts"), _texts(group, "held_out_subjects")
    probe["class_counts"] = None if counts is None else dict(zip(probe["class_names"], map(int, counts[()])))
    probe["fold_accuracy"] = None if subjects is None else dict(zip(subjects, map(float,
                                                                                  _values(group, "held_out_accuracy"))))
    return probe


def _texts(group: h5py.Group, key: str) -> list[str] | None:
    """The text dataset ``key`` of ``group`` as a list, None when there is none."""
    return None if key not in group else [decode_text(value) for value in np.atleast_1d(_values(group, key))]


def source_labels(target: h5py.Group, n_rows: int, label: str) -> pd.DataFrame:
    """The source table's label columns as the reader gives them to a recording: units get their electrode's
    columns, ROIs the imaging plane's ``location`` and ``indicator``."""
    kind = decode_text(target.attrs.get("neurodata_type"))
    if kind == "Units":
        return unit_metadata(target, n_rows, label)
    return roi_metadata(target, n_rows, label)


def _model(table: h5py.Group) -> dict[str, Any]:
    """The provenance of the model that made one of our tables (its ``model`` group)."""
    group = _member(table, "model")
    model = {key: decode_text(group.attrs.get(key)) for key in ("description", "package_version", "checkpoint_sha256",
                                                            "created")}
    model["hyperparameters"] = parse_json(decode_text(_values(group, "hyperparameters")),
                                          f"{object_path(group)}/hyperparameters", group.file.filename)
    model["training_data"] = [decode_text(value) for value in np.atleast_1d(_values(group, "training_data"))]
    return model


@dataclass(frozen=True)
class AnnotatedRecording:
    """An annotated file (or sidecar) and the recording whose embeddings it holds, read from the file ("" where it
    cannot be read)."""

    path: str
    identifier: str = ""
    """The recording's NWB identifier (a sidecar: its source's)."""
    asset_id: str = ""
    subject_id: str = ""
    session_id: str = ""

    @property
    def name(self) -> str:
        """How training data names it (a model its own, a probe its files): DANDI asset ID, else NWB identifier, else
        the file's name."""
        return self.asset_id or self.identifier or Path(self.path).name


def annotated_recording(path: str) -> AnnotatedRecording:
    """The recording the annotated file (or sidecar) at ``path`` holds; only ``path`` when it cannot be read."""
    from nwb_neurpir.io.identity import read_identity

    try:
        with open_nwb(path) as file:
            sources = _typed_groups(file, "NeurPIRSource")
            source = {key: decode_text(value) for key, value in next(iter(sources.values())).attrs.items()} \
                if sources else {}
            identity = read_identity(file, path, source.get("identifier") or "")
    except (NeurPIRError, OSError):
        return AnnotatedRecording(path)
    return AnnotatedRecording(path, source.get("identifier") or identity.identifier, source.get("asset_id") or "",
                              identity.subject_id, identity.session_id)

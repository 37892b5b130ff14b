"""``LabelProbe``: a classifier that reads a label (cell type, brain area) off NeurPIR embeddings of labelled neurons
(and, by default, their hand features, by late fusion), with its accuracy on animals left out of the fit, saved as
JSON + safetensors (never pickle).

The probes and their settings are the evaluation's (``nwb_neurpir.evaluation.probes``): each input z-scored within
its recording (``probe_inputs``) and standardised with the training neurons' statistics, then logistic regression
(balanced class weights) or k-nearest neighbours; with hand features, one probe per input and the class with the
highest summed log-probability wins, as ``neurpir evaluate``'s ``neurpir+hand``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.grouping import MISSING_LABEL, GroupingSpec, LabelGrouping, check_categorical, \
    check_grouping_matches, group_labels, load_grouping
from nwb_neurpir.evaluation.label_notes import label_notes
from nwb_neurpir.file_names import name_part
from nwb_neurpir.unicode_forms import named_columns
from nwb_neurpir.workflows.probe_inputs import PROBE_INPUTS, frame_hand_features, recording_hand_features, \
    zscored_per_recording

if TYPE_CHECKING:
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.store import ProbeProvenance
    from nwb_neurpir.store.read import AnnotatedRecording
    from nwb_neurpir.workflows.recordings import Sources

__all__ = ["PROBE_FILES", "SAVABLE_PROBES", "LabelProbe"]

PROBE_FILES = ("probe.json", "probe.safetensors")
SAVABLE_PROBES = ("logistic", "knn")
"""Probe kinds whose fitted state is plain arrays (so they are saved without pickle)."""
PROBE_FORMAT = "nwb-neurpir-probe/3"
"""Format 3 records how the hand features' ISI statistics were computed (``hand_isis``: from exact spike times, as
``evaluate`` computes them); format 2 added the hand-feature input (ISIs between bins) and per-recording z-scoring;
format 1 probes (vectors alone, standardised with the training statistics only). Earlier formats still load and
predict as they did."""
_EARLIER_FORMATS = ("nwb-neurpir-probe/1", "nwb-neurpir-probe/2")
HAND_ISIS = ("spike times", "bins")
"""Where a probe's hand features take ISIs from: the files' exact spike times (probes fitted since format 3) or the
binned counts (format 2)."""


class _InputProbe:
    """One probe on one input (vectors or hand features): training statistics, the fitted estimator, and for k-NN
    the standardised training neurons."""

    def __init__(self, kind: str, seed: int) -> None:
        self.kind, self.seed = kind, seed

    def fit(self, x: np.ndarray, labels: np.ndarray) -> _InputProbe:
        from nwb_neurpir.evaluation.probes import _make_estimator, _quiet_single_thread

        x = np.nan_to_num(x)
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        with _quiet_single_thread():
            self.estimator = _make_estimator(self.kind, self.seed).fit(self.standardized(x), labels)
        if self.kind == "knn":
            self.train_x = self.standardized(x)
            self.train_y = np.searchsorted(self.estimator.classes_, labels)
        return self

    def standardized(self, x: np.ndarray) -> np.ndarray:
        return (np.nan_to_num(np.asarray(x, dtype=np.float64)) - self.mean) / self.scale

    def log_proba(self, x: np.ndarray) -> np.ndarray:
        from nwb_neurpir.evaluation.probes import log_probabilities

        return log_probabilities(self.estimator.predict_proba(self.standardized(x)))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {"mean": self.mean, "scale": self.scale}
        if self.kind == "logistic":
            arrays.update(coef=self.estimator.coef_, intercept=self.estimator.intercept_)
        else:
            arrays.update(train_x=self.train_x, train_y=self.train_y)
        return {prefix + key: value for key, value in arrays.items()}

    def restore(self, tensors: dict[str, np.ndarray], prefix: str, classes: list[str]) -> _InputProbe:
        from nwb_neurpir.evaluation.probes import _make_estimator

        self.mean, self.scale = tensors[prefix + "mean"], tensors[prefix + "scale"]
        self.estimator = _make_estimator(self.kind, self.seed)
        if self.kind == "logistic":
            self.estimator.coef_, self.estimator.intercept_ = tensors[prefix + "coef"], tensors[prefix + "intercept"]
            self.estimator.classes_, self.estimator.n_features_in_ = np.asarray(classes), self.mean.size
        else:
            self.train_x, self.train_y = tensors[prefix + "train_x"], tensors[prefix + "train_y"]
            self.estimator.fit(self.train_x, np.asarray(classes)[self.train_y])
        return self


class LabelProbe:
    """Fit a probe on annotated, labelled files; predict the label of other neurons from their embeddings.

    ``label`` is a neuron column (``cell_type``, ``brain_area``, ``location``); ``grouping`` a preset
    (``steinmetz-4region``), a YAML/JSON file, a mapping group -> values (``{"HPF": ["CA*", "DG*"]}``) or a
    ``LabelGrouping`` (neurons outside every group are left out of the
    fit); ``kind`` is ``logistic`` (default) or ``knn``; ``inputs`` is ``neurpir+hand`` (default: the vectors and the
    neurons' hand features, computed from the files' activity, read by late fusion) or ``neurpir`` (the vectors
    alone).

    ``fit`` sets ``classes_``, ``class_counts_`` (training neurons per class), ``fold_accuracy_`` (balanced accuracy
    on each held-out animal), ``cross_animal_accuracy_`` (their mean), ``training_data_``, and ``labels_file_`` and
    ``labels_file_sha256_`` (the ``labels`` CSV/TSV as an absolute path, and the sha256 of its bytes; None without
    one or for a DataFrame), and with hand features ``hand_columns_``, ``hand_bin_size_`` and ``hand_isis_`` (where
    their ISIs came from: ``spike times``, or ``bins`` for probes saved before format 3).

    The probabilities of ``predict_proba`` are the probe's own, not calibrated across animals: on an animal it never
    saw they are overconfident (on a held-out Steinmetz mouse, mean top probability 0.55 against accuracy 0.37).
    ``cross_animal_accuracy_`` is the estimate of accuracy on a new animal to quote, not the probabilities.

    >>> import nwb_neurpir as npir
    >>> probe = npir.LabelProbe(label="brain_area", grouping="steinmetz-4region")
    >>> probe.grouping.name, probe.inputs
    ('steinmetz-4region', 'neurpir+hand')
    >>> probe.fit(["mouseA/", "mouseB/"]).cross_animal_accuracy_               # doctest: +SKIP
    0.41
    >>> probe.save(probe.default_folder("model/"))                             # doctest: +SKIP
    """

    def __init__(self, label: str = "cell_type", grouping: GroupingSpec = None,
                 kind: str = "logistic", seed: int = 0, inputs: str = "neurpir+hand") -> None:
        if kind not in SAVABLE_PROBES:
            raise NeurPIRError(f"probe kind {kind!r} cannot be saved without pickle; choose one of "
                               f"{', '.join(SAVABLE_PROBES)}")
        if inputs not in PROBE_INPUTS:
            raise NeurPIRError(f"probe inputs {inputs!r} unknown; choose one of {', '.join(PROBE_INPUTS)}")
        self.label = label
        self.grouping = load_grouping(grouping)
        self.kind = kind
        self.seed = seed
        self.inputs = inputs
        self.zscore_per_recording = True

    def __repr__(self) -> str:
        grouping = f", grouping={self.grouping.name!r}" if self.grouping else ""
        return f"LabelProbe(label={self.label!r}{grouping}, kind={self.kind!r}, inputs={self.inputs!r})"

    @property
    def name(self) -> str:
        """``<label>`` or ``<label>-<grouping>``: the probe's folder name beside the model."""
        return self.label if self.grouping is None else f"{self.label}-{self.grouping.name}"

    @property
    def reads_hand_features(self) -> bool:
        return self.inputs == "neurpir+hand"

    def hand_reading(self) -> dict[str, Any]:
        """The reader options a file's hand features are read with for this fitted probe: its grid, and spike times
        kept when its ISIs came from them ({} for a probe without hand features)."""
        if not self.reads_hand_features:
            return {}
        return {"bin_size": self.hand_bin_size_, "keep_spike_times": self.hand_isis_ == HAND_ISIS[0]}

    def default_folder(self, model_dir: str | Path) -> Path:
        """Where the probe is kept beside its model: ``<model_dir>/probes/<name>``, the name as one folder inside
        ``probes`` (``file_names.name_part``: ``/`` as ``-``, shortened when too long)."""
        return Path(model_dir) / "probes" / name_part(self.name)

    # --- fitting ----------------------------------------------------------------------------------------------------
    def fit(self, annotated: Sources | pd.DataFrame, name: str | None = None, *,
            moved_sources: Sequence[str | Path] = (), labels: str | Path | pd.DataFrame | None = None) -> LabelProbe:
        """Fit on annotated, labelled files (paths, folders) or a frame of ``read_embeddings``/``transform``.

        First measures the cross-animal accuracy: for each animal, the probe fitted on the other animals' neurons
        predicts that animal's neurons (balanced accuracy over all of them, a class the other animals lack scoring
        recall 0; averaged over animals; None with one animal). Then fits on every labelled neuron. ``name`` picks the
        embedding table when a file has several. With hand features, each file's activity is read again to compute them:
        for a sidecar, from the source it names, or, when that has moved, from the file among ``moved_sources`` (files,
        folders) with its NWB identifier (and the animal, session and neurons the sidecar records). ``labels`` (a
        CSV/TSV file or a DataFrame: ``neuron_id`` or ``unit_name``, the label column, and ``identifier`` or
        ``session_id``, see ``labels_file``) replaces the label of the files. A frame whose ``attrs`` were lost (``merge``) names its model
        through the files in its ``file`` column.
        """
        from nwb_neurpir.workflows.labels_file import read_labels, relabel_frame

        frame, training_data = self._training_frame(annotated, name)
        external = None if labels is None else read_labels(labels, self.label)
        if external is not None:
            frame = relabel_frame(frame, external)
        frame = named_columns(frame, [self.label])
        if self.label not in frame.columns:
            columns = [str(c) for c in frame.columns if c not in ("embedding", "file")]
            raise NeurPIRError(f"the embeddings have no column {self.label!r}; available: {', '.join(columns)}")
        grouped = group_labels(frame[self.label].tolist(), self.grouping)
        check_grouping_matches(grouped, self.grouping, self.label)
        for note in label_notes(grouped.values, grouped.dropped.get(MISSING_LABEL, 0), self.grouping, self.label):
            warnings.warn(note, stacklevel=2)
        classes = sorted(set(grouped.labels.tolist()))
        if len(classes) < 2:
            raise NeurPIRError(f"a probe needs labelled neurons of at least two {self.label!r} classes, found "
                               f"{classes or 'none'}")
        check_categorical(grouped.labels, self.label)
        files = frame["file"].astype(str).to_numpy()
        vectors = np.stack([np.asarray(v, dtype=np.float64) for v in frame["embedding"]])
        blocks = {"neurpir": zscored_per_recording(vectors, files)}
        if self.reads_hand_features:
            hand, self.hand_columns_, self.hand_bin_size_ = frame_hand_features(frame, None, moved_sources, name)
            self.hand_isis_ = HAND_ISIS[0]
            blocks["hand"] = hand
        blocks = {key: block[grouped.keep] for key, block in blocks.items()}
        kept = frame.loc[grouped.keep]
        self._warn_few_neurons(grouped.labels)
        self.fold_accuracy_ = self._cross_animal(blocks, grouped.labels, kept, classes)
        self.cross_animal_accuracy_ = (float(np.mean(list(self.fold_accuracy_.values())))
                                       if self.fold_accuracy_ else None)
        self.probes_ = {key: _InputProbe(self.kind, self.seed).fit(block, grouped.labels)
                        for key, block in blocks.items()}
        self.classes_ = [str(name) for name in self.probes_["neurpir"].estimator.classes_]
        self.training_data_ = training_data
        self.labels_file_ = None if external is None else external.file
        self.labels_file_sha256_ = None if external is None else external.sha256
        self.model_sha256_ = _model_sha256(frame, name)
        self.model_modality_ = _model_modality(frame)
        self.n_training_neurons_ = int(len(kept))
        self.n_unlabelled_ = int(len(frame) - len(kept))
        self.class_counts_ = {name: int(np.sum(grouped.labels == name)) for name in self.classes_}
        self.created_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.checkpoint_sha256_ = ""
        return self

    def _training_frame(self, annotated: Sources | pd.DataFrame, name: str | None) -> tuple[pd.DataFrame, list[str]]:
        if isinstance(annotated, pd.DataFrame):
            if "file" not in annotated.columns:
                raise NeurPIRError("the embeddings frame has no 'file' column (read_embeddings and transform give "
                                   "one): the probe reads each neuron's recording, and the model, from it")
            return annotated, [str(path) for path in dict.fromkeys(annotated["file"])]
        from nwb_neurpir.workflows.embeddings import read_embeddings

        frame = read_embeddings(annotated, name, predictions=False)
        return frame, [str(Path(path).absolute()) for path in dict.fromkeys(frame["file"])]  # from any folder

    def _warn_few_neurons(self, labels: np.ndarray) -> None:
        from nwb_neurpir.evaluation.metrics import few_neurons_note

        note = few_neurons_note(labels, self.label)
        if note:
            warnings.warn(note, stacklevel=3)

    def summary(self) -> dict[str, Any]:
        """What the probe was fitted on and how well it did: label, inputs, labels file, neurons per class,
        unlabelled neurons left out, cross-animal balanced accuracy (overall and per held-out animal)."""
        self._fitted()
        return {"name": self.name, "inputs": self.inputs, "labels_file": self.labels_file_,
                "n_training_neurons": self.n_training_neurons_, "n_unlabelled": self.n_unlabelled_,
                "class_counts": self.class_counts_,
                "cross_animal_accuracy": self.cross_animal_accuracy_, "fold_accuracy": self.fold_accuracy_}

    def summary_line(self) -> str:
        """``summary`` as one line: ``probe cell_type (neurpir+hand): 360 labelled neurons (120 unlabelled left
        out), classes CH 70, ...; cross-animal balanced accuracy 0.830``."""
        unlabelled = f" ({self.n_unlabelled_} unlabelled left out)" if self.n_unlabelled_ else ""
        classes = ", ".join(f"{name} {count}" for name, count in self.class_counts_.items()) if \
            self.class_counts_ else ", ".join(self.classes_)
        accuracy = "n/a" if self.cross_animal_accuracy_ is None else f"{self.cross_animal_accuracy_:.3f}"
        return (f"probe {self.name} ({self.inputs}): {self.n_training_neurons_} labelled neurons{unlabelled}, "
                f"classes {classes}; cross-animal balanced accuracy {accuracy}")

    def _cross_animal(self, blocks: dict[str, np.ndarray], labels: np.ndarray, kept: pd.DataFrame,
                      classes: list[str]) -> dict[str, float]:
        """Balanced accuracy per held-out animal over every labelled neuron of it: a class its training animals lack
        scores recall 0 (``neurpir evaluate`` leaves such neurons out instead), and one warning names the classes
        of a single animal. A fold whose training neurons hold one class is skipped with a warning."""
        from nwb_neurpir.evaluation.metrics import score_fold
        from nwb_neurpir.evaluation.probes import fit_predict_fused
        from nwb_neurpir.evaluation.results import describe_fold
        from nwb_neurpir.evaluation.splits import animal_notes, make_folds

        subjects = kept["subject_id"].astype(str).tolist()
        try:
            folds = make_folds(subjects, kept["file"].astype(str).tolist(), labels.tolist(), split="animal")
        except NeurPIRError as error:
            warnings.warn(f"no cross-animal accuracy for this probe: {error.one_line()}", stacklevel=3)
            return {}
        for note in [*animal_notes(subjects), *_single_animal_note(subjects, labels, self.label)]:
            warnings.warn(f"cross-animal accuracy: {note}", stacklevel=3)
        scores = {}
        for fold in folds:
            info = describe_fold(fold, labels, classes)
            if len(info.training_classes) < 2:
                warnings.warn(f"cross-animal accuracy: fold {fold.name} left out ({self.label} "
                              f"{info.unscorable_because})", stacklevel=3)
                continue
            predicted = fit_predict_fused(self.kind, [block[fold.train] for block in blocks.values()],
                                          labels[fold.train], [block[fold.test] for block in blocks.values()],
                                          seed=self.seed)
            scores[fold.name] = float(score_fold(labels[fold.test], predicted, classes,
                                                 len(info.training_classes)).balanced_accuracy)
        return scores

    # --- predicting -------------------------------------------------------------------------------------------------
    def predict_proba(self, vectors: np.ndarray, recording: Recording | None = None,
                      neuron_ids: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """(n_neurons, n_classes) probabilities, columns in the order of ``classes_``: the probe's own, not
        calibrated across animals (quote ``cross_animal_accuracy_``).

        ``vectors`` are the embeddings of neurons of one recording (z-scored together when there are at least 8, as
        at fitting). A probe that reads hand features needs that ``recording`` too, read as ``hand_reading`` says
        (a spike recording with ``keep_spike_times=True`` for a probe fitted on exact ISIs); ``neuron_ids`` name the
        rows of ``vectors`` among its neurons (default: all of them, in the recording's order), the neurons the hand
        features are computed and z-scored among.
        """
        self._fitted()
        matrix = np.asarray(vectors, dtype=np.float64)
        expected = self.probes_["neurpir"].mean.size
        if matrix.ndim != 2 or matrix.shape[1] != expected:
            raise NeurPIRError(f"the probe expects {expected}-dimensional embeddings, got shape {matrix.shape}")
        if self.zscore_per_recording:
            matrix = zscored_per_recording(matrix, np.zeros(len(matrix)))
        total = self.probes_["neurpir"].log_proba(matrix)
        if "hand" in self.probes_:
            if recording is None:
                raise NeurPIRError("this probe also reads the neurons' hand features: pass the recording the vectors "
                                   "come from (or fit the probe with inputs='neurpir')")
            ids = recording.neuron_ids if neuron_ids is None else neuron_ids
            if len(ids) != len(matrix):
                raise NeurPIRError(f"{len(matrix)} vectors but {len(ids)} neurons", recording.source.label())
            hand = recording_hand_features(recording, ids, self.hand_columns_,
                                           exact_isis=self.hand_isis_ == HAND_ISIS[0],
                                           training_means=self.probes_["hand"].mean)
            total = total + self.probes_["hand"].log_proba(hand)
        total -= total.max(axis=1, keepdims=True)
        probabilities = np.exp(total)
        return (probabilities / probabilities.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, vectors: np.ndarray, recording: Recording | None = None,
                neuron_ids: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """The most probable class of each neuron (arguments as ``predict_proba``)."""
        probabilities = self.predict_proba(vectors, recording, neuron_ids)
        return np.asarray(self.classes_, dtype=object)[probabilities.argmax(axis=1)].astype(str)

    def _fitted(self) -> dict[str, _InputProbe]:
        from nwb_neurpir.workflows.estimator import NotFittedError

        if "probes_" not in self.__dict__:
            raise NotFittedError("this LabelProbe is not fitted yet: call fit(annotated files) or LabelProbe.load")
        return self.probes_

    def provenance(self, recordings: Sequence[AnnotatedRecording] | None = None) -> ProbeProvenance:
        """What files written with this probe's predictions record about it (``ProbeProvenance.from_record``;
        ``recordings``: its training files' ``annotated_recording``, read from them when None)."""
        from nwb_neurpir.store import ProbeProvenance

        return ProbeProvenance.from_record(self._files()["probe.json"], self.sha256(), recordings)

    def sha256(self) -> str:
        """The probe's checksum, which predictions record: the sha256 of its saved manifest (before it is saved, of
        the manifest ``save`` would write)."""
        return self.checkpoint_sha256_ or _sha256(self._files())

    def saved_differences(self, folder: str | Path) -> list[str]:
        """What differs between this probe and the one saved in ``folder``: the ``probe.json`` fields (settings,
        training files, labels file, classes, accuracies, model) other than when and by which release it was
        written, and ``weights`` (its fitted arrays); empty when the same fitted probe is saved there. A folder
        without an intact probe is a ``NeurPIRError``."""
        import json

        import torch

        from nwb_neurpir.model.checkpoint import read_folder

        saved, _ = read_folder(Path(folder), PROBE_FILES)
        ours = self._files()
        meta, theirs = json.loads(json.dumps(ours["probe.json"])), saved["probe.json"]
        differ = [key for key in sorted((set(meta) | set(theirs)) - {"created", "package_version"})
                  if meta.get(key) != theirs.get(key)]
        arrays, stored = ours["probe.safetensors"], saved["probe.safetensors"]
        if arrays.keys() != stored.keys() or not all(torch.equal(arrays[key], stored[key]) for key in arrays):
            differ.append("weights")
        return differ

    # --- saving -----------------------------------------------------------------------------------------------------
    def _files(self) -> dict[str, Any]:
        import torch

        probes = self._fitted()
        arrays = probes["neurpir"].arrays("")
        if "hand" in probes:
            arrays.update(probes["hand"].arrays("hand."))
        meta = {"format": PROBE_FORMAT, "kind": self.kind, "label": self.label, "seed": self.seed,
                "inputs": self.inputs, "grouping": self.grouping.to_dict() if self.grouping else None,
                "classes": self.classes_, "training_data": self.training_data_, "labels_file": self.labels_file_,
                "labels_file_sha256": self.labels_file_sha256_, "cross_animal_accuracy": self.cross_animal_accuracy_,
                "fold_accuracy": self.fold_accuracy_,
                "model_sha256": self.model_sha256_, "model_modality": self.model_modality_,
                "n_training_neurons": self.n_training_neurons_, "n_unlabelled": self.n_unlabelled_,
                "class_counts": self.class_counts_, "package_version": __version__, "created": self.created_}
        if "hand" in probes:
            meta.update(hand_columns=self.hand_columns_, hand_bin_size=self.hand_bin_size_, hand_isis=self.hand_isis_)
        return {"probe.json": meta,
                "probe.safetensors": {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in
                                      arrays.items()}}

    def save(self, folder: str | Path, *, replace: bool = True) -> Path:
        """Write ``probe.json`` (kind, inputs, label, grouping, classes, training files, the labels file and its
        sha256, neurons per class, accuracies, the embedding model's checksum) and ``probe.safetensors`` (the fitted
        arrays) with a checksummed manifest into ``folder``. A new folder is written beside it and renamed into
        place (a reader never finds half a probe); into an existing one the files are written one by one (the
        manifest last), or, with ``replace=False``, not at all: a ``FileExistsError``."""
        from nwb_neurpir.model.checkpoint import write_folder, write_new_folder

        folder, files = Path(folder), self._files()
        try:
            self.checkpoint_sha256_ = write_new_folder(folder, files)
        except FileExistsError:
            if not replace:
                raise
            self.checkpoint_sha256_ = write_folder(folder, files)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> LabelProbe:
        """A probe saved by ``save`` (checksums verified; nothing is unpickled)."""
        from nwb_neurpir.model.checkpoint import read_folder

        folder = Path(folder)
        if not (folder / "manifest.json").is_file():
            raise NeurPIRError("no probe saved here; fit one first (LabelProbe.fit, or neurpir predict --fit-on)",
                               folder)
        parsed, sha = read_folder(folder, PROBE_FILES)
        meta, tensors = parsed["probe.json"], {k: v.numpy() for k, v in parsed["probe.safetensors"].items()}
        try:
            grouping = None if meta["grouping"] is None else LabelGrouping(
                name=str(meta["grouping"]["name"]),
                groups={str(k): tuple(map(str, v)) for k, v in meta["grouping"]["groups"].items()})
            first_format = meta["format"] == _EARLIER_FORMATS[0]
            if meta["format"] not in (*_EARLIER_FORMATS, PROBE_FORMAT):
                raise ValueError(f"format {meta['format']!r} is newer than this package reads ({PROBE_FORMAT})")
            probe = cls(meta["label"], grouping, meta["kind"], int(meta["seed"]),
                        "neurpir" if first_format else meta["inputs"])
            probe.zscore_per_recording = not first_format
            probe._restore(meta, tensors)
        except (KeyError, TypeError, ValueError) as error:
            raise NeurPIRError(f"probe.json or probe.safetensors is malformed ({type(error).__name__}: {error})",
                               folder) from None
        probe.checkpoint_sha256_ = sha
        _warn_earlier_scoring(meta, folder)
        return probe

    def _restore(self, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        self.classes_ = [str(name) for name in meta["classes"]]
        self.probes_ = {"neurpir": _InputProbe(self.kind, self.seed).restore(tensors, "", self.classes_)}
        if self.reads_hand_features:
            self.probes_["hand"] = _InputProbe(self.kind, self.seed).restore(tensors, "hand.", self.classes_)
            self.hand_columns_ = [str(name) for name in meta["hand_columns"]]
            self.hand_bin_size_ = float(meta["hand_bin_size"])
            self.hand_isis_ = str(meta.get("hand_isis", "bins"))  # format 2 took ISIs between bins
            if self.hand_isis_ not in HAND_ISIS:
                raise ValueError(f"hand_isis {self.hand_isis_!r} is none of {', '.join(HAND_ISIS)}")
        self.training_data_ = [str(path) for path in meta["training_data"]]
        self.labels_file_ = meta.get("labels_file")  # not recorded by probes saved before it was
        self.labels_file_sha256_ = meta.get("labels_file_sha256")
        self.cross_animal_accuracy_ = meta["cross_animal_accuracy"]
        self.fold_accuracy_ = dict(meta["fold_accuracy"])
        self.model_sha256_ = str(meta["model_sha256"])
        self.model_modality_ = meta.get("model_modality")  # not recorded by probes saved before it was
        self.n_training_neurons_ = int(meta["n_training_neurons"])
        self.n_unlabelled_ = int(meta.get("n_unlabelled", 0))  # not recorded by probes saved before it was
        self.class_counts_ = {str(k): int(v) for k, v in meta.get("class_counts", {}).items()}
        self.created_ = str(meta["created"])


def _single_animal_note(subjects: Sequence[str], labels: np.ndarray, label: str) -> list[str]:
    """One note naming the classes labelled in a single animal (with it), whose neurons no fold can predict."""
    animals = pd.Series(subjects).groupby(np.asarray(labels, dtype=str)).unique()
    alone = {name: str(found[0]) for name, found in animals.items() if len(found) == 1}
    if not alone:
        return []
    named = ", ".join(f"{name} (only in {subject})" for name, subject in alone.items())
    return [f"{label} classes labelled in one animal only: {named}; their neurons cannot be predicted when that "
            "animal is held out, so its fold scores them recall 0 (the estimate is pessimistic for them)"]


def _model_sha256(frame: pd.DataFrame, name: str | None) -> str:
    """The checkpoint checksum of the one model that made the frame's embeddings: from its ``attrs``, else (lost in a
    ``merge`` or ``concat``) from the files in its ``file`` column (their table ``name``); '' with a warning when they
    cannot say."""
    from nwb_neurpir.workflows.embeddings import model_sha256_of

    shas = frame.attrs.get("model_sha256") or ([frame.attrs["model"].get("checkpoint_sha256", "")]
                                               if frame.attrs.get("model") else [])
    if not shas:
        try:
            shas = [model_sha256_of(str(path), name) for path in dict.fromkeys(frame["file"])]
        except NeurPIRError as error:
            warnings.warn(f"the probe cannot tell which model made its embeddings: the frame's attrs are empty (a "
                          f"pandas merge drops them) and its files say nothing ({error.one_line()}); npir.predict "
                          "with a model will refuse it (keep frame.attrs, or pass the labels with labels=)",
                          stacklevel=3)
            return ""
    if len(set(shas)) != 1:
        raise NeurPIRError(f"the embeddings come from {len(set(shas))} different models; fit a probe on embeddings "
                           "of one model")
    return str(shas[0])


def _model_modality(frame: pd.DataFrame) -> str | None:
    """The modality (spikes, ophys) of the model that made the frame's embeddings, when its provenance says."""
    models = frame.attrs.get("models") or [frame.attrs.get("model") or {}]
    kinds = {(model.get("hyperparameters") or {}).get("modality") for model in models} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def _sha256(files: dict[str, Any]) -> str:
    from nwb_neurpir.model.checkpoint import folder_sha256

    return folder_sha256(files)


SCORING_SINCE = (0, 2, 3)
"""The release since which a probe's per-animal accuracy counts the neurons of classes its fold never trained on."""


def _warn_earlier_scoring(meta: dict[str, Any], folder: Path) -> None:
    """Warn that a probe saved before ``SCORING_SINCE`` scored its held-out animals without the neurons of classes the
    other animals lacked (optimistic where a class is labelled in one animal only)."""
    version = str(meta.get("package_version", "0"))
    try:
        saved = tuple(int(part) for part in version.split(".")[:3])
    except ValueError:
        return  # a development version string: nothing to say
    if saved < SCORING_SINCE and len(meta.get("fold_accuracy") or {}) > 1:
        warnings.warn(f"{folder}: this probe was saved by nwb-neurpir {version}, whose cross-animal accuracy left out "
                      "the neurons of classes a held-out animal's training animals lacked (optimistic where a class is "
                      "labelled in one animal only); fit it again (predict --fit-on ... --overwrite) for the current "
                      "estimate", stacklevel=3)

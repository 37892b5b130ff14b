"""``LabelProbe``: a classifier that reads a label (cell type, brain area) off NeurPIR embeddings of labelled neurons,
with its accuracy on animals left out of the fit, saved as JSON + safetensors (never pickle).

The probes and their settings are the evaluation's (``nwb_neurpir.evaluation.probes``): inputs standardised with the
training neurons' statistics, then logistic regression (balanced class weights) or k-nearest neighbours.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.grouping import LabelGrouping, group_labels, load_grouping

__all__ = ["PROBE_FILES", "SAVABLE_PROBES", "LabelProbe"]

PROBE_FILES = ("probe.json", "probe.safetensors")
SAVABLE_PROBES = ("logistic", "knn")
"""Probe kinds whose fitted state is plain arrays (so they are saved without pickle)."""


class LabelProbe:
    """Fit a probe on annotated, labelled files; predict the label of other neurons from their embeddings.

    ``label`` is a neuron column (``cell_type``, ``brain_area``, ``location``); ``grouping`` a preset
    (``steinmetz-4region``), a YAML/JSON file or a ``LabelGrouping`` (neurons outside every group are left out of the
    fit); ``kind`` is ``logistic`` (default) or ``knn``.

    >>> import nwb_neurpir as npir
    >>> probe = npir.LabelProbe(label="brain_area", grouping="steinmetz-4region")
    >>> probe.grouping.name
    'steinmetz-4region'
    >>> probe.fit(["mouseA/", "mouseB/"]).cross_animal_accuracy_               # doctest: +SKIP
    0.41
    >>> probe.save(probe.default_folder("model/"))                             # doctest: +SKIP
    """

    def __init__(self, label: str = "cell_type", grouping: str | Path | LabelGrouping | None = None,
                 kind: str = "logistic", seed: int = 0) -> None:
        if kind not in SAVABLE_PROBES:
            raise NeurPIRError(f"probe kind {kind!r} cannot be saved without pickle; choose one of "
                               f"{', '.join(SAVABLE_PROBES)}")
        self.label = label
        self.grouping = grouping if isinstance(grouping, LabelGrouping) or grouping is None else \
            load_grouping(grouping)
        self.kind = kind
        self.seed = seed

    def __repr__(self) -> str:
        grouping = f", grouping={self.grouping.name!r}" if self.grouping else ""
        return f"LabelProbe(label={self.label!r}{grouping}, kind={self.kind!r})"

    @property
    def name(self) -> str:
        """``<label>`` or ``<label>-<grouping>``: the probe's folder name beside the model."""
        return self.label if self.grouping is None else f"{self.label}-{self.grouping.name}"

    def default_folder(self, model_dir: str | Path) -> Path:
        """Where the probe is kept beside its model: ``<model_dir>/probes/<name>``."""
        return Path(model_dir) / "probes" / self.name

    # --- fitting ----------------------------------------------------------------------------------------------------
    def fit(self, annotated: Any, name: str | None = None) -> LabelProbe:  # noqa: ANN401
        """Fit on annotated, labelled files (paths, folders) or a frame of ``read_embeddings``/``transform``.

        First measures the cross-animal accuracy: for each animal, the probe fitted on the other animals' neurons
        predicts that animal's neurons (balanced accuracy, averaged over animals; None with one animal). Then fits
        on every labelled neuron. ``name`` picks the embedding table when a file has several.
        """
        frame, training_data = self._training_frame(annotated, name)
        if self.label not in frame.columns:
            columns = [str(c) for c in frame.columns if c not in ("embedding", "file")]
            raise NeurPIRError(f"the embeddings have no column {self.label!r}; available: {', '.join(columns)}")
        grouped = group_labels(frame[self.label].tolist(), self.grouping)
        kept = frame.loc[grouped.keep]
        classes = sorted(set(grouped.labels.tolist()))
        if len(classes) < 2:
            raise NeurPIRError(f"a probe needs labelled neurons of at least two {self.label!r} classes, found "
                               f"{classes or 'none'}")
        vectors = np.stack([np.asarray(v, dtype=np.float64) for v in kept["embedding"]])
        self.fold_accuracy_ = self._cross_animal(vectors, grouped.labels, kept, classes)
        self.cross_animal_accuracy_ = (float(np.mean(list(self.fold_accuracy_.values())))
                                       if self.fold_accuracy_ else None)
        self._fit_arrays(vectors, grouped.labels)
        self.classes_ = [str(name) for name in self.estimator_.classes_]
        self.training_data_ = training_data
        self.model_sha256_ = _model_sha256(frame)
        self.n_training_neurons_ = int(len(kept))
        self.created_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.checkpoint_sha256_ = ""
        return self

    def _training_frame(self, annotated: Any, name: str | None) -> tuple[pd.DataFrame, list[str]]:  # noqa: ANN401
        if isinstance(annotated, pd.DataFrame):
            frame = annotated
        else:
            from nwb_neurpir.workflows.embeddings import read_embeddings

            frame = read_embeddings(annotated, name, predictions=False)
        return frame, [str(path) for path in dict.fromkeys(frame["file"])]

    def _cross_animal(self, vectors: np.ndarray, labels: np.ndarray, kept: pd.DataFrame,
                      classes: list[str]) -> dict[str, float]:
        from nwb_neurpir.evaluation.metrics import score_fold
        from nwb_neurpir.evaluation.probes import fit_predict
        from nwb_neurpir.evaluation.splits import make_folds

        try:
            folds = make_folds(kept["subject_id"].astype(str).tolist(), kept["file"].astype(str).tolist(),
                               labels.tolist(), split="animal")
        except NeurPIRError as error:
            warnings.warn(f"no cross-animal accuracy for this probe: {error.one_line()}", stacklevel=3)
            return {}
        scores = {}
        for fold in folds:
            predicted = fit_predict(self.kind, vectors[fold.train], labels[fold.train], vectors[fold.test],
                                    seed=self.seed)
            scores[fold.name] = float(score_fold(labels[fold.test], predicted, classes).balanced_accuracy)
        return scores

    def _fit_arrays(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        from nwb_neurpir.evaluation.probes import _make_estimator, _quiet_single_thread

        x = np.nan_to_num(vectors)
        self.mean_, self.scale_ = x.mean(axis=0), x.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        with _quiet_single_thread():
            self.estimator_ = _make_estimator(self.kind, self.seed).fit(self._standardized(x), labels)
        if self.kind == "knn":
            self.train_x_ = self._standardized(x)
            self.train_y_ = np.searchsorted(self.estimator_.classes_, labels)

    def _standardized(self, vectors: np.ndarray) -> np.ndarray:
        return (np.nan_to_num(np.asarray(vectors, dtype=np.float64)) - self.mean_) / self.scale_

    # --- predicting -------------------------------------------------------------------------------------------------
    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """(n_neurons, n_classes) probabilities, columns in the order of ``classes_``."""
        estimator = self._fitted()
        matrix = np.asarray(vectors, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.mean_.size:
            raise NeurPIRError(f"the probe expects {self.mean_.size}-dimensional embeddings, got shape "
                               f"{matrix.shape}")
        return estimator.predict_proba(self._standardized(matrix)).astype(np.float32)

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """The most probable class of each neuron."""
        return np.asarray(self.classes_, dtype=object)[self.predict_proba(vectors).argmax(axis=1)].astype(str)

    def _fitted(self) -> Any:  # noqa: ANN401 - a scikit-learn estimator
        from nwb_neurpir.workflows.estimator import NotFittedError

        if "estimator_" not in self.__dict__:
            raise NotFittedError("this LabelProbe is not fitted yet: call fit(annotated files) or LabelProbe.load")
        return self.estimator_

    def provenance(self) -> Any:  # noqa: ANN401 - ProbeProvenance
        """What files written with this probe's predictions record about it."""
        from nwb_neurpir.store import ProbeProvenance

        self._fitted()
        return ProbeProvenance(
            kind=self.kind, label=self.label, class_names=list(self.classes_), training_data=self.training_data_,
            checkpoint_sha256=self.checkpoint_sha256_ or _sha256(self._files()),
            grouping=self.grouping.to_dict() if self.grouping else None,
            cross_animal_accuracy=self.cross_animal_accuracy_, created=self.created_,
            description=(f"{self.kind} probe predicting {self.label} from NeurPIR embeddings, fitted on "
                         f"{self.n_training_neurons_} labelled neurons of {len(self.training_data_)} files."))

    # --- saving -----------------------------------------------------------------------------------------------------
    def _files(self) -> dict[str, Any]:
        import torch

        estimator = self._fitted()
        arrays = {"mean": self.mean_, "scale": self.scale_}
        if self.kind == "logistic":
            arrays.update(coef=estimator.coef_, intercept=estimator.intercept_)
        else:
            arrays.update(train_x=self.train_x_, train_y=self.train_y_)
        meta = {"format": "nwb-neurpir-probe/1", "kind": self.kind, "label": self.label, "seed": self.seed,
                "grouping": self.grouping.to_dict() if self.grouping else None, "classes": self.classes_,
                "training_data": self.training_data_, "cross_animal_accuracy": self.cross_animal_accuracy_,
                "fold_accuracy": self.fold_accuracy_, "model_sha256": self.model_sha256_,
                "n_training_neurons": self.n_training_neurons_, "package_version": __version__,
                "created": self.created_}
        return {"probe.json": meta,
                "probe.safetensors": {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in
                                      arrays.items()}}

    def save(self, folder: str | Path) -> Path:
        """Write ``probe.json`` (kind, label, grouping, classes, training files, accuracies, the embedding model's
        checksum) and ``probe.safetensors`` (the fitted arrays) with a checksummed manifest into ``folder``."""
        from nwb_neurpir.model.checkpoint import write_folder

        folder = Path(folder)
        self.checkpoint_sha256_ = write_folder(folder, self._files())
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
            probe = cls(meta["label"], grouping, meta["kind"], int(meta["seed"]))
            probe._restore(meta, tensors)
        except (KeyError, TypeError, ValueError) as error:
            raise NeurPIRError(f"probe.json or probe.safetensors is malformed ({type(error).__name__}: {error})",
                               folder) from None
        probe.checkpoint_sha256_ = sha
        return probe

    def _restore(self, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        from nwb_neurpir.evaluation.probes import _make_estimator

        self.classes_ = [str(name) for name in meta["classes"]]
        self.mean_, self.scale_ = tensors["mean"], tensors["scale"]
        estimator = _make_estimator(self.kind, self.seed)
        if self.kind == "logistic":
            estimator.coef_, estimator.intercept_ = tensors["coef"], tensors["intercept"]
            estimator.classes_, estimator.n_features_in_ = np.asarray(self.classes_), self.mean_.size
        else:
            self.train_x_, self.train_y_ = tensors["train_x"], tensors["train_y"]
            estimator.fit(self.train_x_, np.asarray(self.classes_)[self.train_y_])
        self.estimator_ = estimator
        self.training_data_ = [str(path) for path in meta["training_data"]]
        self.cross_animal_accuracy_ = meta["cross_animal_accuracy"]
        self.fold_accuracy_ = dict(meta["fold_accuracy"])
        self.model_sha256_ = str(meta["model_sha256"])
        self.n_training_neurons_ = int(meta["n_training_neurons"])
        self.created_ = str(meta["created"])


def _model_sha256(frame: pd.DataFrame) -> str:
    """The checkpoint checksum of the one model that made the frame's embeddings."""
    shas = frame.attrs.get("model_sha256") or [frame.attrs.get("model", {}).get("checkpoint_sha256", "")]
    if len(set(shas)) != 1:
        raise NeurPIRError(f"the embeddings come from {len(set(shas))} different models; fit a probe on embeddings "
                           "of one model")
    return str(shas[0])


def _sha256(files: dict[str, Any]) -> str:
    from nwb_neurpir.model.checkpoint import folder_sha256

    return folder_sha256(files)

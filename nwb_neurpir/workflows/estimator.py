"""``NeurPIR``: the scikit-learn-style estimator over NeurPIR training, embedding and model folders.

Its parameters are the fields of :class:`nwb_neurpir.model.NeurPIRConfig` (read from the dataclass, so they follow it);
the fitted model is ``model_`` (a :class:`nwb_neurpir.model.NeurPIR`), what its training did ``training_summary_``.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import MISSING, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.workflows.ranks import is_main_process

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nwb_neurpir.recording import Recording
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.model import NeurPIRConfig
    from nwb_neurpir.provenance import ModelProvenance
    from nwb_neurpir.workflows.recordings import RecordingsOrSources

__all__ = ["TRAINING_LOCK", "InvalidParameterError", "NeurPIR", "NotFittedError", "embedding_matrix", "trained_model"]

TRAINING_LOCK = ".training.neurpir-lock"
"""The lock a training run holds inside its model folder; one a killed run left does not make the folder foreign."""


class NotFittedError(NeurPIRError, SklearnNotFittedError):
    """The estimator was used before ``fit`` or ``load``: scikit-learn's ``NotFittedError`` (so a ``ValueError`` and an
    ``AttributeError``) that the CLI prints on one line."""


class InvalidParameterError(NeurPIRError, ValueError):
    """A parameter that ``NeurPIRConfig`` has no field for (from ``set_params``), or a bad value (from ``fit``)."""


def _config_fields() -> dict[str, Any]:
    """NeurPIRConfig's field names and default values, in declaration order."""
    from nwb_neurpir.model import NeurPIRConfig

    return {f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            for f in fields(NeurPIRConfig) if f.init}


class _ConfigSignature:
    """``NeurPIR``'s signature for ``inspect.signature``, ``help()`` and scikit-learn's checks: one keyword parameter
    per ``NeurPIRConfig`` field (``__init__`` takes ``**params``), built when asked for so that importing stays fast."""

    def __get__(self, instance: object, owner: type) -> inspect.Signature:
        return inspect.Signature([inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                                  for name, default in _config_fields().items()])


class NeurPIR:
    """Learn one vector per neuron from NWB recordings; parameters are ``NeurPIRConfig``'s fields.

    ``fit`` trains on recordings (or sources) and returns the estimator; ``transform`` gives one row per neuron;
    ``save``/``load`` use a model folder (safetensors + JSON, checksummed; nothing unpickled). A fitted estimator
    also pickles (joblib, multiprocessing), but a folder is the way to keep or share a model.

    >>> import nwb_neurpir as npir
    >>> model = npir.NeurPIR(max_steps=0, context="none")
    >>> model.get_params()["max_steps"]
    0
    >>> model.set_params(batch_size=64).batch_size
    64
    >>> model.fit(npir.open_recordings("sim/")).transform("sim/sub-sim01")   # doctest: +SKIP
    """

    __signature__ = _ConfigSignature()

    def __init__(self, **params: Any) -> None:
        self._params: dict[str, Any] = _config_fields()
        self._given: set[str] = set()
        """The parameters given (to ``__init__``, ``set_params`` or by ``load``): those a resumed training takes
        over the settings its checkpoint was made with."""
        self.set_params(**params)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - a parameter's value
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]
        if name.endswith("_") and not name.startswith("_"):
            self.fitted_model()  # a fitted attribute (model_, training_summary_) before fit: NotFittedError
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __repr__(self) -> str:
        defaults = _config_fields()
        changed = ", ".join(f"{key}={value!r}" for key, value in self._params.items() if value != defaults[key])
        model = self.__dict__.get("model_")
        if model is None:
            return f"{type(self).__name__}({changed})"
        from nwb_neurpir.model.summary import describe

        return f"{type(self).__name__}({changed}) [fitted: {describe(model)}]"

    def __sklearn_is_fitted__(self) -> bool:
        """For ``sklearn.utils.validation.check_is_fitted``."""
        return "model_" in self.__dict__

    def __sklearn_tags__(self) -> Any:  # noqa: ANN401 - sklearn.utils.Tags (scikit-learn >= 1.6 asks for it)
        """A transformer that reads NWB sources, not arrays: no target, no input validation."""
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(estimator_type="transformer", target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(), no_validation=True)

    # --- parameters -------------------------------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: ARG002 - scikit-learn's signature
        """Every parameter (a ``NeurPIRConfig`` field) and its value.

        >>> import nwb_neurpir as npir
        >>> npir.NeurPIR(max_steps=5).get_params()["max_steps"]
        5
        """
        return dict(self._params)

    def set_params(self, **params: Any) -> NeurPIR:
        """Change parameters; returns the estimator. An unknown name is an ``InvalidParameterError`` (a
        ``ValueError``) at once; values are checked by ``fit``, as in scikit-learn (so that parameters bound to each
        other, such as ``segment_length_min`` and ``segment_length_max``, may change one at a time).

        >>> import nwb_neurpir as npir
        >>> npir.NeurPIR().set_params(seed=3).seed
        3
        """
        known = self.__dict__["_params"] if "_params" in self.__dict__ else _config_fields()
        unknown = [key for key in params if key not in known]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (parameters are NeurPIRConfig's fields)"
            raise InvalidParameterError(f"NeurPIR has no parameter {unknown[0]!r}{hint}")
        self._params = {**known, **params}
        self._given = self.__dict__.get("_given", set()) | set(params)
        return self

    @property
    def config(self) -> NeurPIRConfig:
        """The parameters as a ``NeurPIRConfig``; a bad value is an ``InvalidParameterError``."""
        from nwb_neurpir.model import NeurPIRConfig

        try:
            return NeurPIRConfig.from_dict(self._params)
        except NeurPIRError as exc:
            raise InvalidParameterError(exc.message) from None

    # --- fitting and embedding --------------------------------------------------------------------------------------
    def fit(self, recordings: RecordingsOrSources, y: object = None, *, checkpoint_dir: str | Path | None = None,
            progress: bool | None = None, resume: bool = True, warm_start: bool = False) -> NeurPIR:
        """Train on ``recordings`` (``Recording`` objects or sources to read) and return the estimator; ``y`` is
        ignored (training needs no labels; it is there for scikit-learn's ``Pipeline.fit(X, y)``).

        Sources are read on the reader's grid (10 ms bins for spikes, the frame rate for calcium); for another one
        (the command's ``--bin-size``) give recordings read with ``npir.open_recordings(sources, bin_size=0.02)``:
        the model records its grid and ``transform`` reads later sources on it. With ``checkpoint_dir``, checkpoints
        and the final model go to that folder, and a run interrupted there continues from its last checkpoint
        (``resume=False`` starts over); one run at a time may write it. Resuming, the parameters not given (to the
        constructor or ``set_params``) take the checkpoint's values. A ``checkpoint_dir`` holding a model but no
        checkpoint is refused rather than replaced (``resume=False`` replaces it). ``progress`` shows progress bars
        (None: unless the environment says ``NEURPIR_PROGRESS=0`` or ``TQDM_DISABLE=1``).

        As in scikit-learn, ``fit`` trains a new model from scratch, also on a fitted or loaded estimator;
        ``warm_start=True`` fine-tunes the fitted model instead (``NeurPIR.load(folder).fit(mine, warm_start=True)``):
        training starts from its encoder weights with its CEBRA context model (frozen, so that the context means
        the same), a new optimizer and step count, for ``max_steps`` steps; the recordings are read as its input
        (modality, bin size), the parameters that define its vectors (``REPRESENTATION_FIELDS``: architecture,
        normalisation, context) must stay its own, and the new model records the one it started from in
        ``training_summary_["initialized_from"]``.
        """
        from nwb_neurpir.model import train
        from nwb_neurpir.progress import progress_or_environment

        config = self.config  # a bad value fails here, before any file is read
        init = self.fitted_model() if warm_start else None
        progress = progress_or_environment(progress)
        _refuse_a_folder_as_labels(y)
        if checkpoint_dir is not None and resume:
            config = self._resumed_config(Path(checkpoint_dir), config)
        data = self._training_recordings(recordings, config, progress, init)
        if init is not None:  # the frozen context reads its covariates; those a recording lacks are its mean
            from nwb_neurpir.workflows.model_inputs import warn_missing_context

            for recording in data:
                warn_missing_context(init, recording)
        with _only_writer(None if checkpoint_dir is None else Path(checkpoint_dir)):
            self.model_ = train(data, config, out_dir=checkpoint_dir, progress=progress, resume=resume, init=init)
        return self

    def _resumed_config(self, folder: Path, config: NeurPIRConfig) -> NeurPIRConfig:
        """``config`` for a training into ``folder``: when it holds a checkpoint, that checkpoint's settings with the
        given parameters over them (a given one that differs is refused by the resume check, another is taken)."""
        from nwb_neurpir.model import NeurPIRConfig
        from nwb_neurpir.model.trainer import checkpoint_config

        saved = checkpoint_config(folder)
        if saved is None:
            return config
        try:
            return NeurPIRConfig.over_saved(saved, {name: self._params[name] for name in self._given})
        except NeurPIRError as exc:
            raise InvalidParameterError(exc.message) from None

    @staticmethod
    def _training_recordings(recordings: RecordingsOrSources, config: NeurPIRConfig, progress: bool | None,
                             init: TrainedModel | None = None) -> list[Recording]:
        """``recordings`` as ``Recording`` objects, sources read as ``config.modality`` when it is set (and on the
        bin size of ``init``, the model to fine-tune)."""
        from nwb_neurpir.workflows.recordings import as_recordings

        options = {} if config.modality is None else {"modality": config.modality}
        if init is not None:
            options["bin_size"] = init.bin_size_
        return as_recordings(recordings, progress=progress, **options)

    def transform(self, recordings: RecordingsOrSources, *, progress: bool | None = None) -> pd.DataFrame:
        """One row per neuron: ``subject_id``, ``session_id``, ``neuron_id``, ``neuron_table`` (the table in the file
        whose id it is: ``units`` or a ``PlaneSegmentation``, as in ``read_embeddings``), ``embedding`` (float32
        vector), ``silent`` (True for a neuron without activity in the time read: its vector says nothing about it),
        the neuron's label columns, ``identifier`` and ``file`` (where the recording came from).

        ``recordings`` are ``Recording`` objects (read on the model's time grid) or sources, which are read with the
        model's modality and bin size. A silent neuron (a unit without spikes in the time read) still gets a finite
        vector; only a neuron never observed (no finite bin: an all-NaN ROI trace) gets a NaN vector. Torch runs with
        the ``num_threads`` parameter's threads (0, also after ``load``: ``OMP_NUM_THREADS`` or every CPU this process
        may use). ``progress`` as in ``fit``.
        """
        import numpy as np
        import pandas as pd

        from nwb_neurpir.progress import progress_or_environment
        from nwb_neurpir.workflows.recordings import as_recordings

        model = trained_model(self)
        progress = progress_or_environment(progress)
        data = as_recordings(recordings, progress=progress, modality=model.config.modality, bin_size=model.bin_size_)
        frames = []
        for recording in data:
            vectors = model.embed(recording, progress=progress)
            frame = pd.DataFrame({"subject_id": recording.subject_id, "session_id": recording.session_id,
                                  "neuron_id": recording.neuron_ids, "neuron_table": recording.neuron_table.strip("/"),
                                  "embedding": list(vectors.astype(np.float32)), "silent": recording.silent()})
            labels = recording.neuron_metadata.reset_index(drop=True)
            frame = pd.concat([frame, labels.drop(columns=[c for c in labels.columns if c in frame.columns
                                                           or c in ("identifier", "file")])], axis=1)
            frame["identifier"] = recording.source.identifier
            frame["file"] = recording.source.label()
            frames.append(frame)
        if not frames:
            raise NeurPIRError("no recordings to transform")
        table = pd.concat(frames, ignore_index=True)
        table.attrs["model"] = model.provenance().to_dict()
        return table

    def fit_transform(self, recordings: RecordingsOrSources, y: object = None, *,
                      checkpoint_dir: str | Path | None = None, progress: bool | None = None) -> pd.DataFrame:
        """``fit`` then ``transform`` on the same recordings (read once); ``y`` is ignored, as in ``fit``."""
        _refuse_a_folder_as_labels(y)
        data = self._training_recordings(recordings, self.config, progress)
        return self.fit(data, checkpoint_dir=checkpoint_dir, progress=progress).transform(data, progress=progress)

    # --- the fitted model -------------------------------------------------------------------------------------------
    @property
    def training_summary_(self) -> dict[str, Any]:
        """What training did, the fitted model's: ``steps`` (trained in all, at most the max_steps parameter),
        ``stopped_early``, ``best_validation_loss``, ``history`` of losses, ``world_size``, ``n_train_neurons``,
        ``n_validation_neurons``, ``runs`` and ``sessions``; for the ``fit`` that returned it also
        ``resumed_from_step`` and ``steps_this_run`` (not saved: a loaded model lacks them). Before ``fit``, a
        ``NotFittedError``."""
        return self.fitted_model().training_summary_

    def fitted_model(self) -> TrainedModel:
        """The trained ``nwb_neurpir.model.NeurPIR``, or a ``NotFittedError``."""
        model = self.__dict__.get("model_")
        if model is None:
            raise NotFittedError("this NeurPIR estimator is not fitted yet: call fit(recordings) first, or "
                                 "NeurPIR.load(folder)")
        return model

    def provenance(self) -> ModelProvenance:
        """Hyperparameters, checksum and training sessions of the fitted model (what annotated files record)."""
        return self.fitted_model().provenance()

    def save(self, folder: str | Path) -> Path:
        """Write the fitted model to ``folder`` (safetensors weights, JSON config, checksummed manifest)."""
        return self.fitted_model().save(folder)

    @classmethod
    def load(cls, folder: str | Path) -> NeurPIR:
        """A fitted estimator from a model folder written by ``save``, ``fit(checkpoint_dir=...)`` or
        ``neurpir train``; every checksum is verified and nothing is unpickled.

        >>> import nwb_neurpir as npir
        >>> model = npir.NeurPIR.load("model/")                      # doctest: +SKIP
        """
        from nwb_neurpir.model import NeurPIR as TrainedModel

        return cls.around(TrainedModel.load(folder))

    @classmethod
    def around(cls, model: TrainedModel) -> NeurPIR:
        """A fitted estimator of the trained ``model``, its parameters the model's settings."""
        estimator = cls(**{key: value for key, value in model.config.to_dict().items() if key in _config_fields()})
        estimator.model_ = model
        return estimator


def embedding_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The vectors of a frame of ``transform`` or ``read_embeddings`` as an ``(n_neurons, dim)`` float32 array, one
    row per neuron in the frame's order: the feature matrix of a probe. In a scikit-learn ``Pipeline``, the step
    ``FunctionTransformer(npir.embedding_matrix)`` between ``NeurPIR`` and a classifier.

    >>> import numpy as np, pandas as pd
    >>> import nwb_neurpir as npir
    >>> npir.embedding_matrix(pd.DataFrame({"neuron_id": [3, 4], "embedding": [np.zeros(8), np.ones(8)]})).shape
    (2, 8)
    """
    import numpy as np

    if "embedding" not in getattr(frame, "columns", ()):
        raise NeurPIRError(f"embedding_matrix takes the frame of NeurPIR.transform or read_embeddings (with an "
                           f"'embedding' column), not {type(frame).__name__}")
    return np.stack(frame["embedding"].to_list()).astype(np.float32, copy=False)


def _refuse_a_folder_as_labels(y: object) -> None:
    """A path given where ``y`` goes is the old ``fit(recordings, folder)``: refused, not taken as labels."""
    if isinstance(y, (str, os.PathLike)):
        raise TypeError(f"NeurPIR.fit's second argument is y (ignored, as in scikit-learn), not the model folder: "
                        f"give the folder as checkpoint_dir={os.fspath(y)!r}")


@contextmanager
def _only_writer(folder: Path | None) -> Iterator[None]:
    """Hold the lock inside the model folder ``folder``, created if needed (in rank 0 only under torchrun, whose ranks
    train together): a second run into the same folder fails at once instead of mixing its checkpoints with the first
    one's. A folder this run created is removed again when the run fails before writing anything into it."""
    if folder is None or not is_main_process():
        yield
        return
    from nwb_neurpir.store.target_lock import LockTimeout, held_lock

    created = not folder.exists()
    with ExitStack() as stack:
        stack.callback(_remove_if_empty, folder, created)  # on exit, once the lock file is gone
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(held_lock(folder.absolute() / TRAINING_LOCK, timeout=0.0))
        except LockTimeout:
            raise NeurPIRError("another training run is writing this model folder; wait for it or choose another "
                               "output folder", source=folder) from None
        except OSError as error:
            raise NeurPIRError(f"cannot write to the model folder ({error.strerror}); choose an output folder you "
                               "may write to", source=folder) from error
        yield


def _remove_if_empty(folder: Path, created: bool) -> None:
    """Remove ``folder`` when this run ``created`` it and it is still empty (the run failed before saving anything)."""
    if created:
        with suppress(OSError):
            folder.rmdir()


def trained_model(model: NeurPIR | TrainedModel | str | Path) -> TrainedModel:
    """The trained model behind an estimator (set to embed with the estimator's ``num_threads``), a trained model,
    or a model folder."""
    if isinstance(model, NeurPIR):
        return model.fitted_model().set_threads(model.config.num_threads)
    if isinstance(model, (str, Path)):
        from nwb_neurpir.model import NeurPIR as TrainedModel

        return TrainedModel.load(model)
    return model

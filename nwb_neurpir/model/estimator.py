"""``NeurPIR``: a trained neuron encoder (+ its CEBRA context encoder) that embeds, saves and loads itself."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.model.checkpoint import (
    CHECKPOINTS,
    checkpoint_step,
    folder_sha256,
    latest_checkpoint,
    read_folder,
    upgrade_advice,
    write_folder,
)
from nwb_neurpir.model.config import NeurPIRConfig
from nwb_neurpir.model.context import ContextEncoder
from nwb_neurpir.model.distributed import resolve_device
from nwb_neurpir.model.embed import embed_session
from nwb_neurpir.model.encoder import NeuronEncoder
from nwb_neurpir.model.location import model_folder
from nwb_neurpir.model.sessions import prepare_session
from nwb_neurpir.model.summary import describe, origins
from nwb_neurpir.model.threads import use_threads
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.recording import Recording, same_grid

__all__ = ["MODEL_FILES", "THIS_RUN", "NeurPIR", "load_state"]

MODEL_FILES = ("config.json", "model.json", "weights.safetensors")
THIS_RUN = ("resumed_from_step", "steps_this_run")
"""Keys of ``training_summary_`` that say what the ``train`` call returning the model did (the checkpoint step it
resumed from, or None; the steps it trained): not saved, so a model folder and its checksum do not depend on them."""


def load_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str, source: str) -> None:
    """Load ``prefix``-ed tensors into ``module``; a missing, unknown or wrongly shaped tensor is a NeurPIRError."""
    expected = module.state_dict()
    given = {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}
    missing, unknown = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    if missing or unknown:
        raise NeurPIRError(f"weights do not fit the model: missing {missing[:3]}, unknown {unknown[:3]}", source)
    for key, value in given.items():
        if tuple(value.shape) != tuple(expected[key].shape) or value.dtype != expected[key].dtype:
            raise NeurPIRError(f"weight {prefix}{key} has shape {tuple(value.shape)} {value.dtype}, expected "
                               f"{tuple(expected[key].shape)} {expected[key].dtype}", source)
    module.load_state_dict(given, strict=True)


def _is_iso_time(value: Any) -> bool:  # noqa: ANN401 - a JSON value
    """True for an ISO 8601 date and time, as ``created`` is written (a trailing ``Z`` too)."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return False
    return True


_MODEL_META: dict[str, tuple[Callable[[Any], bool], str]] = {
    "package_version": (lambda value: isinstance(value, str), "a string"),
    "context": (lambda value: value is None or isinstance(value, dict), "a JSON object or null"),
    "training_data": (lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
                      "a list of strings"),
    "training": (lambda value: isinstance(value, dict), "a JSON object"),
    "bin_size": (lambda value: value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                                and value > 0), "a positive number of seconds or null"),
    "created": (_is_iso_time, "an ISO 8601 date and time"),
}
"""The entries of a model folder's ``model.json``: what each must hold, and how the error says it."""


def _check_model_meta(meta: Any, source: str) -> None:  # noqa: ANN401 - parsed JSON
    """Refuse a ``model.json`` with keys missing or unknown, or an entry of the wrong type, naming the entry."""
    if not isinstance(meta, dict):
        raise NeurPIRError("model.json is not a JSON object", source)
    unknown, missing = sorted(set(meta) - set(_MODEL_META)), sorted(set(_MODEL_META) - set(meta))
    if unknown or missing:
        raise NeurPIRError(f"model.json has unexpected keys {unknown} or lacks {missing}", source)
    for name, (valid, expected) in _MODEL_META.items():
        if not valid(meta[name]):
            raise NeurPIRError(f"model.json: {name} must be {expected}, not {json.dumps(meta[name])[:60]}", source)


def _context_sentence(covariates: list[str]) -> str:
    """What the provenance says about the context's inputs."""
    if not covariates:
        return "No context: the encoder read the activity alone."
    return f"Its CEBRA context read {len(covariates)} covariates of each file: {', '.join(covariates)}."


def _unfinished_training(path: Path) -> NeurPIRError | None:
    """The error for a model folder whose training stopped before it saved the model (checkpoints, no manifest)."""
    checkpoints = path / CHECKPOINTS
    if (path / "manifest.json").exists() or not checkpoints.is_dir():
        return None
    latest = latest_checkpoint(checkpoints)
    where = "no checkpoint yet" if latest is None else f"last checkpoint at step {checkpoint_step(latest)}"
    return NeurPIRError(f"its training has not finished ({where}): running the same `neurpir train` command again "
                        f"(or NeurPIR.fit with this checkpoint_dir) {'restarts' if latest is None else 'resumes'} it",
                        path)


class NeurPIR:
    """A fitted model. Build it with :func:`nwb_neurpir.model.train` or :meth:`NeurPIR.load`."""

    def __init__(self, config: NeurPIRConfig, encoder: NeuronEncoder, context: ContextEncoder | None = None,
                 training_data: list[str] | None = None, training_summary: dict[str, Any] | None = None,
                 bin_size: float | None = None, created: str | None = None, package_version: str = __version__,
                 ) -> None:
        if config.modality is None:
            raise ValueError("NeurPIR needs a resolved config (modality set)")
        self.config = config
        self.encoder_ = encoder
        self.context_ = context
        self.training_data_ = list(training_data or [])
        self.training_summary_ = dict(training_summary or {})
        """model.json's training record; after ``train``, also the :data:`THIS_RUN` keys."""
        self.bin_size_ = bin_size
        """Seconds per bin of the training recordings; recordings to embed must use the same grid."""
        self.checkpoint_sha256_ = ""
        self.created_ = created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        """When the model was made (ISO 8601, UTC): the end of its training."""
        self.package_version_ = package_version
        """The nwb-neurpir version that trained the model (kept when a model folder is loaded by a later one)."""

    def __repr__(self) -> str:
        """``<NeurPIR model: spikes, 10 ms bins, 64-d vectors, ...>`` (``summary.describe``)."""
        return f"<NeurPIR model: {describe(self)}>"

    @property
    def representation_dim(self) -> int:
        return self.config.representation_dim

    def set_threads(self, num_threads: int) -> NeurPIR:
        """Embed with ``num_threads`` torch CPU threads (0: ``OMP_NUM_THREADS`` when set, else every CPU this process
        may use, a cgroup CPU quota counted); returns the model. A loaded model has 0 (threads are a runtime setting,
        not saved)."""
        self.config = dataclasses.replace(self.config, num_threads=num_threads)
        return self

    def embed(self, recording: Recording, progress: bool | None = None) -> np.ndarray:
        """One vector per neuron, (recording.n_neurons, representation_dim) float32, rows in ``neuron_ids`` order,
        computed with the config's ``num_threads`` torch threads (see :meth:`set_threads`).

        Neurons without any observed bin get a row of NaN. ``progress``: a bar on stderr (None: unless
        ``NEURPIR_PROGRESS=0`` or ``TQDM_DISABLE=1``).
        """
        from nwb_neurpir.progress import progress_or_environment

        self.check_input(recording)
        use_threads(self.config.num_threads)
        context = self.context_.transform(recording) if self.context_ is not None else None
        session = prepare_session(recording, self.config, context)
        device = resolve_device(self.config.device, 0)
        self.encoder_.to(device)
        return embed_session(self.encoder_, session, self.config.embed_batch_size, self.config.embed_max_seconds,
                             self.config.context_neurons, self.config.seed, device,
                             progress_or_environment(progress))

    def check_input(self, recording: Recording) -> None:
        """Refuse a recording the model cannot read as its input: another modality, or another bin size."""
        if recording.modality != self.config.modality:
            raise NeurPIRError(f"model was trained on {self.config.modality} but this recording is "
                               f"{recording.modality}", recording.source.label())
        if self.bin_size_ is not None and not same_grid(recording.bin_size, self.bin_size_):
            raise NeurPIRError(f"model was trained on {self.bin_size_ * 1000:g} ms bins but this recording has "
                               f"{recording.bin_size * 1000:g} ms bins; read it with bin_size={self.bin_size_:g}",
                               recording.source.label())

    def origin(self) -> dict[str, Any]:
        """What a model fine-tuned from this one records of it (``training_summary_["initialized_from"]``): its
        checksum, creation, release, steps, training data and sessions, and the model it was fine-tuned from in
        turn."""
        summary = self._saved_summary()
        return {"sha256": self.provenance().checkpoint_sha256, "created": self.created_,
                "package_version": self.package_version_, "steps": summary.get("steps"),
                "training_data": list(self.training_data_), "sessions": summary.get("sessions", []),
                **({"initialized_from": summary["initialized_from"]} if "initialized_from" in summary else {})}

    def seen_data(self) -> list[str]:
        """The recordings the model's weights were trained on (``training_data_``), with those of the models it was
        fine-tuned from: what an evaluation counts as seen."""
        return list(dict.fromkeys([*self.training_data_, *(key for origin in origins(self.training_summary_)
                                                            for key in origin.get("training_data") or [])]))

    def seen_sessions(self) -> list[dict[str, Any]]:
        """model.json's training sessions (with their activity fingerprints), with those of the models it was
        fine-tuned from."""
        sessions = [self.training_summary_.get("sessions") or [],
                    *(origin.get("sessions") or [] for origin in origins(self.training_summary_))]
        return [session for group in sessions for session in group if isinstance(session, dict)]

    def files(self) -> dict[str, Any]:
        """The folder content: name -> JSON dict or tensor dict."""
        tensors = {f"encoder.{k}": v for k, v in self.encoder_.state_dict().items()}
        if self.context_ is not None:
            tensors.update({f"context.{k}": v for k, v in self.context_.network.state_dict().items()})
        meta = {"package_version": self.package_version_,
                "context": None if self.context_ is None else self.context_.meta(),
                "training_data": self.training_data_, "training": self._saved_summary(), "bin_size": self.bin_size_,
                "created": self.created_}
        return {"config.json": self.config.hyperparameters(), "model.json": meta, "weights.safetensors": tensors}

    def _saved_summary(self) -> dict[str, Any]:
        """``training_summary_`` without the :data:`THIS_RUN` keys."""
        return {key: value for key, value in self.training_summary_.items() if key not in THIS_RUN}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its folder content (the CEBRA network object itself does not pickle) and its full config."""
        return {"files": self.files(), "config": self.config, "checkpoint_sha256_": self.checkpoint_sha256_}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(type(self).from_files(state["files"], "a pickled NeurPIR model").__dict__)
        self.config = state["config"]
        self.checkpoint_sha256_ = state["checkpoint_sha256_"]

    def save(self, out_dir: str | Path) -> Path:
        """Write the model folder (safetensors + JSON + manifest) and return it."""
        out_dir = Path(out_dir)
        self.checkpoint_sha256_ = write_folder(out_dir, self.files())
        return out_dir

    @classmethod
    def load(cls, path: str | Path) -> NeurPIR:
        """Read a model folder, verifying every checksum; never unpickles anything. A URL, a zip archive or a path
        that is no folder is refused with what to do instead."""
        path = model_folder(path)
        unfinished = _unfinished_training(path)
        if unfinished is not None:
            raise unfinished
        parsed, sha = read_folder(path, MODEL_FILES)
        model = cls.from_files(parsed, str(path))
        model.checkpoint_sha256_ = sha
        return model

    @classmethod
    def from_files(cls, parsed: dict[str, Any], source: str) -> NeurPIR:
        """Rebuild from parsed folder content (see :meth:`files`); content that a newer nwb-neurpir wrote and this
        one cannot read (a config key added since, ...) is refused with the advice to upgrade."""
        try:
            return cls._rebuild(parsed, source)
        except NeurPIRError as exc:
            meta = parsed.get("model.json")
            advice = upgrade_advice(meta.get("package_version") if isinstance(meta, dict) else None)
            if advice is None:
                raise
            raise NeurPIRError(f"{advice} ({exc.message})", source) from None

    @classmethod
    def _rebuild(cls, parsed: dict[str, Any], source: str) -> NeurPIR:
        config = NeurPIRConfig.from_saved(parsed["config.json"], source)
        if config.modality is None or config.normalization is None or config.segment_length_max is None:
            raise NeurPIRError("config.json is not a resolved model config", source)
        meta = parsed["model.json"]
        _check_model_meta(meta, source)
        try:
            context = None if meta["context"] is None else ContextEncoder.from_meta(meta["context"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NeurPIRError(f"model.json has a malformed context entry ({exc})", source) from None
        tensors = parsed["weights.safetensors"]
        encoder = NeuronEncoder(config, 0 if context is None else context.output_dim)
        load_state(encoder, tensors, "encoder.", source)
        if context is not None:
            load_state(context.network, tensors, "context.", source)
        elif any(key.startswith("context.") for key in tensors):
            raise NeurPIRError("weights hold a context encoder that model.json does not describe", source)
        unknown = [k for k in tensors if not k.startswith(("encoder.", "context."))]
        if unknown:
            raise NeurPIRError(f"weights hold unknown tensors {unknown[:3]}", source)
        bin_size = meta["bin_size"]
        return cls(config, encoder.eval(), context, list(meta["training_data"]), meta["training"],
                   None if bin_size is None else float(bin_size), meta["created"], meta["package_version"])

    def provenance(self) -> ModelProvenance:
        """Hyperparameters (with the bin size the model reads, the covariates its context reads and, as ``training``,
        model.json's training record without its loss history: the runs with their threads, device, processes and
        software, the sessions), checksum of the exact model content, and the sessions it was trained on."""
        sha = self.checkpoint_sha256_ or folder_sha256(self.files())
        covariates = list(self.context_.columns) if self.context_ is not None else []
        training = {key: value for key, value in self._saved_summary().items() if key != "history"}
        return ModelProvenance(hyperparameters={**self.config.hyperparameters(), "bin_size": self.bin_size_,
                                                "context_covariates": covariates, "training": training},
                               checkpoint_sha256=sha,
                               training_data=list(self.training_data_), created=self.created_,
                               package_version=self.package_version_,
                               description=f"NeurPIR population-context neuron encoder trained with the "
                                           f"{self.config.loss} loss on segment-length-augmented views of groups of "
                                           f"co-recorded neurons. {_context_sentence(covariates)}")

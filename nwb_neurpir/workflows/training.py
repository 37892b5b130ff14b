"""``train_sources``: fit a NeurPIR model on NWB sources into a model folder (resumable; under torchrun every rank
trains, rank 0 saves and reports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.workflows.estimator import NeurPIR

__all__ = ["TrainingReport", "check_out", "train_sources"]

_MODEL_FOLDER_MARKS = ("manifest.json", "checkpoints")
"""A folder holding either of these was written by `neurpir train` (a finished model, or checkpoints to resume)."""


@dataclass(frozen=True)
class TrainingReport:
    """What a training run did: steps (the model's, of ``max_steps``; the checkpoint step it resumed from, or None;
    the steps trained in this run), recordings, neurons trained on and held out, context inputs, the model."""

    steps: int
    max_steps: int
    stopped_early: bool
    resumed_from_step: int | None
    steps_this_run: int
    recordings: int
    train_neurons: int
    held_out_neurons: int
    context: list[str]
    model: str
    sha256: str
    initialized_from: str | None = None
    """The sha256 of the model this one was fine-tuned from (``--init-from``), None for a training from scratch."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_out(out: Path, resume: bool = True) -> None:
    """Refuse an output that is a file, a non-empty folder that is not a model folder, or (``resume``) a model folder
    without a checkpoint to continue (training would replace its model), before any work is done."""
    from nwb_neurpir.model.trainer import refuse_replacing_model
    from nwb_neurpir.workflows.estimator import TRAINING_LOCK

    if out.exists() and not out.is_dir():
        raise NeurPIRError("--out must be a folder for the model, but this is a file", out)
    if out.is_dir() and any(p.name != TRAINING_LOCK for p in out.iterdir()) and not any(
            (out / mark).exists() for mark in _MODEL_FOLDER_MARKS):
        raise NeurPIRError("--out is a folder with other files in it, not a model folder; choose a new or empty "
                           "folder", out)
    if resume and out.is_dir():
        refuse_replacing_model(out)


def train_sources(sources: list[str], settings: dict[str, Any], out: Path, *, init_from: Path | None = None,
                  glob: str | None = None, resume: bool = True, progress: bool = True,
                  **reader_options: Any) -> TrainingReport | None:
    """Train on all the sources together into the model folder ``out`` (continuing from its last checkpoint unless
    ``resume=False``), with the ``NeurPIRConfig`` fields ``settings`` (the ones given: resuming, the others keep the
    checkpoint's values, as does a ``during`` not given); ``init_from``: the model folder to fine-tune
    (``NeurPIR.fit(warm_start=True)``), whose settings apply unless given and whose modality and bin size the sources
    are read with. ``reader_options`` (``modality``, ``unit_filter``, ``series``, ``during``, ``bin_size``,
    ``cache_dir``) go to the reader. Returns the report, or None in the torchrun ranks other than 0 (which read
    without progress bars)."""
    from nwb_neurpir.model.distributed import on_every_rank, setup_distributed
    from nwb_neurpir.model.trainer import checkpoint_during

    check_out(out, resume)
    if resume and reader_options.get("during") is None:  # as the settings not given, a resumed training keeps it
        reader_options["during"] = checkpoint_during(out)
    estimator = _estimator(settings, init_from, out, reader_options)
    config = estimator.config
    config.check_context_architecture()  # before the sources are read
    env = setup_distributed(config.device)  # under torchrun: joins the job; a device this machine lacks fails here
    progress = progress and env.is_main
    recordings = on_every_rank(lambda: _read(sources, glob, progress, init_from, reader_options), env)
    estimator.fit(recordings, checkpoint_dir=out, progress=progress, resume=resume, warm_start=init_from is not None)
    model = estimator.fitted_model()
    if not env.is_main:
        return None
    summary = model.training_summary_
    return TrainingReport(steps=summary["steps"], max_steps=model.config.max_steps,
                          stopped_early=summary["stopped_early"], resumed_from_step=summary["resumed_from_step"],
                          steps_this_run=summary["steps_this_run"], recordings=len(model.training_data_),
                          train_neurons=summary["n_train_neurons"], held_out_neurons=summary["n_validation_neurons"],
                          context=list(model.context_.columns) if model.context_ is not None else [], model=str(out),
                          sha256=model.provenance().checkpoint_sha256,
                          initialized_from=(summary.get("initialized_from") or {}).get("sha256"))


def _read(sources: list[str], glob: str | None, progress: bool, init_from: Path | None,
          reader_options: dict[str, Any]) -> list[Recording]:
    """The training recordings; fine-tuning, a file of another modality than the model's is blamed on the model."""
    from nwb_neurpir.io.nwb_reader import ModalityMismatch
    from nwb_neurpir.workflows.model_inputs import model_mismatch
    from nwb_neurpir.workflows.recordings import open_recordings

    try:
        return open_recordings(sources, glob, progress=progress, **reader_options)
    except ModalityMismatch as exc:
        if init_from is None:
            raise
        raise model_mismatch(exc, "fine-tune") from None


def _estimator(settings: dict[str, Any], init_from: Path | None, out: Path,
               reader_options: dict[str, Any]) -> NeurPIR:
    """The estimator to fit: a new one with ``settings``, or the model in ``init_from`` with ``settings`` over its
    own, whose modality and bin size ``reader_options`` then read the sources with (another ``modality`` refused)."""
    from nwb_neurpir.workflows.estimator import NeurPIR
    from nwb_neurpir.workflows.model_inputs import load_model_folder, model_bin_size

    if init_from is None:
        return NeurPIR(**settings)
    if out.resolve() == init_from.resolve():
        raise NeurPIRError("--out must be a new folder, not the model --init-from fine-tunes", out)
    model = load_model_folder(init_from)
    modality = reader_options.get("modality") or "auto"
    if modality not in ("auto", model.config.modality):
        raise NeurPIRError(f"--modality {modality}: this model reads {model.config.modality} recordings, and "
                           "fine-tuning reads the data as its input", init_from)
    reader_options.update(modality=model.config.modality,
                          bin_size=model_bin_size(model, reader_options.get("bin_size")))
    return NeurPIR.around(model).set_params(**settings)



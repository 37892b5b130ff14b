"""``train_sources``: fit a NeurPIR model on NWB sources into a model folder (resumable; under torchrun every rank
trains, rank 0 saves and reports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIRConfig

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_out(out: Path) -> None:
    """Refuse an output that is a file, or a non-empty folder that is not a model folder, before any work is done."""
    from nwb_neurpir.workflows.estimator import TRAINING_LOCK

    if out.exists() and not out.is_dir():
        raise NeurPIRError("--out must be a folder for the model, but this is a file", out)
    if out.is_dir() and any(p.name != TRAINING_LOCK for p in out.iterdir()) and not any(
            (out / mark).exists() for mark in _MODEL_FOLDER_MARKS):
        raise NeurPIRError("--out is a folder with other files in it, not a model folder; choose a new or empty "
                           "folder", out)


def train_sources(sources: list[str], config: NeurPIRConfig, out: Path, *, glob: str | None = None,
                  resume: bool = True, progress: bool = True, **reader_options: Any) -> TrainingReport | None:
    """Train ``config`` on all the sources together into the model folder ``out`` (continuing from its last
    checkpoint unless ``resume=False``); ``reader_options`` (``modality``, ``unit_filter``, ``series``, ``during``,
    ``bin_size``, ``cache_dir``) go to the reader. Returns the report, or None in the torchrun ranks other than 0
    (which read without progress bars)."""
    from nwb_neurpir.model.distributed import on_every_rank, setup_distributed
    from nwb_neurpir.workflows.estimator import NeurPIR
    from nwb_neurpir.workflows.recordings import open_recordings

    check_out(out)
    config.check_context_architecture()  # before the sources are read
    env = setup_distributed(config.device)  # under torchrun: joins the job; a device this machine lacks fails here
    progress = progress and env.is_main
    recordings = on_every_rank(lambda: open_recordings(sources, glob, progress=progress, **reader_options), env)
    estimator = NeurPIR(**config.to_dict()).fit(recordings, checkpoint_dir=out, progress=progress, resume=resume)
    model = estimator.fitted_model()
    if not env.is_main:
        return None
    summary = model.training_summary_
    return TrainingReport(steps=summary["steps"], max_steps=model.config.max_steps,
                          stopped_early=summary["stopped_early"], resumed_from_step=summary["resumed_from_step"],
                          steps_this_run=summary["steps_this_run"], recordings=len(model.training_data_),
                          train_neurons=summary["n_train_neurons"], held_out_neurons=summary["n_validation_neurons"],
                          context=list(model.context_.columns) if model.context_ is not None else [], model=str(out),
                          sha256=model.provenance().checkpoint_sha256)



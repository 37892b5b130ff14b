"""What a model is, as facts a person reads: ``model_facts`` (``neurpir inspect MODEL --json``), ``fact_lines`` (the
lines of ``neurpir inspect MODEL`` and of a model card), ``describe`` (a one-line summary, for ``repr``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir.model.checkpoint import CHECKPOINTS, FORMAT

if TYPE_CHECKING:
    from nwb_neurpir.model.estimator import NeurPIR

__all__ = ["EXPORT", "describe", "fact_lines", "lineage", "lineage_text", "model_facts", "origins"]

EXPORT = "export"
"""The entry of model.json's training record that ``neurpir export`` writes: ``license`` (SPDX id or null),
``redacted`` (identifiers hashed, subject ids and locations dropped), ``n_animals`` (counted before the subject ids
were dropped) and ``exported_from`` (the checksum of the model folder it was exported from)."""


def describe(model: NeurPIR) -> str:
    """``spikes, 10 ms bins, 64-d vectors, context of 5 covariates, 100 steps on 2 recordings``."""
    bins = "bin size not recorded" if model.bin_size_ is None else f"{model.bin_size_ * 1000:g} ms bins"
    covariates = len(model.context_.columns) if model.context_ is not None else 0
    return (f"{model.config.modality}, {bins}, {model.representation_dim}-d vectors, "
            f"{f'context of {covariates} covariates' if covariates else 'no context'}, "
            f"{model.training_summary_.get('steps', '?')} steps on {len(model.training_data_)} recordings"
            + "".join(f", {text}" for text in [lineage_text(lineage(model.training_summary_))] if text))


def origins(training: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of the models a model was fine-tuned from (model.json's ``training.initialized_from``, and
    theirs), nearest first."""
    records, origin = [], training.get("initialized_from")
    while isinstance(origin, dict):
        records.append(origin)
        origin = origin.get("initialized_from")
    return records


def lineage(training: dict[str, Any]) -> list[dict[str, Any]]:
    """The models a model was fine-tuned from (:func:`origins`), nearest first: each one's checksum, steps,
    recordings and animals (None when its subject ids were redacted)."""
    lines = []
    for origin in origins(training):
        sessions = _sessions(origin)
        subjects = _subjects(sessions)
        lines.append({"sha256": origin.get("sha256"), "steps": origin.get("steps"),
                      "n_recordings": len(origin.get("training_data") or sessions),
                      "n_animals": len(subjects) if subjects else None})
    return lines


def _sessions(training: dict[str, Any]) -> list[dict[str, Any]]:
    """A training record's sessions (model.json's ``training.sessions``, or an origin's)."""
    return [session for session in training.get("sessions") or [] if isinstance(session, dict)]


def _subjects(sessions: list[dict[str, Any]]) -> set[str]:
    """The subject ids the ``sessions`` name (none once redacted)."""
    return {str(session["subject_id"]) for session in sessions if session.get("subject_id") is not None}


def lineage_text(origins: list[dict[str, Any]]) -> str:
    """``fine-tuned from 578ca865444f (60 steps on 3 recordings, 3 animals), itself fine-tuned from ...``; empty for
    a model trained from scratch."""
    said = [f"fine-tuned from {str(origin['sha256'])[:12]} ({origin['steps']} steps on {origin['n_recordings']} "
            f"recordings{_animals(origin['n_animals'])})" for origin in origins]
    return ", itself ".join(said)


def _animals(count: int | None) -> str:
    return "" if count is None else f", {count} animals"


def model_facts(model: NeurPIR, folder: Path | None = None) -> dict[str, Any]:
    """The model's checksum, package version, modality, bin size, covariates, architecture, training, training data
    (counts; each recording's identifier, animal and file name unless redacted) and licence; with ``folder``, also
    its checkpoints and probes."""
    config, summary = model.config, model.training_summary_
    shared = summary.get(EXPORT) if isinstance(summary.get(EXPORT), dict) else {}
    sessions = _sessions(summary)
    redacted = bool(shared.get("redacted"))
    subjects = _subjects(sessions)
    networks = [model.encoder_, *([model.context_.network] if model.context_ is not None else [])]
    facts: dict[str, Any] = {
        "format": FORMAT, "sha256": model.provenance().checkpoint_sha256, "package_version": model.package_version_,
        "created": model.created_, "modality": config.modality, "bin_size_s": model.bin_size_,
        "covariates": list(model.context_.columns) if model.context_ is not None else [],
        "architecture": {"representation_dim": config.representation_dim, "hidden_dim": config.hidden_dim,
                         "conv_channels": config.conv_channels, "loss": config.loss,
                         "context": None if model.context_ is None else
                         f"CEBRA {model.context_.architecture}, {model.context_.output_dim}-d",
                         "parameters": sum(p.numel() for network in networks for p in network.parameters())},
        "training": {key: summary.get(key) for key in ("steps", "stopped_early", "best_validation_loss",
                                                       "n_train_neurons", "n_validation_neurons")},
        "training_data": {
            "n_recordings": len(model.training_data_),
            "n_neurons": sum(int(session.get("n_neurons") or 0) for session in sessions),
            "n_animals": shared.get("n_animals") if redacted else len(subjects), "redacted": redacted,
            "recordings": [] if redacted else [_recording(session) for session in sessions] or
            [{"id": key} for key in model.training_data_]},
        "initialized_from": lineage(summary),
        "license": shared.get("license"), "exported_from": shared.get("exported_from")}
    if folder is not None:
        facts.update(folder=str(folder), checkpoints=_checkpoints(folder / CHECKPOINTS),
                     probes=sorted(path.parent.name for path in (folder / "probes").glob("*/manifest.json")))
    return facts


def _recording(session: dict[str, Any]) -> dict[str, Any]:
    """A training session as the facts name it: identifier, animal, neurons, and its file's name (a URL whole)."""
    location = str(session.get("location") or "")
    return {"id": session.get("key"), "subject_id": session.get("subject_id"), "n_neurons": session.get("n_neurons"),
            "file": location if "://" in location else Path(location).name}


def _checkpoints(root: Path) -> dict[str, Any] | None:
    """The training checkpoints kept in ``root``: their steps and bytes; None without any."""
    steps = sorted(path.name for path in root.glob("step-*") if path.is_dir())
    if not steps:
        return None
    size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    return {"steps": [int(step.removeprefix("step-")) for step in steps], "bytes": size}


def fact_lines(facts: dict[str, Any]) -> list[str]:
    """``model_facts`` as lines of text, one fact a line (``- `` before each makes them a Markdown list)."""
    arch, training, data = facts["architecture"], facts["training"], facts["training_data"]
    bins = "not recorded" if facts["bin_size_s"] is None else f"{facts['bin_size_s'] * 1000:g} ms"
    stopped = " (stopped early)" if training["stopped_early"] else ""
    loss = training["best_validation_loss"]
    lines = [
        f"checksum (sha256 of manifest.json): {facts['sha256']}",
        f"made by nwb-neurpir {facts['package_version']} on {facts['created']} ({facts['format']})",
        f"modality: {facts['modality']}; bin size: {bins}",
        f"context covariates: {', '.join(facts['covariates']) or 'none (the encoder reads the activity alone)'}",
        f"architecture: {arch['representation_dim']}-d vectors, hidden {arch['hidden_dim']}, "
        f"{arch['conv_channels']} conv channels, {arch['loss']} loss, context "
        f"{arch['context'] or 'none'}; {arch['parameters']:,} parameters",
        f"training: {training['steps']} steps{stopped}; best validation loss "
        f"{'-' if loss is None else f'{loss:.4g}'}; {training['n_train_neurons']} training + "
        f"{training['n_validation_neurons']} validation neurons",
        f"training data: {data['n_recordings']} recordings, {data['n_neurons']} neurons, "
        f"{'?' if data['n_animals'] is None else data['n_animals']} animals"
        f"{' (identifiers redacted: sha256 of each recording identifier)' if data['redacted'] else ''}",
        *(f"  {_recording_line(recording)}" for recording in data["recordings"]),
        *([f"origin: {lineage_text(facts['initialized_from'])}"] if facts.get("initialized_from") else []),
        f"licence: {facts['license'] or 'not stated'}",
    ]
    if facts.get("exported_from"):
        lines.append(f"exported from the model with checksum {facts['exported_from']}")
    if "folder" in facts:
        kept = facts["checkpoints"]
        lines.append("checkpoints: none" if kept is None else
                     f"checkpoints: steps {', '.join(map(str, kept['steps']))} ({kept['bytes'] / 1e6:.1f} MB, to "
                     "resume training; `neurpir export` leaves them out)")
        lines.append(f"probes: {', '.join(facts['probes']) or 'none'}")
    return lines


def _recording_line(recording: dict[str, Any]) -> str:
    """One training recording: its identifier (DANDI asset ID or NWB identifier), animal, neurons and file."""
    parts = [str(recording["id"])]
    parts.extend(f"{name} {recording[key]}" for key, name in (("subject_id", "animal"), ("n_neurons", "neurons"),
                                                              ("file", "file")) if recording.get(key))
    return ", ".join(parts)

"""Training: two segment-length-augmented views per neuron, neurons drawn in groups of co-recorded neurons, a
within-group loss (Barlow Twins or VICReg) plus a cross-view prediction term (each view's vector, with the population
activity, predicts the neuron's activity in the other view), with checkpoints one can kill and resume.

AdamW with linear warm-up and cosine decay, gradient clipping, a validation loss on held-out neurons with early
stopping (the best weights are kept), a tqdm bar with the loss terms. Every step's sample is drawn from a
generator seeded by (seed, step, rank), so a run resumed from a checkpoint continues exactly as it would have.
Works alone or under ``torchrun`` (DistributedDataParallel, neurons sharded across ranks).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nwb_neurpir.errors import CannotResume, NeurPIRError, RankError, Stopped
from nwb_neurpir.input_files import parse_json, read_regular
from nwb_neurpir.model.checkpoint import (
    CHECKPOINTS,
    MAX_JSON_BYTES,
    checkpoint_folder,
    checkpoint_step,
    latest_checkpoint,
    read_folder,
    readable_checkpoint,
    upgrade_advice,
    write_checkpoint,
)
from nwb_neurpir.model.config import NeurPIRConfig, override_text
from nwb_neurpir.model.context import ContextEncoder, fit_context
from nwb_neurpir.model.distributed import (
    DistEnv,
    barrier,
    broadcast_module,
    from_rank_0,
    max_over_ranks,
    setup_distributed,
)
from nwb_neurpir.model.encoder import ActivityDecoder, Expander, NeuronEncoder, batch_tensors, encode
from nwb_neurpir.model.losses import barlow_loss, grouped_loss, vicreg_loss
from nwb_neurpir.model.estimator import MODEL_FILES, NeurPIR, load_state
from nwb_neurpir.model.segments import PairBatch, ViewSampler
from nwb_neurpir.model.sessions import SessionData, activity_fingerprint, prepare_session, session_key
from nwb_neurpir.model.threads import use_threads
from nwb_neurpir.model.trainable import MIN_NEURONS, trainable_recordings
from nwb_neurpir.progress import progress_or_environment, tqdm
from nwb_neurpir.provenance import software_versions
from nwb_neurpir.recording import Recording, refuse_recordings_read_twice, same_grid

__all__ = ["checkpoint_config", "checkpoint_during", "refuse_replacing_model", "train"]

log = logging.getLogger(__name__)

TRAINING_FILES = (*MODEL_FILES, "training.safetensors", "trainer.json")
VALIDATION_BATCHES = 2


@dataclass
class TrainerState:
    """Progress that a checkpoint must carry besides weights."""

    step: int = 0
    best_validation: float = math.inf
    bad_validations: int = 0
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    """Every ``validate_every`` steps: the step, the mean training loss since the last entry, the validation loss."""
    window: list[float] = field(default_factory=list)
    """Training losses since the last history entry."""
    finished: str | None = None
    """When the final step was reached (ISO 8601, UTC; None before): the model's ``created`` time, kept here so that a
    run resumed from the final checkpoint saves the same model."""
    runs: list[dict[str, Any]] = field(default_factory=list)
    """One entry per process run that trained the model (a resumed or extended training adds one): the steps it
    trained (``start_step`` to ``end_step``), its ``max_steps`` (the learning-rate schedule follows it), the
    ``threads``, ``device`` and ``world_size`` it ran with (they change the floating-point result) and its
    ``software`` (:func:`nwb_neurpir.provenance.software_versions`)."""
    initialized_from: dict[str, Any] | None = None
    """The model a fine-tuning started from (:meth:`NeurPIR.origin`), None for a training from scratch."""


class _PairLoss(nn.Module):
    """Encoder and the loss-only heads (VICReg's expander, the activity decoder of the prediction term) computing the
    loss of a PairBatch: the within-group loss plus ``predict_weight`` times the cross-view prediction error (one module
    for DDP)."""

    def __init__(self, encoder: NeuronEncoder, config: NeurPIRConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.expander: Expander | None = None
        if config.loss == "vicreg":
            self.expander = Expander(config.representation_dim, config.expander_dim)
            weights = (config.invariance_weight, config.variance_weight, config.covariance_weight)
            self.loss = lambda a, b: vicreg_loss(self.expander(a), self.expander(b), *weights)
        else:
            self.loss = lambda a, b: barlow_loss(a, b, config.redundancy_weight, config.scale_weight)
        self.predict_weight = config.predict_weight
        self.decoder = (ActivityDecoder(config.representation_dim, config.max_chunk_bins, 2 * config.hidden_dim)
                        if config.predict_weight else None)

    def forward(self, pair: PairBatch, device: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        inputs_a, inputs_b = batch_tensors(pair.view_a, device), batch_tensors(pair.view_b, device)
        z_a = encode(self.encoder, inputs_a, pair.recording, pair.keep_a, device)
        z_b = encode(self.encoder, inputs_b, pair.recording, pair.keep_b, device)
        total, terms = grouped_loss(self.loss, z_a, z_b, torch.from_numpy(pair.group).to(device))
        if self.decoder is not None:
            error = (self.decoder(z_a, **inputs_b) + self.decoder(z_b, **inputs_a)) / 2
            total = total + self.predict_weight * error
            terms["prediction"] = error
        return total, {name: term.detach() for name, term in terms.items()}

    def heads(self) -> dict[str, nn.Module]:
        """The loss-only modules in use, by the prefix their tensors carry in a checkpoint."""
        return {name: module for name, module in (("expander", self.expander), ("decoder", self.decoder))
                if module is not None}


def _learning_rate(config: NeurPIRConfig, step: int) -> float:
    warmup = min(config.warmup_steps, config.max_steps // 4)  # a short run still reaches its learning rate
    warm = min(1.0, (step + 1) / max(warmup, 1))
    progress = step / max(config.max_steps, 1)
    return config.learning_rate * warm * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _split_neurons(sessions: list[SessionData], config: NeurPIRConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per session: training neurons and held-out validation neurons.

    ``validation_fraction`` of each session's neurons (seeded); when sessions are too small for that to hold out two
    (a validation loss compares neurons), the same fraction of all neurons pooled over sessions instead, with a warning
    when even that holds out fewer than two (then none). A session keeps ``MIN_NEURONS`` training neurons.
    """
    orders = [np.random.default_rng([config.seed, index]).permutation(s.n_neurons) for index, s in enumerate(sessions)]
    n_val = [max(min(int(config.validation_fraction * s.n_neurons), s.n_neurons - MIN_NEURONS), 0) for s in sessions]
    total = sum(s.n_neurons for s in sessions)
    wanted = int(round(config.validation_fraction * total))
    if sum(n_val) < MIN_NEURONS <= wanted:
        n_val = [0] * len(sessions)
        for index in np.random.default_rng([config.seed, 7919]).permutation(len(sessions)):
            if sum(n_val) >= wanted:
                break
            n_val[index] = min(wanted - sum(n_val), max(sessions[index].n_neurons - MIN_NEURONS, 0))
    if sum(n_val) < MIN_NEURONS:
        n_val = [0] * len(sessions)
    if config.validation_fraction and sum(n_val) == 0:
        log.warning("no neuron can be held out for validation (%d neurons in %d recording%s): no validation loss, no "
                    "early stopping; the last weights are kept", total, len(sessions), "" if len(sessions) == 1 else "s")
    val_pools = [np.sort(order[:k]) for order, k in zip(orders, n_val)]
    train_pools = [np.sort(order[k:]) for order, k in zip(orders, n_val)]
    return train_pools, val_pools


def _local_batch_size(config: NeurPIRConfig, world_size: int) -> int:
    """Neurons one rank draws per step: its share of ``batch_size``, at least two per group."""
    return max(2 * config.batch_groups, config.batch_size // world_size)


def _sharding_warnings(train_pools: list[np.ndarray], world_size: int, config: NeurPIRConfig) -> list[str]:
    """What splitting each step's neurons over ``world_size`` ranks does against the design of the loss: groups
    smaller than ``ViewSampler.MIN_GROUP`` neurons, recordings too small per rank to be a group alone (their neurons
    then share a group with other recordings')."""
    if world_size <= 1:
        return []
    minimum, warnings_ = ViewSampler.MIN_GROUP, []
    group = config.batch_size // config.batch_groups
    local_group = _local_batch_size(config, world_size) // config.batch_groups
    if local_group < minimum <= group:
        warnings_.append(f"each of the {world_size} ranks computes the loss on its own {local_group} neurons per "
                         f"group (batch_size {config.batch_size} over {world_size} ranks and {config.batch_groups} "
                         f"groups), fewer than {minimum}; scale --batch-size with the number of ranks")
    split = sum(1 for pool in train_pools if pool.size >= minimum > pool[::world_size].size)
    if split:
        warnings_.append(f"over {world_size} ranks, {split} recording(s) keep fewer than {minimum} training neurons "
                         "per rank: a rank mixes their neurons with other recordings' in one loss group; use fewer "
                         "ranks for this data")
    return warnings_


def _check_recordings(recordings: list[Recording]) -> str:
    if not recordings:
        raise NeurPIRError("no recordings to train on")
    refuse_recordings_read_twice(recordings)
    modalities = sorted({r.modality for r in recordings})
    if len(modalities) > 1:
        raise NeurPIRError(f"recordings mix modalities {modalities}; train one model per modality (modality=... "
                           "or --modality reads only those files)")
    if not any(r.n_neurons and r.n_bins for r in recordings):
        raise NeurPIRError("the recordings hold no activity to train on")
    shortest, longest = min(r.bin_size for r in recordings), max(r.bin_size for r in recordings)
    if not same_grid(shortest, longest):
        raise NeurPIRError(f"recordings have different bin sizes ({shortest * 1000:.4g} to {longest * 1000:.4g} ms); "
                           "read them on one grid (--bin-size, bin_size=...)")
    return modalities[0]


def _check_resumable(parsed: dict[str, Any], config: NeurPIRConfig, recordings: list[Recording],
                     folder: Path, out_dir: Path) -> None:
    """A checkpoint is resumed only with the same hyperparameters, on the same neurons of the same recordings, read
    on the same time grid, and only by a release at least as new as the one that wrote it."""
    start_over = _start_over(out_dir)
    advice = upgrade_advice(parsed["model.json"].get("package_version"))
    if advice is not None:
        raise CannotResume(f"{advice} and continue its training", folder, start_over=start_over)
    conflicts = config.resume_conflicts(parsed["config.json"])
    changed = list(conflicts)
    same_as_saved = [f"--set {override_text(name, value)}" for name, value in conflicts.items()]
    meta = parsed["model.json"]
    saved_bin = meta.get("bin_size")
    if saved_bin is not None and not same_grid(saved_bin, recordings[0].bin_size):
        changed.append(f"bin size {saved_bin * 1000:g} ms, now {recordings[0].bin_size * 1000:g} ms")
        same_as_saved.append(f"--bin-size {saved_bin:g}")
    saved_during, during = _saved_during(meta), recordings[0].during
    if saved_during != during:
        changed.append(f"--during {saved_during or '(none)'}, now {during or '(none)'}")
        same_as_saved.append(f"--during {saved_during}" if saved_during else "no --during")
    if changed:
        raise CannotResume(f"the checkpoint was made with different settings ({', '.join(changed)}); continue it "
                           f"with the saved ones ({' '.join(same_as_saved)}) or use another output folder", folder,
                           start_over=start_over)
    done = parsed["trainer.json"]["state"]["step"]
    if done > config.max_steps:
        raise CannotResume(f"the checkpoint is at step {done}, past max_steps {config.max_steps}; ask for at least "
                           f"{done} steps", folder, start_over=start_over)
    saved_neurons = [session.get("n_neurons") for session in meta.get("training", {}).get("sessions", [])]
    if meta.get("training_data") != [session_key(r) for r in recordings] or (
            saved_neurons and saved_neurons != [r.n_neurons for r in recordings]):
        raise CannotResume("the checkpoint was trained on other recordings or other neurons of them (another "
                           "--filter?); use another output folder", folder, start_over=start_over)


def _check_same_activity(meta: dict[str, Any], recordings: list[Recording], fingerprints: list[dict[str, Any]],
                         folder: Path, out_dir: Path) -> None:
    """A checkpoint is resumed only on the activity it was trained on: each recording's bins and activity checksum
    (:func:`activity_fingerprint`) as its model.json records them (a checkpoint of a release that recorded none is
    not checked)."""
    saved_sessions = meta.get("training", {}).get("sessions", [])
    for saved, recording, now in zip(saved_sessions, recordings, fingerprints):
        if "activity_sha256" not in saved or saved["activity_sha256"] == now["activity_sha256"]:
            continue
        what = (f"{saved['n_bins']} bins, now {now['n_bins']}" if saved.get("n_bins") != now["n_bins"] else
                f"same {recording.n_neurons} neurons and {now['n_bins']} bins, other values")
        raise CannotResume(f"the activity of {recording.source.label()} changed since the checkpoint was made "
                           f"({what}); train into another output folder", folder, start_over=_start_over(out_dir))


def refuse_replacing_model(out_dir: Path) -> None:
    """Refuse to train from scratch into ``out_dir`` when it holds a model (a manifest or weights) but no checkpoint
    to continue: the training would replace that model. ``--no-resume`` (``resume=False``) replaces it on purpose."""
    held = [name for name in ("manifest.json", "weights.safetensors") if (out_dir / name).exists()]
    if held and latest_checkpoint(out_dir / CHECKPOINTS) is None:
        raise CannotResume(f"holds a model ({held[0]}) but no checkpoint to continue its training, so training "
                           "would replace it; train into a new folder, or fine-tune it into one with --init-from "
                           "(warm_start=True)", out_dir, start_over=_start_over(out_dir))


def _start_over(out_dir: Path) -> str:
    """What ``--no-resume`` does, for the advice of a checkpoint that cannot be resumed."""
    return f"--no-resume (resume=False) trains again from scratch and replaces the model in {out_dir}"


def _check_same_init(parsed: dict[str, Any], init: NeurPIR | None, folder: Path, out_dir: Path) -> None:
    """A fine-tuning (``init``) resumes only a checkpoint fine-tuned from the same model; a checkpoint of a training
    from scratch, or of another model's fine-tuning, is refused."""
    if init is None:
        return
    origin = parsed["trainer.json"]["state"].get("initialized_from") or {}
    if origin.get("sha256") != init.origin()["sha256"]:
        raise CannotResume("the checkpoint is not of a fine-tuning of this model (--init-from, warm_start); train "
                           "into another output folder", folder, start_over=_start_over(out_dir))


_NO_CHECKPOINT, _UNREADABLE = -1, -2


def _agreed_checkpoint(root: Path, env: DistEnv) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint to resume from, read: rank 0 picks it (the newest readable one under ``root``) and every rank
    reads that one; when a rank cannot (``--out`` not shared by every node), every rank stops with an error."""
    try:
        found = readable_checkpoint(root, TRAINING_FILES) if env.is_main else None
    except NeurPIRError:
        from_rank_0(_UNREADABLE, env)
        raise
    step = from_rank_0(found[1]["trainer.json"]["state"]["step"] if found else _NO_CHECKPOINT, env)
    if step == _UNREADABLE:
        raise NeurPIRError("rank 0 cannot read the checkpoints", root)
    if step == _NO_CHECKPOINT:
        return None
    problem = None
    if found is None:
        folder = checkpoint_folder(root, step)
        try:
            found = folder, read_folder(folder, TRAINING_FILES)[0]
        except NeurPIRError as error:
            problem = error
    if not max_over_ranks(int(problem is not None), env):
        return found
    shared = "--out must be a folder every node shares"
    if problem is not None:
        raise RankError(f"cannot read the checkpoint rank 0 resumes from ({problem.message}); {shared}", folder)
    raise NeurPIRError(f"rank 0 resumes from the checkpoint of step {step}, which other ranks cannot read; {shared}",
                       root)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    state = optimizer.state_dict()
    tensors = {f"optimizer.{index}.{name}": torch.as_tensor(value).clone()
               for index, entries in state["state"].items() for name, value in entries.items()}
    return tensors, state["param_groups"]


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                       groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


class _Run:
    """One training run's moving parts (kept together so the loop stays readable)."""

    def __init__(self, recordings: list[Recording], config: NeurPIRConfig, out_dir: Path | None, resume: bool,
                 progress: bool = False, init: NeurPIR | None = None):
        if init is None and config.context != "none" and not any(r.covariates for r in recordings):
            log.warning("no covariates in the training recordings: training without context")
            config = dataclasses.replace(config, context="none")  # provenance records what was done
        self.config = config
        self.env = setup_distributed(config.device)
        use_threads(config.num_threads, self.env.world_size)
        self.out_dir = out_dir
        self.init = init
        self.data = [session_key(r) for r in recordings]
        self.origins = [{"location": r.source.recorded_location, "neuron_table": r.neuron_table.strip("/"),
                         **r.neuron_selection()} for r in recordings]
        self.bin_size = float(np.median([r.bin_size for r in recordings]))
        self.root = out_dir / CHECKPOINTS if out_dir is not None else None
        found = _agreed_checkpoint(self.root, self.env) if (resume and self.root is not None) else None
        folder, self.resumed = found if found is not None else (None, None)
        if self.resumed is not None:
            _check_resumable(self.resumed, config, recordings, folder, out_dir)  # type: ignore[arg-type]
            _check_same_init(self.resumed, init, folder, out_dir)  # type: ignore[arg-type]
        elif resume and out_dir is not None:
            refuse_replacing_model(out_dir)
        self.context = self._context(recordings, progress)
        contexts = [self.context.transform(r) if self.context else None for r in recordings]
        self.sessions = [prepare_session(r, config, c) for r, c in zip(recordings, contexts)]
        self.fingerprints = [activity_fingerprint(s) for s in self.sessions]
        if self.resumed is not None:
            _check_same_activity(self.resumed["model.json"], recordings, self.fingerprints,
                                 folder, out_dir)  # type: ignore[arg-type]
            if self.env.is_main:  # with or without progress bars: a batch log shows that the run went on
                tqdm.write(f"resuming from {folder}", file=sys.stderr)
        train_pools, val_pools = _split_neurons(self.sessions, config)
        shards = [pool[self.env.rank::self.env.world_size] for pool in train_pools]
        if self.env.is_main:
            for warning in _sharding_warnings(train_pools, self.env.world_size, config):
                log.warning(warning)
        lengths = (float(config.segment_length_min), float(config.segment_length_max))
        self.sampler = self._sampler(shards, lengths)
        self.n_train, self.n_val = int(sum(p.size for p in train_pools)), int(sum(p.size for p in val_pools))
        self.validation = self._validation_batches(val_pools, lengths)
        torch.manual_seed(config.seed)
        context_dim = self.context.output_dim if self.context else 0
        self.pair = _PairLoss(NeuronEncoder(config, context_dim), config)
        if init is not None:
            self.pair.encoder.load_state_dict(init.encoder_.state_dict())
        self.pair.to(self.env.device)
        self.optimizer = torch.optim.AdamW(self.pair.parameters(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.state = TrainerState(initialized_from=None if init is None else init.origin())
        self.best: dict[str, torch.Tensor] | None = None
        if self.resumed is not None:
            self._restore(self.resumed, str(folder))

    def _context(self, recordings: list[Recording], progress: bool) -> ContextEncoder | None:
        if self.init is not None:  # fine-tuning: the model's context, frozen, so that it means the same
            return self.init.context_
        if self.resumed is not None and self.resumed["trainer.json"]["state"].get("initialized_from"):
            return _saved_context(self.resumed)
        fit = self.resumed is None and self.env.is_main
        context = fit_context(recordings, self.config, fit=fit, progress=progress and fit)
        if context is None:
            return None
        if self.resumed is not None:
            load_state(context.network, self.resumed["weights.safetensors"], "context.", "checkpoint")
        else:
            broadcast_module(context.network, self.env)
        if not all(torch.isfinite(parameter).all() for parameter in context.network.parameters()):
            raise NeurPIRError("the CEBRA context fit diverged (its weights are not finite); try a lower "
                               "context_learning_rate or a higher context_temperature, or context=none")
        return context

    def _sampler(self, pools: list[np.ndarray], lengths: tuple[float, float]) -> ViewSampler:
        config = self.config
        return ViewSampler(self.sessions, pools, lengths, config.batch_groups, (config.unit_keep_min, 1.0),
                           config.min_view_epochs)

    def _validation_batches(self, val_pools: list[np.ndarray], lengths: tuple[float, float]) -> list[PairBatch]:
        if not any(pool.size for pool in val_pools):
            return []
        sampler = self._sampler(val_pools, lengths)
        size = max(2, min(self.config.batch_size, int(sum(pool.size for pool in val_pools))))
        return [sampler.sample(np.random.default_rng([self.config.seed, 999_983, i]), size)
                for i in range(VALIDATION_BATCHES)]

    def _restore(self, parsed: dict[str, Any], source: str) -> None:
        tensors = parsed["training.safetensors"]
        load_state(self.pair.encoder, parsed["weights.safetensors"], "encoder.", source)
        for name, head in self.pair.heads().items():
            load_state(head, tensors, f"{name}.", source)
        trainer = parsed["trainer.json"]
        _restore_optimizer(self.optimizer, tensors, trainer["param_groups"])
        self.state = _trainer_state(trainer["state"], source)
        best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best = best or None

    def model(self) -> NeurPIR:
        """The trained model: best validated weights when validation ran, else the last ones."""
        encoder = NeuronEncoder(self.config, self.context.output_dim if self.context else 0)
        encoder.load_state_dict(self.best if self.best is not None else self.pair.encoder.state_dict())
        summary = {"steps": self.state.step, "stopped_early": self.state.stopped_early,
                   "best_validation_loss": None if math.isinf(self.state.best_validation) else
                   self.state.best_validation, "history": self.state.history, "world_size": self.env.world_size,
                   "n_train_neurons": self.n_train, "n_validation_neurons": self.n_val,
                   "runs": [dict(entry) for entry in self.state.runs],
                   **({} if self.state.initialized_from is None else {"initialized_from": self.state.initialized_from}),
                   "sessions": [{"key": s.key, "subject_id": s.subject_id, "n_neurons": s.n_neurons, **fingerprint,
                                 **origin} for s, fingerprint, origin in zip(self.sessions, self.fingerprints,
                                                                            self.origins)]}
        return NeurPIR(self.config, encoder.cpu().eval(), self.context, self.data, summary, self.bin_size,
                       self.state.finished)

    def checkpoint(self) -> None:
        """Rank 0 writes a complete checkpoint; every rank waits for it."""
        if self.root is not None and self.env.is_main:
            files = self.model().files()
            files["weights.safetensors"].update(
                {f"encoder.{k}": v for k, v in self.pair.encoder.state_dict().items()})
            optimizer_tensors, groups = _optimizer_tensors(self.optimizer)
            training = {f"{name}.{k}": v for name, head in self.pair.heads().items()
                        for k, v in head.state_dict().items()}
            training.update(optimizer_tensors)
            training.update({f"best.{k}": v for k, v in (self.best or {}).items()})
            files["training.safetensors"] = training
            files["trainer.json"] = {"state": asdict(self.state), "param_groups": groups}
            folder = write_checkpoint(self.root, self.state.step, files)
            log.info("checkpoint of step %d saved: %s", self.state.step, folder)
        barrier(self.env)

    def validate(self) -> float:
        self.pair.eval()
        with torch.no_grad():
            losses = [float(self.pair(pair, self.env.device)[0]) for pair in self.validation]
        self.pair.train()
        return float(np.mean(losses))


def _saved_context(parsed: dict[str, Any]) -> ContextEncoder | None:
    """The context model a checkpoint holds (its layout, scaling and weights): a fine-tuning's, which came with the
    model it started from rather than from its training data."""
    meta = parsed["model.json"]["context"]
    if meta is None:
        return None
    context = ContextEncoder.from_meta(meta)
    load_state(context.network, parsed["weights.safetensors"], "context.", "checkpoint")
    return context


def _trainer_state(saved: dict[str, Any], source: str) -> TrainerState:
    """The ``TrainerState`` a checkpoint's ``trainer.json`` holds; keys this release does not know are refused."""
    unknown = sorted(set(saved) - {f.name for f in fields(TrainerState)})
    if unknown:
        raise NeurPIRError(f"trainer.json has unknown state keys {', '.join(unknown)}", source)
    return TrainerState(**saved)


def checkpoint_config(out_dir: Path) -> dict[str, Any] | None:
    """The ``config.json`` of the latest checkpoint in the model folder ``out_dir`` (None without one, or unreadable:
    the resume check says why later): the settings a resumed training keeps unless they are given."""
    return _checkpoint_json(out_dir, "config.json")


def checkpoint_during(out_dir: Path) -> str | None:
    """The ``--during`` the latest checkpoint in the model folder ``out_dir`` was trained with, as its ``model.json``
    records it per session (None without a checkpoint, or for one trained on all the observed time): what a resumed
    training reads unless ``--during`` is given."""
    return _saved_during(_checkpoint_json(out_dir, "model.json") or {})


def _saved_during(meta: dict[str, Any]) -> str | None:
    """The ``during`` a checkpoint's ``model.json`` (``meta``) records of its sessions; None when it records none."""
    sessions = meta.get("training", {}).get("sessions", [])
    return next((str(session["during"]) for session in sessions if isinstance(session, dict)
                 and session.get("during")), None)


def _checkpoint_json(out_dir: Path, name: str) -> dict[str, Any] | None:
    """The JSON file ``name`` of the latest checkpoint in the model folder ``out_dir`` (None without one, or
    unreadable: the resume check says why later)."""
    folder = latest_checkpoint(out_dir / CHECKPOINTS)
    try:
        saved = parse_json(read_regular(folder / name, MAX_JSON_BYTES, folder), name, folder) if folder else None
    except NeurPIRError:
        return None
    return saved if isinstance(saved, dict) else None


def _checkpoint_max_steps(out_dir: Path) -> int | None:
    """The ``max_steps`` of the latest checkpoint in ``out_dir`` (None without one), so that resuming without
    ``max_steps`` neither extends nor cuts a training whose default has changed since it was saved."""
    steps = (checkpoint_config(out_dir) or {}).get("max_steps")
    return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


def train(recordings: list[Recording], config: NeurPIRConfig | None = None, out_dir: str | Path | None = None,
          progress: bool | None = None, resume: bool = True, init: NeurPIR | None = None) -> NeurPIR:
    """Fit the context encoder and the neuron encoder on ``recordings``; save to ``out_dir`` when given.

    With ``resume`` (default) and an ``out_dir`` holding a complete checkpoint of the same settings and data,
    training continues from it; an ``out_dir`` holding a model without one is refused (``resume=False`` replaces
    it). ``init`` fine-tunes that trained model: training starts from its encoder weights with its context model
    (frozen), a new optimizer and step count; the recordings must be its input (modality, bin size) and ``config``
    must keep its :data:`~nwb_neurpir.model.config.REPRESENTATION_FIELDS`; the model records ``init`` as
    ``training_summary_["initialized_from"]``. ``max_steps=0`` returns an untrained encoder (an evaluation baseline).
    A recording with fewer than two neurons is left out with a warning (a ``NeurPIRError`` when no other remains).
    ``progress``: bars on stderr (None: unless ``NEURPIR_PROGRESS=0`` or ``TQDM_DISABLE=1``).
    """
    progress = progress_or_environment(progress)
    config = config or NeurPIRConfig()
    if config.max_steps is None and resume and out_dir is not None:  # a checkpoint goes on as long as it was to
        config = dataclasses.replace(config, max_steps=_checkpoint_max_steps(Path(out_dir)))
    config = config.resolved(_check_recordings(recordings))
    if init is not None:
        _check_init(init, recordings, config)
    recordings = trainable_recordings(recordings)
    config.check_context_architecture()
    run = _Run(recordings, config, Path(out_dir) if out_dir is not None else None, resume, progress, init)
    net: nn.Module = run.pair
    if run.env.active:
        net = nn.parallel.DistributedDataParallel(run.pair)
    local_batch = _local_batch_size(config, run.env.world_size)
    bar = tqdm(total=config.max_steps, initial=run.state.step, desc="train", unit="step",
               disable=not progress or not run.env.is_main)
    run.pair.train()
    first_step = run.state.step
    if run.resumed is None or (first_step < config.max_steps and not run.state.stopped_early):
        _begin_run(run)
    if run.env.is_main:
        log.info(_start_line(run))
    stop = 0
    with _stop_requests(run.root is not None) as stops, _said_out_of_memory(run):
        while run.state.step < config.max_steps and not run.state.stopped_early and not stop:
            _step(run, net, config, local_batch, bar)
            stop = max_over_ranks(stops[0] if stops else 0, run.env)  # every rank stops after the same step
    bar.close()
    if stop and run.state.step < config.max_steps and not run.state.stopped_early:
        run.checkpoint()
        name = signal.Signals(stop).name
        raise Stopped(f"stopped by {name} at step {run.state.step}; a checkpoint of that step is saved: run "
                      "the same command to resume", run.out_dir, signal=stop)
    model = run.model()
    if run.out_dir is not None and run.env.is_main:
        saved = _saved_final_model(run) if run.state.step == first_step else None
        model = saved or model
        if saved is None:
            model.save(run.out_dir)
    barrier(run.env)
    model.training_summary_.update(resumed_from_step=None if run.resumed is None else first_step,
                                   steps_this_run=run.state.step - first_step)
    return model


def _check_init(init: NeurPIR, recordings: list[Recording], config: NeurPIRConfig) -> None:
    """A fine-tuning of ``init`` reads its input (each recording's modality and bin size) and keeps the settings of
    its representation."""
    for recording in recordings:
        init.check_input(recording)
    conflicts = config.representation_conflicts(init.config)
    if conflicts:
        kept = ", ".join(f"{name} at its default" if value is None else override_text(name, value)
                         for name, value in conflicts.items())
        raise NeurPIRError(f"fine-tuning keeps the settings that define the model's vectors, and the model has "
                           f"{kept}: leave out the options that change them ({', '.join(conflicts)}; "
                           "--covariates sets context_covariates)")


def _start_line(run: _Run) -> str:
    """What a run is about to do, for the log: the data, the steps left, the threads and processes."""
    state, config = run.state, run.config
    if run.resumed is not None and (state.step >= config.max_steps or state.stopped_early):
        early = " (stopped early)" if state.stopped_early else ""
        return f"already complete at step {state.step} of {config.max_steps}{early}: no step to train"
    steps = f"steps {state.step} to {config.max_steps}" if state.step else f"{config.max_steps} steps"
    processes = f" x {run.env.world_size} processes" if run.env.world_size > 1 else ""
    return (f"training on {_count(len(run.sessions), 'recording')}, {run.n_train + run.n_val} neurons ({run.n_val} "
            f"held out for validation): {steps}, {_count(torch.get_num_threads(), 'thread')}{processes}, device "
            f"{run.env.device}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _saved_final_model(run: _Run) -> NeurPIR | None:
    """The model in the output folder when it is the one the resumed final checkpoint ended with (a finished training
    run again, e.g. a requeued job: rewriting it would change nothing but its files)."""
    try:
        saved = NeurPIR.load(run.out_dir)  # type: ignore[arg-type]
    except NeurPIRError:
        return None  # missing (killed before saving it) or damaged: written again from the checkpoint
    same = saved.created_ == run.state.finished and saved.training_summary_.get("steps") == run.state.step
    return saved if same else None


@contextmanager
def _stop_requests(enabled: bool) -> Iterator[list[signal.Signals]]:
    """While ``enabled`` (training into a folder), SIGINT and SIGTERM do not kill the run: they are collected, and the
    loop stops after its current step (under torchrun every rank after the same one) and saves a checkpoint there."""
    requests: list[signal.Signals] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def collect(number: int, _frame: object) -> None:
        requests.append(signal.Signals(number))

    previous = {number: signal.signal(number, collect) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requests
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


_ALLOCATOR_FAILURES = ("can't allocate memory", "could not create a primitive", "out of memory")
"""How torch's allocators say they got no memory: the CPU one, oneDNN's (its scratch space), CUDA's and MPS's."""


@contextmanager
def _said_out_of_memory(run: _Run) -> Iterator[None]:
    """Running out of memory in a training step (``MemoryError``, or torch's ``RuntimeError`` of an allocator that
    got none) becomes one line on the step, the settings that use less memory and the checkpoint kept; other errors
    pass unchanged. A ``RankError``: under torchrun, the rank that ran out says so."""
    try:
        yield
    except (MemoryError, RuntimeError) as error:
        if not isinstance(error, MemoryError) and not any(text in str(error) for text in _ALLOCATOR_FAILURES):
            raise
        raise RankError(_out_of_memory_advice(run), run.out_dir) from None


def _out_of_memory_advice(run: _Run) -> str:
    """What happened at which step, what to lower, and whether a checkpoint lets the same command resume."""
    config = run.config
    advice = (f"out of memory in training step {run.state.step + 1}; a step's memory grows with its neurons and the "
              f"length of their views: lower --batch-size (batch_size, {config.batch_size} now; e.g. 64) or "
              f"--set segment_length_max=... ({config.segment_length_max:g} s now), or free memory")
    if run.root is None:
        return advice
    latest = latest_checkpoint(run.root)
    if latest is None:
        return f"{advice}; no checkpoint was saved yet"
    return (f"{advice}; the checkpoint of step {checkpoint_step(latest)} is kept: the same command resumes from it "
            "(another --batch-size needs --no-resume)")


def _begin_run(run: _Run) -> None:
    """Record this process's run in the trainer state (see ``TrainerState.runs``), after the steps of a checkpoint
    whose release recorded no runs (:func:`_unrecorded_run`); when it resumes a run that had another schedule, thread
    count, device or number of processes, warn that the model will differ from an uninterrupted training."""
    entry = {"start_step": run.state.step, "end_step": run.state.step, "max_steps": run.config.max_steps,
             "threads": torch.get_num_threads(), "device": str(run.env.device), "world_size": run.env.world_size,
             "software": software_versions()}
    if run.state.step and not run.state.runs and run.resumed is not None:
        run.state.runs.append(_unrecorded_run(run.state.step, run.resumed["config.json"]))
    if run.state.runs and run.env.is_main:
        for warning in _resume_differences(run.state.runs[-1], entry):
            log.warning(warning)
    run.state.runs.append(entry)


def _unrecorded_run(step: int, saved_config: dict[str, Any]) -> dict[str, Any]:
    """The run of a checkpoint whose release recorded none (before ``TrainerState.runs``): steps 0 to ``step`` of its
    saved ``max_steps``; its threads, device, processes and software are unknown (None, "an earlier release")."""
    return {"start_step": 0, "end_step": step, "max_steps": saved_config.get("max_steps"), "threads": None,
            "device": None, "world_size": None, "software": {"nwb-neurpir": "an earlier release"}}


def _resume_differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Why a run resuming after ``before`` (a ``TrainerState.runs`` entry) ends with another model than one
    uninterrupted training would."""
    differences = []
    if before["max_steps"] != now["max_steps"]:
        differences.append(f"extending a training of max_steps {before['max_steps']} to {now['max_steps']}: the "
                           "learning-rate schedule (warm-up, cosine decay) follows max_steps, so the model differs "
                           f"from one trained for {now['max_steps']} steps from the start (model.json lists both runs)")
    changed = [f"{now[key]} {name} (before: {before[key]})" for key, name in
               (("threads", "threads"), ("device", "device"), ("world_size", "processes"))
               if before.get(key) not in (None, now[key])]  # None: not recorded by an earlier release
    if changed:
        differences.append(f"resuming with {', '.join(changed)}: thread count, device and processes change the "
                           "floating-point arithmetic, so the model differs from an uninterrupted training with the "
                           "settings before (model.json lists both runs)")
    return differences


def _step(run: _Run, net: nn.Module, config: NeurPIRConfig, local_batch: int, bar: tqdm) -> None:
    """One optimisation step, its history, progress and (every ``checkpoint_every`` steps) checkpoint."""
    step = run.state.step
    for group in run.optimizer.param_groups:
        group["lr"] = _learning_rate(config, step)
    pair = run.sampler.sample(np.random.default_rng([config.seed, step, run.env.rank]), local_batch)
    loss, terms = net(pair, run.env.device)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(run.pair.parameters(), config.grad_clip)
    run.optimizer.step()
    run.state.step = step + 1
    run.state.runs[-1]["end_step"] = run.state.step
    run.state.window.append(float(loss.detach()))
    postfix = {name[:3]: f"{float(term):.3f}" for name, term in terms.items()}
    if run.state.step % config.validate_every == 0 or run.state.step == config.max_steps:
        _record_history(run)
        if "validation" in run.state.history[-1]:
            postfix["val"] = f"{run.state.history[-1]['validation']:.3f}"
    bar.set_postfix(postfix, refresh=False)
    bar.update(1)
    final = run.state.stopped_early or run.state.step == config.max_steps
    run.state.finished = _agreed_now(run.env) if final else None
    if run.state.step % config.checkpoint_every == 0 or final:
        run.checkpoint()


def _agreed_now(env: DistEnv) -> str:
    """The current time (ISO 8601, UTC, seconds), the same on every rank (the latest of their clocks)."""
    seconds = max_over_ranks(int(time.time()), env)
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _record_history(run: _Run) -> None:
    """Append a history entry (with held-out neurons: validate, keep the best weights and maybe stop early) and log
    it."""
    state = run.state
    entry = {"step": state.step, "train": float(np.mean(state.window))}
    state.window = []
    state.history.append(entry)
    if run.validation:
        _validate(run, entry)
    if run.env.is_main:
        log.info(_history_line(entry, state, run.config.max_steps))
        if state.stopped_early:
            log.info("early stopping at step %d (no validation improvement for %d checks)", state.step,
                     state.bad_validations)


def _history_line(entry: dict[str, float], state: TrainerState, max_steps: int) -> str:
    """A history entry for the log: the step, the training loss and, with validation, its loss and the best one."""
    line = f"step {state.step}/{max_steps}: training loss {entry['train']:.4f}"
    if "validation" in entry:
        line += f", validation loss {entry['validation']:.4f} (best {state.best_validation:.4f})"
    return line


def _validate(run: _Run, entry: dict[str, float]) -> None:
    """Add the validation loss to the history ``entry``, keep the best weights and maybe stop early."""
    state = run.state
    value = entry["validation"] = run.validate()
    if value < state.best_validation - 1e-4 * abs(state.best_validation if math.isfinite(state.best_validation)
                                                  else 0.0):
        state.best_validation, state.bad_validations = value, 0
        run.best = {k: v.detach().cpu().clone() for k, v in run.pair.encoder.state_dict().items()}
    else:
        state.bad_validations += 1
        if run.config.early_stopping_patience and state.bad_validations >= run.config.early_stopping_patience:
            state.stopped_early = True

"""Every NeurPIR setting in one dataclass, with per-modality defaults, a strict JSON round trip and the one config
loader (``NeurPIRConfig.from_file``) that the CLI and the benchmarks use.

Most fields are hyperparameters: they decide what a model computes, and a saved model's ``config.json`` and its
provenance record them. A few are runtime settings (``RUNTIME_FIELDS``: device, threads, checkpoint interval,
embedding batch size): they decide where and how fast the work runs, so they are not hyperparameters and a resumed
run may change them. The thread count and the device still change the floating-point result (the same count and
device on one machine give byte-identical weights, another count or device slightly different ones), so the ones
each training run used are recorded as facts of that run in ``model.json`` (``training.runs``), not in the config.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.input_files import parse_json

__all__ = ["MODALITY_DEFAULTS", "REPRESENTATION_FIELDS", "RESUMABLE_FIELDS", "RUNTIME_FIELDS", "NeurPIRConfig",
           "covariate_patterns", "override_text", "parse_overrides"]

MODALITY_DEFAULTS: dict[str, dict[str, Any]] = {
    # Spikes: a few seconds up to tens of seconds of activity (or a few trials up to many), session-normalised counts,
    # embedded from at most 64 s; short training carries over best to unseen animals on real data (Steinmetz, 3 folds:
    # 400 steps 0.381, 800 steps 0.347).
    "spikes": {"segment_length_min": 1.0, "segment_length_max": 16.0, "normalization": "session",
               "segment_sampling": "auto", "embed_max_seconds": 64.0, "max_steps": 400},
    # Calcium: dF/F scale differs per ROI, so z-score each neuron. Each view is 100-150 s of chunks drawn from the whole
    # session (at most half of it), so that it sees the neuron across the session as whole-session statistics do, and
    # a neuron is embedded from up to 10 min: on simulated calcium 0.528 +- 0.028 against 0.425 +- 0.013 with
    # contiguous 4-64 s views embedded from 64 s (3 seeds; BENCHMARKS.md), at 5-6x the training time. Calcium gains
    # from longer training: 1,600 steps 0.564 +- 0.028 against 0.528 +- 0.028 at 800 (3 seeds; BENCHMARKS.md).
    "ophys": {"segment_length_min": 100.0, "segment_length_max": 150.0, "normalization": "neuron",
              "segment_sampling": "chunks", "embed_max_seconds": 600.0, "max_steps": 1600},
}
"""Values used for fields left at ``None``, by modality."""
_DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
"""The ``device`` settings accepted: ``auto`` or a torch device string of the CPU, a CUDA GPU or Apple's MPS."""


def _runtime(default: Any) -> Any:  # noqa: ANN401 - a dataclass field
    """A runtime setting: where and how fast the work runs (not a hyperparameter; threads and device are recorded
    per training run in model.json, as they change the floating-point result)."""
    return dataclasses.field(default=default, metadata={"runtime": True})


def _resumable(default: Any) -> Any:  # noqa: ANN401 - a dataclass field
    """A hyperparameter that a resumed run may change: how long training goes on, how much activity embedding reads."""
    return dataclasses.field(default=default, metadata={"resumable": True})


def _added(default: Any, before: Any) -> Any:  # noqa: ANN401 - a dataclass field
    """A hyperparameter added after models were first saved: a saved config without it was trained as ``before``."""
    return dataclasses.field(default=default, metadata={"before": before})


@dataclass(frozen=True)
class NeurPIRConfig:
    """Hyperparameters of the context encoder, the neuron encoder, the views and the training loop, and a few runtime
    settings (:data:`RUNTIME_FIELDS`).

    Fields left at ``None`` are filled from :data:`MODALITY_DEFAULTS` (or from the data) by :meth:`resolved`, and the
    resolved config's :meth:`hyperparameters` are what a saved model records.
    """

    # --- data and views -------------------------------------------------------------------------------------------
    modality: Literal["spikes", "ophys"] | None = None
    """Taken from the recordings when None; all training recordings must share it."""
    normalization: Literal["session", "neuron", "none"] | None = None
    """``session``: spikes divided by the session's mean count per bin then log1p, traces divided by the session's
    standard deviation; ``neuron``: each neuron z-scored; ``none``: log1p counts / raw traces."""
    segment_length_min: float | None = None
    """Shortest view, seconds of observed activity."""
    segment_length_max: float | None = None
    """Longest view, seconds; equal to ``segment_length_min`` gives fixed-length views (the ablation)."""
    chunk_bins: int = 0
    """Bins per chunk the temporal network sees at once; 0 picks the longest epoch, capped at ``max_chunk_bins``."""
    max_chunk_bins: int = 128
    """The encoder reads chunks padded to this many bins."""
    min_view_epochs: int = 8
    """Trial-cut recordings (chunks are whole epochs): a view holds at least this many trials, whatever its drawn
    length (a few 400 ms windows describe a neuron too poorly to be a positive pair)."""
    segment_sampling: Literal["auto", "contiguous", "chunks"] | None = None
    """``contiguous``: a run of consecutive chunks; ``chunks``: a random set of whole chunks (trials, or windows of a
    continuous recording); ``auto`` uses ``chunks`` when the recording is made of short epochs (trial windows)."""

    # --- context (CEBRA) ------------------------------------------------------------------------------------------
    context: Literal["cebra", "none"] = "cebra"
    context_dim: int = 8
    context_architecture: str = "offset10-model"
    context_hidden: int = 32
    context_iterations: int = 300
    context_batch_size: int = 256
    context_learning_rate: float = 3e-4
    context_temperature: float = 1.0
    context_time_offsets: int = 10
    context_max_samples: int = 8000
    """Bins (over all sessions, in contiguous blocks) the CEBRA fit sees; bounds its cost."""
    context_covariates: str | None = _added(None, before=None)
    """The covariates the context reads, as comma-separated names or shell patterns (``trials/contrast_*,
    behavior/Position/*``; a multi-column covariate is named with or without its ``[i]``); None: every covariate of
    the training recordings. A pattern that matches none of them is refused."""

    # --- neuron encoder ---------------------------------------------------------------------------------------------
    hidden_dim: int = 64
    """Width of the chunk tokens read from the whole chunk."""
    conv_channels: int = 16
    """Channels of the shift-invariant convolutional summary added to each chunk token."""
    representation_dim: int = 64
    expander_dim: int = 256
    """Width of VICReg's expander (``loss="vicreg"`` only)."""

    # --- population context ----------------------------------------------------------------------------------------
    batch_groups: int = 2
    """Recordings per batch; a batch's neurons are split evenly over them, each group's views cover the same chunks,
    and the loss compares neurons within a group."""
    unit_keep_min: float = 0.5
    """Unit dropout: each view lets a neuron attend to a random ``unit_keep_min``..100 % of its group."""
    context_neurons: int = 512
    """When embedding, each neuron attends to at most this many neurons of its recording (a seeded random subset of
    larger recordings; bounds memory); 0: to itself only, the vector without its population context (on Steinmetz,
    3 folds, 2 seeds: 0.357 against 0.393)."""

    # --- loss and optimisation --------------------------------------------------------------------------------------
    loss: Literal["barlow", "vicreg"] = "barlow"
    """``barlow``: Barlow Twins on the representation; ``vicreg``: VICReg on the expander output. Both per group."""
    redundancy_weight: float = 0.02
    """Barlow Twins' weight of the off-diagonal cross-correlations."""
    scale_weight: float = 1.0
    """Barlow Twins: weight of the term that centres each dimension and scales it to unit spread within a group."""
    predict_weight: float = _added(50.0, before=0.0)
    """Weight of the cross-view prediction term: the vector of one view, with the population activity of a chunk of
    the other view, must predict the neuron's activity in that chunk (NeuPRINT-like; 0: off). On Steinmetz (3 folds,
    2 seeds) 50 gives 0.393 against 0.381 without it; 10 and 200 gave less (seed 0: 0.378, 0.374)."""
    invariance_weight: float = 25.0
    variance_weight: float = 25.0
    covariance_weight: float = 1.0
    batch_size: int = 256
    max_steps: int | None = _resumable(None)
    """Training steps; None: a resumed checkpoint's own, else the modality's default (400 for spikes, 1,600 for
    calcium; :data:`MODALITY_DEFAULTS` says why). The simulated demo trains ``DEMO_TRAINING_STEPS``."""
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    """Steps of linear learning-rate warmup, at most a quarter of ``max_steps``."""
    grad_clip: float = 1.0
    seed: int = 0
    validation_fraction: float = 0.1
    validate_every: int = _resumable(100)
    early_stopping_patience: int = _resumable(5)
    """Validations without improvement before stopping; 0 never stops early."""
    checkpoint_every: int = _runtime(200)
    num_threads: int = _runtime(0)
    """Torch CPU threads; 0: ``OMP_NUM_THREADS`` when set, else every CPU the process may use (those it may run on,
    capped by a cgroup CPU quota; ``nwb_neurpir.model.threads``). Another count gives slightly different weights
    (floating-point sums in another order); model.json records the count each run used."""
    device: str = _runtime("auto")
    """``auto`` (the GPU when CUDA is available, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""

    # --- embedding ------------------------------------------------------------------------------------------------
    embed_batch_size: int = _runtime(64)
    """Neurons encoded at once (memory only: each neuron's own vector does not depend on the others of its batch)."""
    embed_max_seconds: float | None = _resumable(None)
    """Use at most this much observed activity per neuron when embedding (chunks spread evenly over the session;
    bounds the cost on long recordings); 0 = all."""

    def __post_init__(self) -> None:
        _check(self.context in ("cebra", "none"), f"context must be 'cebra' or 'none', not {self.context!r}")
        _check(self.modality in (None, "spikes", "ophys"), f"unknown modality {self.modality!r}")
        _check(self.normalization in (None, "session", "neuron", "none"),
               f"unknown normalization {self.normalization!r}")
        _check(self.segment_sampling in (None, "auto", "contiguous", "chunks"),
               f"unknown segment_sampling {self.segment_sampling!r}")
        _check(self.loss in ("barlow", "vicreg"), f"unknown loss {self.loss!r}")
        _check(isinstance(self.device, str) and _DEVICES.fullmatch(self.device) is not None,
               f"device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        _check(0.0 < self.unit_keep_min <= 1.0, "unit_keep_min must be in (0, 1]")
        for name in ("context_dim", "hidden_dim", "representation_dim", "expander_dim",
                     "batch_size", "max_chunk_bins", "context_hidden", "embed_batch_size",
                     "context_max_samples", "batch_groups", "conv_channels", "min_view_epochs",
                     "validate_every", "checkpoint_every", "context_batch_size", "context_time_offsets"):
            _check(getattr(self, name) >= 1, f"{name} must be at least 1")
        for name in ("context_learning_rate", "context_temperature"):
            _check(getattr(self, name) > 0, f"{name} must be positive")
        for name in ("warmup_steps", "context_iterations", "chunk_bins", "num_threads",
                     "early_stopping_patience", "predict_weight", "context_neurons"):
            _check(getattr(self, name) >= 0, f"{name} must not be negative")
        _check(self.max_steps is None or self.max_steps >= 0, "max_steps must not be negative")
        _check(self.chunk_bins <= self.max_chunk_bins, "chunk_bins must not exceed max_chunk_bins")
        _check(self.batch_size >= 2 * self.batch_groups, "batch_size must be at least 2 per group (the loss compares "
               "neurons of a group)")
        _check(0.0 <= self.validation_fraction < 1.0, "validation_fraction must be in [0, 1)")
        _check(self.context_covariates is None or bool(covariate_patterns(self.context_covariates)),
               "context_covariates must name at least one covariate (or be null for all)")
        for name in ("segment_length_min", "segment_length_max"):
            _check(getattr(self, name) is None or getattr(self, name) > 0, f"{name} must be positive")
        if self.segment_length_min is not None and self.segment_length_max is not None:
            _check(self.segment_length_min <= self.segment_length_max,
                   "segment_length_min must not exceed segment_length_max")

    def check_context_architecture(self) -> None:
        """Refuse a ``context_architecture`` that CEBRA's model registry does not know (when the context is on). It
        imports CEBRA, so training calls it when it starts rather than every config when built."""
        if self.context == "none":
            return
        import cebra.models

        known = cebra.models.get_options()
        _check(self.context_architecture in known, f"unknown context_architecture {self.context_architecture!r}; "
               f"CEBRA has {', '.join(known[:3])}, ... (cebra.models.get_options() lists all {len(known)})")

    @property
    def fixed_length(self) -> bool:
        """True when both views always have the same length (the fixed-length ablation)."""
        return self.segment_length_min == self.segment_length_max

    def resolved(self, modality: str) -> NeurPIRConfig:
        """This config with ``modality`` set and every ``None`` filled from the modality's defaults."""
        if self.modality is not None and self.modality != modality:
            raise NeurPIRError(f"config is for {self.modality} but the recordings are {modality}")
        defaults = MODALITY_DEFAULTS[modality]
        updates: dict[str, Any] = {"modality": modality}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                updates[name] = value
        if self.segment_length_min is not None and self.segment_length_max is None:
            updates["segment_length_max"] = max(self.segment_length_min, defaults["segment_length_max"])
        if self.segment_length_max is not None and self.segment_length_min is None:
            updates["segment_length_min"] = min(self.segment_length_max, defaults["segment_length_min"])
        return dataclasses.replace(self, **updates)

    def to_dict(self) -> dict[str, Any]:
        """Every field, runtime settings included (the estimator's parameters)."""
        return dataclasses.asdict(self)

    def hyperparameters(self) -> dict[str, Any]:
        """Every field but the runtime settings: what a saved model's ``config.json`` and its provenance record."""
        return {name: value for name, value in self.to_dict().items() if name not in RUNTIME_FIELDS}

    def runtime(self) -> dict[str, Any]:
        """The runtime settings as given, with ``threads`` and ``torch_device``: the thread count and device that
        training in this process runs with (what ``num_threads`` 0 and device ``auto`` resolve to here)."""
        from nwb_neurpir.model.distributed import resolve_device
        from nwb_neurpir.model.threads import thread_count

        given = {name: value for name, value in self.to_dict().items() if name in RUNTIME_FIELDS}
        return {**given, "threads": thread_count(self.num_threads), "torch_device": str(resolve_device(self.device, 0))}

    def resume_conflicts(self, saved: dict[str, Any]) -> dict[str, Any]:
        """The hyperparameters in which ``saved`` (a checkpoint's ``config.json``) differs from this config, except
        the resumable ones, by name (sorted) with the saved value; a key added since the checkpoint was written
        counts as the value it was trained with, runtime settings that older checkpoints still hold are ignored."""
        saved, current = _trained_as(saved), self.hyperparameters()
        names = (set(saved) | set(current)) - RUNTIME_FIELDS - RESUMABLE_FIELDS
        return {name: saved.get(name) for name in sorted(names) if saved.get(name) != current.get(name)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str | None = None) -> NeurPIRConfig:
        """Build from a mapping; unknown keys and wrongly typed values are refused with ``NeurPIRError``. NumPy
        scalars (``np.int64(50)``, as in a grid of ``np.arange``) count as the Python values they hold."""
        if not isinstance(values, dict):
            raise NeurPIRError("config must be a JSON object", source)
        values = {name: _plain(value) for name, value in values.items()}
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise NeurPIRError(f"unknown config keys: {', '.join(unknown)}", source)
        for name, value in values.items():
            if not _type_ok(known[name].type, value):
                raise NeurPIRError(f"config key {name!r} has a value of the wrong type: {value!r}", source)
        try:
            return cls(**values)
        except NeurPIRError as exc:
            raise NeurPIRError(exc.message, source) from None

    @classmethod
    def from_saved(cls, values: dict[str, Any], source: str | None = None) -> NeurPIRConfig:
        """A saved model's config: keys added since it was written take the value it was trained with."""
        return cls.from_dict(_trained_as(values) if isinstance(values, dict) else values, source)

    @classmethod
    def from_json(cls, text: str, source: str | None = None) -> NeurPIRConfig:
        return cls.from_dict(parse_json(text, "config", source), source)

    @classmethod
    def from_file(cls, path: str | Path | None, settings: Iterable[str] = (),
                  **overrides: Any) -> NeurPIRConfig:  # noqa: ANN401 - field values
        """The config in the JSON file ``path`` (the defaults when None), then the ``key=value`` ``settings``
        (``--set``, see :func:`parse_overrides`), then ``overrides``; overrides that are None (options not given) are
        left out. A file that cannot be read or parsed, an unknown key or a bad value is a one-line ``NeurPIRError``
        naming the file (or ``--set``).

        >>> NeurPIRConfig.from_file(None, ["max_steps=7", "seed=3"], max_steps=5, seed=None).seed
        3
        """
        return cls.from_dict(cls.given_values(path, settings, **overrides), None if path is None else str(path))

    @classmethod
    def given_values(cls, path: str | Path | None, settings: Iterable[str] = (),
                     **overrides: Any) -> dict[str, Any]:  # noqa: ANN401 - field values
        """The fields ``from_file`` sets from the file, ``settings`` and ``overrides`` (not None), unchecked: the
        settings a user gave, which a resumed or fine-tuned training takes over the saved model's."""
        values: Any = {}
        source = None if path is None else str(path)
        if path is not None:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise NeurPIRError(f"cannot read the config ({exc})", source) from None
            values = parse_json(text, "config", source)
            if not isinstance(values, dict):
                raise NeurPIRError("config must be a JSON object", source)
        values.update(parse_overrides(settings))
        values.update({key: value for key, value in overrides.items() if value is not None})
        return values

    @classmethod
    def over_saved(cls, saved: dict[str, Any], given: dict[str, Any], source: str | None = None) -> NeurPIRConfig:
        """A saved model's or checkpoint's config (``config.json``) with the ``given`` fields over it: what resuming
        or fine-tuning it trains with, so that settings the user did not give keep the saved values."""
        known = {f.name for f in fields(cls)} - RUNTIME_FIELDS  # a newer release's keys: the resume check says so
        kept = {name: value for name, value in _trained_as(saved).items() if name in known}
        return cls.from_dict({**kept, **given}, source)

    def representation_conflicts(self, saved: NeurPIRConfig) -> dict[str, Any]:
        """The :data:`REPRESENTATION_FIELDS` in which this config differs from ``saved`` (a model's), by name (sorted)
        with the saved value: what a fine-tuning of that model may not change."""
        return {name: getattr(saved, name) for name in sorted(REPRESENTATION_FIELDS)
                if getattr(self, name) != getattr(saved, name)}


RUNTIME_FIELDS = frozenset(f.name for f in fields(NeurPIRConfig) if f.metadata.get("runtime"))
"""Where and how fast the work runs: not in a model's config.json, never compared when resuming (the threads and
device a training ran with are recorded in its model.json's ``training.runs``)."""
RESUMABLE_FIELDS = frozenset(f.name for f in fields(NeurPIRConfig) if f.metadata.get("resumable"))
"""Hyperparameters that may change between an interrupted run and its resumption."""
REPRESENTATION_FIELDS = frozenset({
    "modality", "normalization", "chunk_bins", "max_chunk_bins", "hidden_dim", "conv_channels", "representation_dim",
    "context", "context_dim", "context_architecture", "context_hidden", "context_iterations", "context_batch_size",
    "context_learning_rate", "context_temperature", "context_time_offsets", "context_max_samples",
    "context_covariates"})
"""Hyperparameters that define what a model's vectors mean -- its input (modality, normalisation, chunks), the
encoder's architecture and its CEBRA context model -- which a fine-tuning of the model keeps (the bin size, a fact of
the data, is kept too)."""


def covariate_patterns(text: str) -> list[str]:
    """The names or patterns of a ``context_covariates`` value, in order, blanks dropped.

    >>> covariate_patterns("trials/contrast_*, behavior/Position/position,")
    ['trials/contrast_*', 'behavior/Position/position']
    """
    return [part.strip() for part in text.split(",") if part.strip()]


def _trained_as(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved config with the keys added since it was written set to the value it was trained with (``_added``)."""
    return {**{f.name: f.metadata["before"] for f in fields(NeurPIRConfig) if "before" in f.metadata}, **saved}


def override_text(name: str, value: Any) -> str:  # noqa: ANN401 - a config value
    """The ``--set`` option that gives field ``name`` the value ``value`` (``predict_weight=0.0``, ``context=none``).

    >>> override_text("context", "none"), override_text("predict_weight", 0.0)
    ('context=none', 'predict_weight=0.0')
    """
    return f"{name}={value if isinstance(value, str) else json.dumps(value)}"


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``key=value`` strings (``--set`` options) into config values, typed by the fields: a value is read as JSON
    when that fits the field (``4``, ``0.5``, ``null``, ``true``), else kept as text (``context=none``).

    >>> parse_overrides(["max_steps=50", "context=none", "segment_length_min=2"])
    {'max_steps': 50, 'context': 'none', 'segment_length_min': 2}
    """
    known = {f.name: f for f in fields(NeurPIRConfig)}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise NeurPIRError(f"a config override must be key=value, not {pair!r}", "--set")
        if key not in known:
            raise NeurPIRError(f"unknown config keys: {key}", "--set")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if not _type_ok(known[key].type, value) and _type_ok(known[key].type, text):
            value = text
        if not _type_ok(known[key].type, value):
            raise NeurPIRError(f"config key {key!r} has a value of the wrong type: {text!r}", "--set")
        out[key] = value
    return out


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise NeurPIRError(message)


def _type_ok(annotation: str, value: Any) -> bool:
    """Loose check of a JSON value against a field's (string) annotation."""
    if value is None:
        return "None" in annotation
    if isinstance(value, bool):
        return annotation.startswith("bool")
    if isinstance(value, int):
        return annotation.startswith(("int", "float")) or "float" in annotation
    if isinstance(value, float):
        return "float" in annotation
    if isinstance(value, str):
        return annotation.startswith(("str", "Literal"))
    return False


def _plain(value: Any) -> Any:  # noqa: ANN401 - a config value
    """A NumPy scalar (``np.int64``, ``np.float32``, ``np.bool_``, ``np.str_``) as the Python value it holds, so that it
    type-checks as one and the config stays JSON; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value

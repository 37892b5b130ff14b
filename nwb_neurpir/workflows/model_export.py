"""``neurpir export``: a model folder to share: the weights, config and model.json under a manifest of their
checksums, a generated MODEL_CARD.md, no training checkpoints, and on request the probes kept beside the model.

``redact``: model.json names each training recording by the sha256 of its identifier (``sha256:<hex>``, which
``evaluate`` still matches to the recording) and keeps of each only its neuron and bin counts and activity
fingerprint; subject ids, file locations and unit filters are dropped, and so are the paths and animals the probes
record. An export with neither ``redact`` nor ``license`` holds model.json unchanged: the same model checksum, so
files annotated with the model still match it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir import __version__
from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.workflows.probe import LabelProbe

__all__ = ["MODEL_CARD", "export_model"]

MODEL_CARD = "MODEL_CARD.md"
_KEPT_PER_SESSION = ("n_neurons", "n_bins", "activity_sha256", "activity_series", "neuron_table")
"""What a redacted model.json keeps of each training session besides its hashed key."""


def export_model(model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, redact: bool = False,
                 license: str | None = None, include_probes: bool = False) -> Path:  # noqa: A002 - the CLI's word
    """Write the model in ``model_dir`` as a new folder ``out_dir`` to share (see the module docstring), with
    ``license`` (an SPDX identifier such as ``CC-BY-4.0``) in its card and model.json; return ``out_dir``. The new
    folder loads wherever a model folder is accepted. An ``out_dir`` that exists and is not empty is refused.

    >>> import nwb_neurpir as npir
    >>> npir.export_model("model/", "shared-model/", redact=True, license="CC-BY-4.0")    # doctest: +SKIP
    """
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.model.checkpoint import folder_sha256, write_new_folder

    source = TrainedModel.load(model_dir)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NeurPIRError("already exists; give a new folder to export into", out)
    files = source.files()
    if redact or license:
        files["model.json"] = _shared_meta(files["model.json"], source, redact, license)
    exported = TrainedModel.from_files(files, str(out))
    exported.checkpoint_sha256_ = folder_sha256(files)
    probes = _probes(Path(model_dir), source) if include_probes else {}

    def extra(staging: Path) -> None:
        for name, probe in probes.items():
            _exported_probe(probe, exported.checkpoint_sha256_, redact).save(staging / "probes" / name)
        (staging / MODEL_CARD).write_text(model_card(exported, sorted(probes)), encoding="utf-8")

    try:
        write_new_folder(out, files, extra)
    except FileExistsError:
        raise NeurPIRError("already exists; give a new folder to export into", out) from None
    return out


def _shared_meta(meta: dict[str, Any], source: TrainedModel, redact: bool, license: str | None,  # noqa: A002
                 ) -> dict[str, Any]:
    """model.json with the export record (``summary.EXPORT``) and, when ``redact``, its training data redacted."""
    from nwb_neurpir.model.sessions import hashed_key
    from nwb_neurpir.model.summary import EXPORT, model_facts

    meta = copy.deepcopy(meta)
    training = meta["training"]
    before = training.get(EXPORT) if isinstance(training.get(EXPORT), dict) else {}
    redacted = redact or bool(before.get("redacted"))
    training[EXPORT] = {"license": license or before.get("license"), "redacted": redacted,
                        "n_animals": model_facts(source)["training_data"]["n_animals"],
                        "exported_from": source.provenance().checkpoint_sha256, "package_version": __version__}
    if redact:
        meta["training_data"] = [hashed_key(key) for key in meta["training_data"]]
        training["sessions"] = _redacted_sessions(training.get("sessions"))
        if isinstance(training.get("initialized_from"), dict):
            training["initialized_from"] = _redacted_origin(training["initialized_from"])
    return meta


def _redacted_sessions(sessions: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    """Training sessions as a redacted model.json keeps them: a hashed key and ``_KEPT_PER_SESSION``."""
    from nwb_neurpir.model.sessions import hashed_key

    return [{"key": hashed_key(str(session.get("key"))), **{key: session[key] for key in _KEPT_PER_SESSION
                                                            if key in session}}
            for session in sessions or [] if isinstance(session, dict)]


def _redacted_origin(origin: dict[str, Any]) -> dict[str, Any]:
    """The record of the model a fine-tuned one started from (``training.initialized_from``), and of its own origin
    in turn, with its training data redacted as the model's is."""
    from nwb_neurpir.model.sessions import hashed_key

    earlier = origin.get("initialized_from")
    return {**{key: origin[key] for key in ("sha256", "created", "package_version", "steps") if key in origin},
            "training_data": [hashed_key(str(key)) for key in origin.get("training_data") or []],
            "sessions": _redacted_sessions(origin.get("sessions")),
            **({"initialized_from": _redacted_origin(earlier)} if isinstance(earlier, dict) else {})}


def _probes(model_dir: Path, source: TrainedModel) -> dict[str, LabelProbe]:
    """The probes kept beside the model (``probes/<name>``) that were fitted on its embeddings, by folder name; one
    fitted on another model's is left out with a warning."""
    import warnings

    from nwb_neurpir.workflows.probe import LabelProbe

    found = {}
    for manifest in sorted((model_dir / "probes").glob("*/manifest.json")):
        probe = LabelProbe.load(manifest.parent)
        if probe.model_sha256_ != source.provenance().checkpoint_sha256:
            warnings.warn(f"{manifest.parent}: fitted on embeddings of another model; not exported", stacklevel=3)
            continue
        found[manifest.parent.name] = probe
    return found


def _exported_probe(probe: LabelProbe, model_sha256: str, redact: bool) -> LabelProbe:
    """``probe`` for the exported model (checksum ``model_sha256``: the weights it read are the same); when
    ``redact``, its training files named by the sha256 of their recording's identifier, no labels file path (its
    sha256 stays) and its held-out animals numbered instead of named."""
    from nwb_neurpir.model.sessions import hashed_key
    from nwb_neurpir.store.read import annotated_recording

    probe = copy.copy(probe)
    probe.model_sha256_ = model_sha256
    if redact:
        probe.training_data_ = [hashed_key(annotated_recording(path).name) for path in probe.training_data_]
        probe.labels_file_ = None
        probe.fold_accuracy_ = {f"animal {number}": accuracy
                                for number, accuracy in enumerate(probe.fold_accuracy_.values(), 1)}
    return probe


def model_card(model: TrainedModel, probes: list[str]) -> str:
    """MODEL_CARD.md of an exported model: its facts (``summary.fact_lines``), its ``probes`` and how to use it."""
    from nwb_neurpir.model.summary import fact_lines, model_facts

    facts = model_facts(model)
    return "\n".join([
        "# NeurPIR model", "",
        "One vector per neuron from NWB recordings (NeurPIR, Wu et al., ICLR 2025), made with "
        f"[nwb-neurpir](https://pypi.org/project/nwb-neurpir/). Exported with nwb-neurpir {__version__}.", "",
        "## Facts", "", *(f"- {line}" if not line.startswith(" ") else f"  - {line.strip()}"
                          for line in fact_lines(facts)), "",
        *([f"Probes (`probes/<name>`, which `neurpir predict MODEL SOURCES --label LABEL` uses): "
            f"{', '.join(probes)}.", ""] if probes else []),
        "## How to use it", "",
        f"Recordings are read on the model's grid ({_bins(model)}) as {model.config.modality}; context covariates a "
        "file lacks are set to their training mean, with a warning.", "",
        "```sh",
        "neurpir inspect MODEL                      # these facts",
        "neurpir embed MODEL SOURCES --out vectors.npz",
        "neurpir annotate MODEL SOURCES             # vectors stored in the NWB files (or sidecars)",
        "neurpir predict MODEL SOURCES --label LABEL --fit-on ANNOTATED_LABELLED_FILES",
        "neurpir evaluate SOURCES --model MODEL --label LABEL",
        "```", "",
        "```python",
        "import nwb_neurpir as npir",
        'model = npir.NeurPIR.load("MODEL")',
        'frame = model.transform("SOURCES")',
        "```", "",
        "Files: `weights.safetensors` (weights), `config.json` (hyperparameters), `model.json` (context encoder, "
        "training record), `manifest.json` (sha256 of each; the model's checksum is the sha256 of this file).", ""])


def _bins(model: TrainedModel) -> str:
    return "its own bins" if model.bin_size_ is None else f"{model.bin_size_ * 1000:g} ms bins"

"""Model folders on disk: safetensors weights + JSON, every file's sha256 in a manifest, written atomically.

Nothing here ever unpickles: weights are parsed by ``safetensors`` only, after their checksum matched. A folder that
was tampered with, truncated, or holds unexpected files or tensors gives a one-line ``NeurPIRError``. Only the files
a reader asks for are read, each only when it is a regular file (symbolic links followed) of at most
``MAX_JSON_BYTES`` (JSON) or ``MAX_WEIGHTS_BYTES`` (safetensors); other files a manifest lists (a newer release's)
are named in a warning and left unread.

Layout of a folder::

    manifest.json        {"format": ..., "files": {name: sha256}}   (written last)
    config.json          the resolved NeurPIRConfig's hyperparameters (no runtime settings)
    model.json           context encoder layout, training data, package version, ...
    weights.safetensors  encoder (and context) weights
    [training.safetensors, trainer.json]    training checkpoints only: expander, optimizer, best weights;
                                            trainer state

A model folder also holds, outside its manifest, ``checkpoints/`` (training's, to resume it), ``probes/<name>``
(label probes, each a folder of this layout) and, when ``neurpir export`` wrote it, ``MODEL_CARD.md``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from nwb_neurpir import __version__
from nwb_neurpir.atomic_files import atomic_write_bytes, fsync_dir
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.input_files import parse_json, read_regular

__all__ = [
    "CHECKPOINTS",
    "FORMAT",
    "MAX_JSON_BYTES",
    "checkpoint_folder",
    "checkpoint_step",
    "folder_sha256",
    "latest_checkpoint",
    "readable_checkpoint",
    "read_folder",
    "remove_stale_temporaries",
    "upgrade_advice",
    "write_checkpoint",
    "write_folder",
    "write_new_folder",
]

FORMAT = "nwb-neurpir-model/2"
"""Version 2: the population-context encoder. Folders of version 1 (the encoder without population layer) are refused
with a message saying to retrain."""
CHECKPOINTS = "checkpoints"
"""The folder inside a model folder where training keeps its checkpoints."""
MAX_JSON_BYTES = 16 * 1024 * 1024
"""The largest JSON file of a folder that is read (the manifest, configs, metadata)."""
MAX_WEIGHTS_BYTES = 1024 * 1024 * 1024
"""The largest safetensors file of a folder that is read (this release's models hold a few MB): a larger one, or a
sparse file or device put in its place, is refused before it fills memory."""
_LATEST = "LATEST"


def _encode_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _serialise(files: dict[str, Any]) -> dict[str, bytes]:
    """Each file's bytes: dicts become JSON, tensor dicts (``*.safetensors``) become safetensors."""
    from safetensors.torch import save

    out = {}
    for name, value in files.items():
        if name.endswith(".safetensors"):
            out[name] = save({key: tensor.detach().cpu().contiguous() for key, tensor in value.items()})
        else:
            out[name] = _encode_json(value)
    return out


def _manifest(payloads: dict[str, bytes]) -> bytes:
    return _encode_json(
        {"format": FORMAT, "files": {name: hashlib.sha256(data).hexdigest() for name, data in payloads.items()}})


def folder_sha256(files: dict[str, Any]) -> str:
    """The sha256 of the manifest ``write_folder`` would write for ``files`` (identifies a model's exact content)."""
    return hashlib.sha256(_manifest(_serialise(files))).hexdigest()


def remove_stale_temporaries(folder: Path, names: Iterable[str]) -> None:
    """Delete the ``.<name>.tmp-*`` files an interrupted ``atomic_write_bytes`` of ``names`` left behind."""
    for name in names:
        for stale in folder.glob(f".{name}.tmp-*"):
            stale.unlink(missing_ok=True)


def write_folder(folder: Path, files: dict[str, Any]) -> str:
    """Write ``files`` (name -> dict or tensor dict) and the manifest into ``folder``; return the manifest's sha256.

    Temporary files left by an earlier, interrupted write of the same names are removed first.
    """
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder, [*files, "manifest.json"])
    payloads = _serialise(files)
    for name, data in payloads.items():
        atomic_write_bytes(folder / name, data)
    manifest_bytes = _manifest(payloads)
    atomic_write_bytes(folder / "manifest.json", manifest_bytes)
    return hashlib.sha256(manifest_bytes).hexdigest()


def write_new_folder(folder: Path, files: dict[str, Any],
                     extra: Callable[[Path], None] | None = None) -> str:
    """Write ``files`` as ``write_folder`` does (then, when given, ``extra(temporary folder)`` adds what else belongs
    in it), into a temporary folder beside ``folder``, and rename it to ``folder`` in one step, so that a reader, or
    another process saving there at the same time, finds no folder or a complete one; return the manifest's sha256.
    A ``folder`` that exists (not empty) is left as it is: a ``FileExistsError``. The temporary folder never stays
    behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        sha = write_folder(staging, files)
        if extra is not None:
            extra(staging)
        try:
            os.rename(staging, folder)
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            raise FileExistsError(errno.EEXIST, "a folder is already there", str(folder)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(folder.parent)
    return sha


def read_folder(folder: Path, required: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """Verify and parse a folder: (name -> dict or tensor dict, sha256 of the manifest)."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise NeurPIRError("not a NeurPIR model folder (manifest.json missing)", folder)
    manifest_bytes = _read_file(folder, "manifest.json")
    manifest = parse_json(manifest_bytes, "manifest.json", folder)
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if isinstance(manifest, dict) and manifest.get("format") == "nwb-neurpir-model/1":
        raise NeurPIRError("this model was made by an earlier nwb-neurpir (format nwb-neurpir-model/1, an encoder "
                           "without population context); train it again with this version", folder)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(listed, dict):
        advice = upgrade_advice(_written_by(folder))
        raise NeurPIRError(f"{advice} (format {manifest.get('format')})" if advice and isinstance(manifest, dict)
                           else f"manifest.json is not a {FORMAT} manifest", folder)
    unexpected = sorted(name for name in listed if not _safe_name(name))
    missing = sorted(set(required) - set(listed))
    if unexpected or missing:
        raise NeurPIRError(f"manifest lists unexpected files {unexpected} or lacks {missing}", folder)
    unknown = sorted(set(listed) - set(required))
    if unknown:
        warnings.warn(f"{folder}: manifest.json lists files this nwb-neurpir does not know ({', '.join(unknown)}; "
                      "from a newer release?); they are not read", stacklevel=2)
    parsed: dict[str, Any] = {}
    for name in required:
        data = _read_file(folder, name)
        if hashlib.sha256(data).hexdigest() != listed[name]:
            raise NeurPIRError(f"{name} does not match its checksum (modified or truncated)", folder)
        parsed[name] = _parse_tensors(data, folder / name) if name.endswith(".safetensors") else \
            parse_json(data, name, folder)
    return parsed, hashlib.sha256(manifest_bytes).hexdigest()


def upgrade_advice(package_version: Any) -> str | None:  # noqa: ANN401 - a JSON value
    """For a folder that a newer nwb-neurpir than this one wrote (``package_version``, from its ``model.json``):
    which release made it and that this one must be upgraded to read it; None otherwise."""
    theirs, ours = _release(package_version), _release(__version__)
    if theirs is None or ours is None or theirs <= ours:
        return None
    return (f"this model was made by nwb-neurpir {package_version} and this is nwb-neurpir {__version__}: "
            "upgrade nwb-neurpir to read it")


def _release(version: Any) -> tuple[int, ...] | None:  # noqa: ANN401 - a JSON value
    """The release numbers of a version string (``0.2.0rc1`` -> (0, 2)), trailing zeros dropped; None if none."""
    match = re.match(r"\d+(\.\d+)*", version) if isinstance(version, str) else None
    if match is None:
        return None
    numbers = [int(part) for part in match.group().split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _written_by(folder: Path) -> Any:  # noqa: ANN401 - a JSON value
    """The ``package_version`` a folder's ``model.json`` names (unverified: for a message only), else None."""
    try:
        meta = parse_json(_read_file(folder, "model.json"), "model.json", folder)
    except NeurPIRError:
        return None
    return meta.get("package_version") if isinstance(meta, dict) else None


def _safe_name(name: Any) -> bool:
    return isinstance(name, str) and name.endswith((".json", ".safetensors")) and "/" not in name and \
        "\\" not in name and not name.startswith(".") and name != "manifest.json"


def _read_file(folder: Path, name: str) -> bytes:
    """The bytes of the folder's file ``name``: a regular file of at most ``MAX_WEIGHTS_BYTES`` (safetensors) or
    ``MAX_JSON_BYTES`` (JSON)."""
    limit = MAX_WEIGHTS_BYTES if name.endswith(".safetensors") else MAX_JSON_BYTES
    return read_regular(folder / name, limit, folder)


def _parse_tensors(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise NeurPIRError(f"{path.name} is not a valid safetensors file ({exc})", path.parent) from None


def checkpoint_folder(root: Path, step: int) -> Path:
    """Where the checkpoint of ``step`` goes under ``root``."""
    return root / f"step-{step:08d}"


def write_checkpoint(root: Path, step: int, files: dict[str, Any], keep: int = 2) -> Path:
    """Write a training checkpoint under ``root`` and point ``root/LATEST`` at it only once it is complete (a write
    that fails, on a full disk say, leaves no staging folder behind)."""
    root.mkdir(parents=True, exist_ok=True)
    final = checkpoint_folder(root, step)
    name = final.name
    staging = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_folder(staging, files)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    fsync_dir(root)
    atomic_write_bytes(root / _LATEST, name.encode())
    older = sorted(p for p in root.glob("step-*") if p.is_dir() and p.name != name)
    for old in older[: max(len(older) - (keep - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".step-*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    remove_stale_temporaries(root, [_LATEST])
    return final


def checkpoint_step(folder: Path) -> int:
    """The training step of a checkpoint folder ``write_checkpoint`` wrote (``step-00000050`` -> 50)."""
    return int(folder.name.removeprefix("step-"))


def latest_checkpoint(root: Path) -> Path | None:
    """The folder ``root/LATEST`` names, or None when there is no complete checkpoint."""
    pointer = root / _LATEST
    if not pointer.is_file():
        return None
    name = read_regular(pointer, 256, root).decode("utf-8", errors="replace").strip()
    if not name.startswith("step-") or "/" in name:
        return None
    folder = root / name
    return folder if (folder / "manifest.json").is_file() else None


def readable_checkpoint(root: Path, names: Iterable[str]) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint under ``root`` whose files ``names`` pass their checksums, read
    (``read_folder``): the one ``LATEST`` names, else, with a warning, the one kept before it; None when there is
    none; the latest one's error when none can be read."""
    latest = latest_checkpoint(root)
    if latest is None:
        return None
    older = sorted((p for p in root.glob("step-*") if p.name < latest.name and (p / "manifest.json").is_file()),
                   reverse=True)
    names = tuple(names)
    first_error = None
    for folder in [latest, *older]:
        try:
            return folder, read_folder(folder, names)[0]
        except NeurPIRError as error:
            first_error = first_error or error
            warnings.warn(f"{error.one_line()}; trying the checkpoint before it", stacklevel=2)
    raise first_error

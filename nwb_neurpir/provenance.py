"""What made a set of embeddings: written next to them into NWB (``NeurPIRModel``) and into checkpoints; and the
software that ran (versions of the key dependencies, the git commit of this package's source)."""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from nwb_neurpir import __version__

__all__ = ["KEY_DEPENDENCIES", "ModelProvenance", "software_versions", "source_commit"]

KEY_DEPENDENCIES = ("torch", "cebra", "scikit-learn", "numpy", "pynwb", "hdmf", "h5py", "safetensors")
"""The installed distributions whose versions decide what a model computes and how files are written."""
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the ``nwb_neurpir`` package: the root of a git checkout when it runs from one."""


@dataclass(frozen=True)
class ModelProvenance:
    """The model behind embeddings: version, settings, checkpoint checksum and training data."""

    hyperparameters: dict[str, Any]
    checkpoint_sha256: str
    training_data: list[str]
    """DANDI asset IDs or NWB file identifiers of the sessions the model was trained on."""
    description: str = "NeurPIR neuron encoder trained on segment-length-augmented views."
    package_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def hyperparameters_json(self) -> str:
        """Hyperparameters as sorted, compact JSON (what the NWB extension stores)."""
        return json.dumps(self.hyperparameters, sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def software_versions() -> dict[str, str | None]:
    """Python, nwb-neurpir and :data:`KEY_DEPENDENCIES` versions (None: not installed), and ``git_commit``: the
    commit of this package's source when it runs from a git checkout (see :func:`source_commit`), else None."""
    return dict(_software_versions())


@functools.lru_cache(maxsize=1)
def _software_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "nwb-neurpir": __version__}
    versions.update({name: _installed_version(name) for name in KEY_DEPENDENCIES})
    versions["git_commit"] = source_commit()
    return versions


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def source_commit(root: Path = PACKAGE_ROOT) -> str | None:
    """The commit checked out at ``root`` when ``root`` is the top of a git checkout, with ``+dirty`` when tracked
    files of the package or its extension differ from it; None otherwise (an installed copy, no git), never an
    error."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return None
    changes = _git(root, "status", "--porcelain", "--untracked-files=no", "--", "nwb_neurpir", "extensions")
    return f"{commit}+dirty" if changes else commit


def _git(folder: Path, *arguments: str) -> str | None:
    """The output of ``git arguments`` run in ``folder``; None when git is missing, fails or takes over 5 s."""
    try:
        done = subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True, timeout=5,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None

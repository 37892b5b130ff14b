"""Shared pieces of the store tests: a provenance, vectors, a clean-process pynwb reader, inspector filter, a
process run as another user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from nwb_neurpir.provenance import ModelProvenance

PROVENANCE = ModelProvenance(hyperparameters={"dim": 8, "lr": 0.001}, checkpoint_sha256="ab" * 32,
                             training_data=["5f2a1c3e-asset", "TWH103_CBID4"], created="2025-03-01T09:30:00+00:00")

# Reads one embeddings table with plain pynwb in a process where our packages cannot be imported.
_CLEAN_READER = r"""
import importlib.abc, json, sys
BLOCKED = ("ndx_neurpir", "nwb_neurpir")
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this process")
        return None
sys.meta_path.insert(0, Blocker())
for name in BLOCKED:
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} could be imported")
import warnings
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
    table = io.read().processing[sys.argv[2]][sys.argv[3]]
    target = table["neurons"].table
    print(json.dumps({
        "type": type(table).__name__,
        "embedding": table["embedding"].data[:].tolist(),
        "rows": table["neurons"].data[:].tolist(),
        "target": target.name,
        "target_ids": target.id.data[:].tolist(),
        "checkpoint_sha256": table.model.checkpoint_sha256,
        "training_data": [str(x) for x in table.model.training_data[:]],
        "hyperparameters": json.loads(table.model.hyperparameters),
        "created": str(table.model.created),
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    }))
"""


def read_in_clean_process(path: Path, module: str, name: str) -> dict:
    """The table as plain pynwb sees it in a fresh interpreter (``-I``) that cannot import our packages."""
    done = subprocess.run([sys.executable, "-I", "-c", _CLEAN_READER, str(path), module, name],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def as_another_user() -> list[str]:
    """The command prefix that runs a process as another member of a lab group: it may read our files, and write
    only what their modes let others write. As root: effective uid ``nobody`` with CAP_DAC_READ_SEARCH only
    (``setpriv``; the real uid stays root, so ``os.access``, which checks the real uid, sees the folders as the group
    member would); as anyone else, nothing, since to the kernel a file without write permission is then the same as
    another user's."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("acting as another user needs setpriv")
    return ["setpriv", "--euid=65534", "--egid=65534", "--clear-groups", "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search"]


def cached_created_dtype(path: Path) -> str:
    """The dtype of ``NeurPIRModel.created`` in the ndx-neurpir spec cached in the NWB file at ``path``."""
    with h5py.File(path, "r") as file:
        (cached,) = file["specifications/ndx-neurpir"].values()
        spec = json.loads(cached["ndx-neurpir.extensions"][()])
    model = next(group for group in spec["groups"] if group["neurodata_type_def"] == "NeurPIRModel")
    return next(attribute["dtype"] for attribute in model["attributes"] if attribute["name"] == "created")


def vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def serious_messages_about_ours(messages: list, module: str = "neurpir") -> list[str]:
    """nwbinspector messages of importance CRITICAL or BEST_PRACTICE_VIOLATION about objects in our module."""
    ours = []
    for message in messages:
        if message.importance.name not in ("CRITICAL", "BEST_PRACTICE_VIOLATION", "ERROR", "PYNWB_VALIDATION"):
            continue
        where = f"{message.location} {message.object_type} {message.object_name} {message.message}"
        if f"processing/{module}" in where or any(kind in where for kind in ("NeuronEmbeddings", "NeurPIR")):
            ours.append(where)
    return ours


def h5_contents(path: Path) -> dict[str, tuple]:
    """Every object's attributes (references as target paths) and dataset values, for exact comparisons."""
    contents: dict[str, tuple] = {}
    with h5py.File(path, "r") as file:
        def describe(name: str, node: h5py.HLObject) -> None:
            attributes = {key: _plain(file, value) for key, value in node.attrs.items()}
            data = _plain(file, node[()]) if isinstance(node, h5py.Dataset) else None
            contents[name] = (attributes, data)

        describe("/", file)
        file.visititems(describe)
    return contents


def _plain(file: h5py.File, value: object) -> object:
    if isinstance(value, h5py.Reference):
        return ("ref", file[value].name if value else None)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return tuple(_plain(file, item) for item in value.ravel())
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, bytes):
        return value.decode()
    return value

"""ndx-neurpir: NWB types for per-neuron embeddings learned by NeurPIR and the model that made them.

Importing this package loads the ``ndx-neurpir`` namespace into pynwb and exposes its types, generated from the spec
YAML (no hand-written classes):

- ``NeurPIRModel``: provenance of the model (version, hyperparameters, checkpoint checksum, training data, creation).
- ``NeuronEmbeddings``: a ``DynamicTable`` with one row per neuron (``neurons`` region into the source table,
  ``embedding`` vector) and a link to its ``NeurPIRModel``.
- ``NeurPIRSource``: identity of the source file when the embeddings live in a sidecar file.
- ``NeurPIRProbe``: a classifier fitted on labelled neurons' embeddings (kind, label, grouping, class names, training
  files, leave-one-animal-out accuracy).
- ``NeuronPredictions``: a ``DynamicTable`` with one row per neuron (``neurons`` region, predicted ``label``,
  ``probability`` per class in the order of the probe's ``class_names``), linked to its ``NeurPIRModel`` and
  ``NeurPIRProbe``.

Files written by earlier versions of the extension (0.1.0, 0.2.0) read unchanged: their types are a subset of these.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from pynwb import get_class, load_namespaces

NAMESPACE = "ndx-neurpir"

__all__ = ["NAMESPACE", "NeurPIRModel", "NeurPIRProbe", "NeurPIRSource", "NeuronEmbeddings", "NeuronPredictions",
           "spec_path"]


def spec_path() -> Path:
    """The namespace YAML: inside the installed package, else ``extensions/ndx-neurpir/spec`` (editable install)."""
    package_dir = Path(str(files(__name__)))
    installed = package_dir / "spec" / f"{NAMESPACE}.namespace.yaml"
    if installed.exists():
        return installed
    return package_dir.parent.parent.parent / "spec" / f"{NAMESPACE}.namespace.yaml"


load_namespaces(str(spec_path()))

NeurPIRModel = get_class("NeurPIRModel", NAMESPACE)
NeurPIRSource = get_class("NeurPIRSource", NAMESPACE)
NeuronEmbeddings = get_class("NeuronEmbeddings", NAMESPACE)
NeurPIRProbe = get_class("NeurPIRProbe", NAMESPACE)
NeuronPredictions = get_class("NeuronPredictions", NAMESPACE)

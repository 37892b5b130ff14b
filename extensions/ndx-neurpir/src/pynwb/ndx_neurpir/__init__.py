"""ndx-neurpir: NWB types for per-neuron embeddings learned by NeurPIR and the model that made them.

Importing this package loads the ``ndx-neurpir`` namespace into pynwb and exposes its types, generated from the spec
YAML (``NeurPIRModel`` is the generated class with one change: its ``created`` also takes a ``datetime``):

- ``NeurPIRModel``: provenance of the model (version, hyperparameters, checkpoint checksum, training data, creation).
- ``NeuronEmbeddings``: a ``DynamicTable`` with one row per neuron (``neurons`` region into the source table,
  ``embedding`` vector; since 0.2.4 optionally ``silent``, the neurons without activity in the time read) and a link
  to its ``NeurPIRModel``.
- ``NeurPIRSource``: identity of the source file when the embeddings live in a sidecar file.
- ``NeurPIRProbe``: a classifier fitted on labelled neurons' embeddings (kind, label, grouping, class names, training
  recordings, leave-one-animal-out accuracy; since 0.2.3 optionally its inputs, hand features, neurons per class,
  accuracy per held-out animal, the training recordings' animals and sessions, the labels file's sha256).
- ``NeuronPredictions``: a ``DynamicTable`` with one row per neuron (``neurons`` region, predicted ``label``,
  ``probability`` per class in the order of the probe's ``class_names``), linked to its ``NeurPIRModel`` and
  ``NeurPIRProbe``.

Files written by earlier versions of the extension (0.1.0 to 0.2.3) read unchanged: their types are a subset of
these (0.2.3 and 0.2.4 add optional fields only), and their ``created`` (stored as ISO 8601 text there too) reads as
the text it is.
"""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from pathlib import Path

from hdmf.utils import docval, get_docval
from pynwb import get_class, load_namespaces, register_class

__version__ = "0.2.4"
"""The package's version (the ``version`` of its pyproject.toml is read from here)."""

NAMESPACE = "ndx-neurpir"

__all__ = ["NAMESPACE", "NeurPIRModel", "NeurPIRProbe", "NeurPIRSource", "NeuronEmbeddings", "NeuronPredictions",
           "__version__", "spec_path"]


def spec_path() -> Path:
    """The namespace YAML: inside the installed package, else ``extensions/ndx-neurpir/spec`` (editable install)."""
    package_dir = Path(str(files(__name__)))
    installed = package_dir / "spec" / f"{NAMESPACE}.namespace.yaml"
    if installed.exists():
        return installed
    return package_dir.parent.parent.parent / "spec" / f"{NAMESPACE}.namespace.yaml"


load_namespaces(str(spec_path()))


def _iso_text(created: str | datetime) -> str:
    """``created`` as ISO 8601 text: a ``datetime`` with its UTC offset (one without a timezone is local time, as
    pynwb takes a naive ``session_start_time``); text as it is."""
    if isinstance(created, datetime):
        return (created if created.tzinfo else created.astimezone()).isoformat()
    return created


def _created_takes_a_datetime(arguments: tuple[dict, ...]) -> list[dict]:
    """The generated constructor's docval arguments, with ``created`` taking a ``datetime`` besides text."""
    return [{**argument, "type": (str, datetime)} if argument["name"] == "created" else argument
            for argument in arguments]


_GeneratedModel = get_class("NeurPIRModel", NAMESPACE)


@register_class("NeurPIRModel", NAMESPACE)
class NeurPIRModel(_GeneratedModel):
    """The provenance of a set of embeddings; ``created`` is stored as ISO 8601 text (a ``datetime`` is converted)."""

    @docval(*_created_takes_a_datetime(get_docval(_GeneratedModel.__init__)))
    def __init__(self, **kwargs) -> None:
        kwargs["created"] = _iso_text(kwargs["created"])
        super().__init__(**kwargs)


NeurPIRSource = get_class("NeurPIRSource", NAMESPACE)
NeuronEmbeddings = get_class("NeuronEmbeddings", NAMESPACE)
NeurPIRProbe = get_class("NeurPIRProbe", NAMESPACE)
NeuronPredictions = get_class("NeuronPredictions", NAMESPACE)

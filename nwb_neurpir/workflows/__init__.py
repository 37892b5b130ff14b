"""The one place where the stages are joined: reading (``io``) -> model (``model``) -> storing (``store``) ->
evaluation (``evaluation``). Each workflow takes resolved inputs and options and returns a result object; each
``neurpir`` command parses its options, calls one workflow and prints the result.

The names below are re-exported at the top level (``import nwb_neurpir as npir``); the command-sized workflows live
in their modules (``inspection``, ``fetching``, ``training``, ``embedding_export``, ``evaluation``, ``plotting``,
``simulation``, ``demo``). Submodules are imported on first use, so importing this package stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LabelGrouping", "LabelProbe", "NeurPIR", "NotFittedError", "PredictOutcome", "annotate", "embedding_matrix",
           "evaluate", "inspect", "open_recordings", "plot_embeddings", "predict", "read_embeddings",
           "remove_embeddings", "simulate_nwb", "to_pynapple"]

_HOMES = {
    "LabelGrouping": "probe",
    "LabelProbe": "probe",
    "NeurPIR": "estimator",
    "NotFittedError": "estimator",
    "PredictOutcome": "prediction",
    "annotate": "annotation",
    "embedding_matrix": "estimator",
    "evaluate": "evaluation",
    "inspect": "inspection",
    "open_recordings": "recordings",
    "plot_embeddings": "plotting",
    "predict": "prediction",
    "read_embeddings": "embeddings",
    "remove_embeddings": "embeddings",
    "simulate_nwb": "simulation",
    "to_pynapple": "pynapple_units",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - any public name
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""The one place where the stages are joined: reading (``io``) -> model (``model``) -> storing (``store``) ->
evaluation (``evaluation``). Each workflow takes resolved inputs and options and returns a result object; each
``neurpir`` command parses its options, calls one workflow and prints the result.

The names below are re-exported at the top level (``import nwb_neurpir as npir``); the command-sized workflows live
in their modules (``inspection``, ``fetching``, ``training``, ``embedding_export``, ``evaluation``, ``plotting``,
``simulation``, ``demo``). Submodules are imported on first use, so importing this package stays fast; type checkers
read the same names from the imports under ``TYPE_CHECKING`` (``_HOMES`` and those imports agree, as
tests/test_api_types.py checks).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = ["AnnotateOutcome", "EvaluationResult", "Inspection", "LabelGrouping", "LabelProbe", "NeurPIR",
           "NotFittedError", "PredictOutcome", "Recording", "annotate", "embedding_matrix", "evaluate", "export_model",
           "inspect", "open_recordings", "plot_embeddings", "predict", "read_embeddings", "remove_embeddings",
           "simulate_nwb", "to_pynapple"]

_HOMES = {
    "AnnotateOutcome": "nwb_neurpir.workflows.annotation",
    "EvaluationResult": "nwb_neurpir.evaluation.results",
    "Inspection": "nwb_neurpir.workflows.inspection",
    "LabelGrouping": "nwb_neurpir.evaluation.grouping",
    "LabelProbe": "nwb_neurpir.workflows.probe",
    "NeurPIR": "nwb_neurpir.workflows.estimator",
    "NotFittedError": "nwb_neurpir.workflows.estimator",
    "PredictOutcome": "nwb_neurpir.workflows.prediction",
    "Recording": "nwb_neurpir.recording",
    "annotate": "nwb_neurpir.workflows.annotation",
    "embedding_matrix": "nwb_neurpir.workflows.estimator",
    "evaluate": "nwb_neurpir.workflows.evaluation",
    "export_model": "nwb_neurpir.workflows.model_export",
    "inspect": "nwb_neurpir.workflows.inspection",
    "open_recordings": "nwb_neurpir.workflows.recordings",
    "plot_embeddings": "nwb_neurpir.workflows.plotting",
    "predict": "nwb_neurpir.workflows.prediction",
    "read_embeddings": "nwb_neurpir.workflows.embeddings",
    "remove_embeddings": "nwb_neurpir.store.remove",
    "simulate_nwb": "nwb_neurpir.workflows.simulation",
    "to_pynapple": "nwb_neurpir.workflows.pynapple_units",
}
"""The module each name of ``__all__`` is imported from on first use."""

if TYPE_CHECKING:
    from nwb_neurpir.evaluation.grouping import LabelGrouping
    from nwb_neurpir.evaluation.results import EvaluationResult
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.store.remove import remove_embeddings
    from nwb_neurpir.workflows.annotation import AnnotateOutcome, annotate
    from nwb_neurpir.workflows.embeddings import read_embeddings
    from nwb_neurpir.workflows.estimator import NeurPIR, NotFittedError, embedding_matrix
    from nwb_neurpir.workflows.evaluation import evaluate
    from nwb_neurpir.workflows.inspection import Inspection, inspect
    from nwb_neurpir.workflows.model_export import export_model
    from nwb_neurpir.workflows.plotting import plot_embeddings
    from nwb_neurpir.workflows.prediction import PredictOutcome, predict
    from nwb_neurpir.workflows.probe import LabelProbe
    from nwb_neurpir.workflows.pynapple_units import to_pynapple
    from nwb_neurpir.workflows.recordings import open_recordings
    from nwb_neurpir.workflows.simulation import simulate_nwb
else:  # hidden from type checkers, so that a name outside ``__all__`` is an error to them
    def __getattr__(name: str) -> object:
        if name not in _HOMES:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

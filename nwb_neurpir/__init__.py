"""nwb-neurpir: learn one intrinsic vector per neuron from NWB recordings (NeurPIR, Wu et al., ICLR 2025).

>>> import nwb_neurpir as npir
>>> npir.simulate_nwb("sim/", preset="demo", animals=2, neurons=50)    # doctest: +SKIP
>>> npir.inspect("sim/")                                              # doctest: +SKIP
>>> recordings = npir.open_recordings("sim/")                          # doctest: +SKIP
>>> model = npir.NeurPIR(max_steps=800).fit(recordings)               # doctest: +SKIP
>>> frame = model.transform(recordings)                               # doctest: +SKIP
>>> npir.plot_embeddings(frame, color_by="cell_type")                 # doctest: +SKIP
>>> npir.annotate(model, "sim/"); npir.read_embeddings("sim/")        # doctest: +SKIP

The names below are imported on first use (torch, CEBRA and pynwb load only when needed); type checkers (mypy,
pyright) see their real types through the imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.2.4"

__all__ = ["AnnotateOutcome", "EvaluationResult", "Inspection", "LabelGrouping", "LabelProbe", "NeurPIR",
           "NotFittedError", "PredictOutcome", "Recording", "__version__", "annotate", "embedding_matrix", "evaluate",
           "export_model", "inspect", "open_recordings", "plot_embeddings", "predict", "read_embeddings",
           "remove_embeddings", "simulate_nwb", "to_pynapple"]

if TYPE_CHECKING:
    from nwb_neurpir.workflows import (AnnotateOutcome, EvaluationResult, Inspection, LabelGrouping, LabelProbe,
                                       NeurPIR, NotFittedError, PredictOutcome, Recording, annotate, embedding_matrix,
                                       evaluate, export_model, inspect, open_recordings, plot_embeddings, predict,
                                       read_embeddings, remove_embeddings, simulate_nwb, to_pynapple)
else:  # hidden from type checkers, so that a name outside ``__all__`` is an error to them
    def __getattr__(name: str) -> object:
        if name in __all__:
            from nwb_neurpir import workflows

            return getattr(workflows, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

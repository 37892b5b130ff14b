"""Evaluation of per-neuron vectors: probes on animals never seen, against hand-made baselines, with reports.

>>> from nwb_neurpir.evaluation import evaluate, format_table, write_report
>>> result = evaluate(recordings, label="brain_area", grouping="steinmetz-4region",
...                   config=NeurPIRConfig())                                       # doctest: +SKIP
>>> print(format_table(result)); write_report(result, "report/")                    # doctest: +SKIP
"""

from nwb_neurpir.evaluation.evaluate import evaluate
from nwb_neurpir.evaluation.grouping import GROUPING_PRESETS, LabelGrouping, load_grouping
from nwb_neurpir.evaluation.report import format_table, write_report
from nwb_neurpir.evaluation.results import EvaluationResult

__all__ = [
    "GROUPING_PRESETS",
    "EvaluationResult",
    "LabelGrouping",
    "evaluate",
    "format_table",
    "load_grouping",
    "write_report",
]

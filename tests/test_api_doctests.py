"""The docstring examples of the top-level API run as doctests (examples that need data files are marked +SKIP)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("nwb_neurpir", "nwb_neurpir.workflows.estimator", "nwb_neurpir.workflows.probe",
           "nwb_neurpir.workflows.recordings", "nwb_neurpir.workflows.annotation", "nwb_neurpir.workflows.embeddings",
           "nwb_neurpir.workflows.prediction", "nwb_neurpir.workflows.pynapple_units", "nwb_neurpir.model.config")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_some_examples_really_run() -> None:
    attempted = 0
    for name in MODULES:
        finder = doctest.DocTestFinder()
        for test in finder.find(importlib.import_module(name)):
            attempted += sum(not example.options.get(doctest.SKIP) for example in test.examples)
    assert attempted >= 6

"""Progress bars: ``tqdm.auto``'s bar, imported without its warning where a Jupyter kernel has no ipywidgets.

In a Jupyter kernel ``tqdm.auto`` draws the notebook bar when ipywidgets is installed; without it, it falls back to
the text bar but warns first ("TqdmWarning: IProgress not found. Please update jupyter and ipywidgets"). Imported
here with that warning filtered, ``tqdm.auto`` is the text bar there without the warning, and so is every later
import of it (a module is imported once); a library that imports it (umap) is imported ``without_ipywidgets_warning``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.std import TqdmWarning

__all__ = ["tqdm", "without_ipywidgets_warning"]


@contextmanager
def without_ipywidgets_warning() -> Iterator[None]:
    """Within: ``tqdm.auto``'s warning that a Jupyter kernel has no ipywidgets (it then draws the text bar) is
    filtered."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        yield


with without_ipywidgets_warning():
    from tqdm.auto import tqdm

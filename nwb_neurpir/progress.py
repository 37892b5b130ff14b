"""Progress bars: ``tqdm.auto``'s bar, imported without its warning where a Jupyter kernel has no ipywidgets, and
whether to draw them when the caller did not say (``NEURPIR_PROGRESS``, ``TQDM_DISABLE``).

In a Jupyter kernel ``tqdm.auto`` draws the notebook bar when ipywidgets is installed; without it, it falls back to
the text bar but warns first ("TqdmWarning: IProgress not found. Please update jupyter and ipywidgets"). Imported
here with that warning filtered, ``tqdm.auto`` is the text bar there without the warning, and so is every later
import of it (a module is imported once); a library that imports it (umap) is imported ``without_ipywidgets_warning``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.std import TqdmWarning

from nwb_neurpir.errors import NeurPIRError

__all__ = ["progress_from_environment", "progress_or_environment", "tqdm", "without_ipywidgets_warning"]


def progress_from_environment() -> bool | None:
    """Whether the environment asks for progress bars: ``NEURPIR_PROGRESS`` (``1`` or ``0``) decides, else
    ``TQDM_DISABLE`` (set and not ``0``: off); None when neither says."""
    chosen = os.environ.get("NEURPIR_PROGRESS", "").strip()
    if chosen:
        if chosen not in ("0", "1"):
            raise NeurPIRError(f"NEURPIR_PROGRESS must be 1 or 0, not {chosen!r}")
        return chosen == "1"
    if os.environ.get("TQDM_DISABLE", "").strip() not in ("", "0"):
        return False
    return None


def progress_or_environment(progress: bool | None) -> bool:
    """The Python API's ``progress`` argument: True or False as given; None (its default) is what the environment
    says (``progress_from_environment``), else on. The commands fall back on whether stderr is a terminal instead
    (a notebook's stderr is none, and draws its bars)."""
    if progress is not None:
        return progress
    chosen = progress_from_environment()
    return True if chosen is None else chosen


@contextmanager
def without_ipywidgets_warning() -> Iterator[None]:
    """Within: ``tqdm.auto``'s warning that a Jupyter kernel has no ipywidgets (it then draws the text bar) is
    filtered."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        yield


with without_ipywidgets_warning():
    from tqdm.auto import tqdm

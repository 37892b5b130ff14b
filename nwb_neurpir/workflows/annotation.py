"""``annotate``: embed the neurons of NWB sources with a fitted model and store the vectors in each file (or a
sidecar file for DANDI assets and read-only files)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.annotate_sources import AnnotateOutcome
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.workflows.estimator import NeurPIR

__all__ = ["annotate"]


def annotate(model: NeurPIR | TrainedModel | str | Path, sources: str | Path | Iterable[str | Path],
             glob: str | None = None, *, raise_on_failure: bool = True, **options: Any) -> list[AnnotateOutcome]:
    """Write one embedding per neuron into every source: in place (atomic, locked) for local files, into copies with
    ``output_dir``, as sidecar NWB files for DANDI assets and read-only files.

    ``model`` is a fitted ``npir.NeurPIR``, a trained ``nwb_neurpir.model.NeurPIR`` or a model folder. ``options``
    go to ``nwb_neurpir.annotate_sources.annotate_sources`` (``output_dir``, ``overwrite``, ``name``, ``sidecar``,
    ``unit_filter``, ``cache_dir``, ``lock_timeout``, ``progress``). Every source is tried; then, unless
    ``raise_on_failure=False``, a failure raises a ``NeurPIRError`` naming the first failed source. Returns one
    outcome per source (``status``: in-place, copy, sidecar or failed; ``path``; ``n_neurons``).

    >>> import nwb_neurpir as npir
    >>> outcomes = npir.annotate("model/", "sim/sub-sim01", overwrite=True)     # doctest: +SKIP
    >>> outcomes[0].status, outcomes[0].n_neurons                              # doctest: +SKIP
    ('in-place', 250)
    """
    from nwb_neurpir.annotate_sources import annotate_sources
    from nwb_neurpir.workflows.estimator import trained_model

    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    outcomes = annotate_sources(trained_model(model), items, glob, **options)
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    if failed and raise_on_failure:
        more = f" ({len(failed) - 1} more sources failed)" if len(failed) > 1 else ""
        raise NeurPIRError(f"{failed[0].error}{more}")
    return outcomes

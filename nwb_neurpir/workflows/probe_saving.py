"""Where ``predict --fit-on`` keeps the probe it fitted: saved beside the model atomically, and once -- the same
probe fitted again (a re-run, or another job fitting on the same files at the same time) reuses the one saved, and
a different one is refused unless ``overwrite``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.workflows.probe import LabelProbe

__all__ = ["keep_probe"]


def keep_probe(probe: LabelProbe, folder: Path, overwrite: bool) -> tuple[LabelProbe, bool]:
    """Save the fitted ``probe`` to ``folder`` unless the same probe (``LabelProbe.saved_differences``: same
    settings, training files, labels and weights) is saved there already; return the probe to predict with (the
    saved one when reused, so that predictions record its checksum) and whether it was reused. A different or
    damaged probe there is refused, unless ``overwrite``, which replaces it."""
    from nwb_neurpir.workflows.probe import LabelProbe

    try:
        probe.save(folder, replace=False)
        return probe, False
    except FileExistsError:
        pass  # saved before, or by another job a moment ago: compare
    try:
        differ = probe.saved_differences(folder)
        what = f"a different probe is already saved here ({', '.join(differ)} differ)"
    except NeurPIRError as error:
        differ, what = ["all"], f"a damaged probe is saved here ({error.message})"
    if not differ:
        return LabelProbe.load(folder), True
    if not overwrite:
        raise NeurPIRError(f"{what}; use --overwrite to replace it with the one fitted on --fit-on, or --probe-dir "
                           "to keep both", source=folder)
    probe.save(folder)
    return probe, False

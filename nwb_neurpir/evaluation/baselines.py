"""The hand-feature baselines NeurPIR is compared with: hand features (``hand``) and their PCA (``hand-pca``).

Both are fixed representations (no self-supervised training); PCA is fitted inside the probe on each fold's training
neurons, so the test animal never shapes it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nwb_neurpir.evaluation.dataset import LabelledNeurons
from nwb_neurpir.evaluation.features import feature_matrix
from nwb_neurpir.evaluation.representations import FixedRepresentation, gather_rows
from nwb_neurpir.recording import Recording

__all__ = ["BASELINES", "HAND_PCA_COMPONENTS", "hand_feature_representation"]

HAND_PCA_COMPONENTS = 10
BASELINES: dict[str, str] = {
    "hand": "hand-made electrophysiology features",
    "hand-pca": f"first {HAND_PCA_COMPONENTS} principal components of the hand features",
}


def hand_feature_representation(recordings: Sequence[Recording], neurons: LabelledNeurons, progress: bool = False,
                                among: Sequence[np.ndarray] | None = None) -> tuple[FixedRepresentation, list[str]]:
    """Hand features of the labelled neurons, and the feature names; ``among``: per recording, the neurons to
    compute them among (``feature_matrix``)."""
    matrices, names = feature_matrix(recordings, progress=progress, among=among)
    return FixedRepresentation(name="hand", matrix=gather_rows(neurons, matrices), mode="none",
                               per_recording=matrices), names

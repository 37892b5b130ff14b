"""The NeurPIR model: CEBRA context, population-context neuron encoder, segment-length-augmented training with a
within-recording loss (Barlow Twins or VICReg) and a cross-view activity-prediction term, embedding.

>>> from nwb_neurpir.model import NeurPIRConfig, NeurPIR, train
>>> model = train(recordings, NeurPIRConfig(max_steps=500), out_dir="model")   # doctest: +SKIP
>>> vectors = model.embed(recording)                                             # doctest: +SKIP
>>> NeurPIR.load("model").provenance().checkpoint_sha256                         # doctest: +SKIP
"""

from nwb_neurpir.model.config import MODALITY_DEFAULTS, NeurPIRConfig
from nwb_neurpir.model.estimator import NeurPIR
from nwb_neurpir.model.trainer import train

__all__ = ["MODALITY_DEFAULTS", "NeurPIR", "NeurPIRConfig", "train"]

"""Method names: ``REPRESENTATION[:PROBE]`` such as ``neurpir``, ``neurpir-untrained``, ``hand:gb`` or ``hand-pca``.

Representations: the NeurPIR variants (``representations.NEURPIR_VARIANTS``), the baselines
(``baselines.BASELINES``), ``neurpir+hand`` (a probe on the NeurPIR vectors and one on the hand features, fused) and
``neurpir-neighbours`` (``neighbours``), and given vectors of other methods (``external``: ``NAME``, ``NAME+hand``);
probes: ``probes.PROBES`` (default ``logistic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.baselines import BASELINES, HAND_PCA_COMPONENTS
from nwb_neurpir.evaluation.probes import PROBES
from nwb_neurpir.evaluation.representations import NEURPIR_VARIANTS

__all__ = ["COMBINED", "REPRESENTATIONS", "Method", "default_methods", "parse_methods", "representations_with",
           "split_methods"]

_FUSION = "late fusion: one probe on each, log-probabilities summed"
COMBINED: dict[str, str] = {
    "neurpir+hand": f"NeurPIR vectors and hand features ({_FUSION})",
    "neurpir-neighbours": "NeurPIR vector beside the mean vector of the 5 co-recorded neurons most correlated in "
                          "activity (label-free, neighbour-aware)",
}
REPRESENTATIONS: dict[str, str] = {**NEURPIR_VARIANTS, **BASELINES, **COMBINED}


def representations_with(given: Mapping[str, str]) -> dict[str, str]:
    """``REPRESENTATIONS`` and the given vectors (name -> description), each also fused with the hand features
    (``NAME+hand``)."""
    out = dict(REPRESENTATIONS)
    for name, description in given.items():
        out[name] = description
        out[f"{name}+hand"] = f"{description} and hand features ({_FUSION})"
    return out


@dataclass(frozen=True)
class Method:
    """A representation read out by a probe."""

    name: str
    representation: str
    probe: str

    @property
    def pca(self) -> int | None:
        """Components of the PCA step inside the probe (the ``hand-pca`` baseline), else None."""
        return HAND_PCA_COMPONENTS if self.representation == "hand-pca" else None

    @property
    def sources(self) -> tuple[str, ...]:
        """The representations the probe reads (several: one probe each, fused; ``hand-pca`` reads ``hand``)."""
        if self.representation == "hand-pca":
            return ("hand",)
        return tuple(self.representation.split("+"))

    @property
    def is_baseline(self) -> bool:
        return self.representation in BASELINES


def default_methods(neurpir_variants: Sequence[str], with_hand_features: bool, given: Sequence[str] = ()) -> list[str]:
    """NeurPIR variants with the default probe, the ``given`` vectors, then the hand baselines (logistic, gradient
    boosting, PCA) and, with NeurPIR vectors and recordings both available, ``neurpir-neighbours`` and
    ``neurpir+hand`` (and ``NAME+hand`` for each given ``NAME``)."""
    methods = [*neurpir_variants, *given]
    if with_hand_features and "neurpir" in neurpir_variants:
        methods.append("neurpir-neighbours")
    if with_hand_features:
        methods += ["hand", "hand:gb", "hand-pca"]
        if "neurpir" in neurpir_variants:
            methods.append("neurpir+hand")
        methods += [f"{name}+hand" for name in given]
    return methods


def split_methods(text: str) -> list[str]:
    """The ``REPRESENTATION[:PROBE]`` specs of comma-separated text (``--methods neurpir,hand:gb``)."""
    return [spec.strip() for spec in text.split(",") if spec.strip()]


def parse_methods(specs: Sequence[str], available: Sequence[str], default_probe: str = "logistic",
                  known: Mapping[str, str] = REPRESENTATIONS) -> list[Method]:
    """Methods from ``REPRESENTATION[:PROBE]`` strings (representations among ``known``, see
    ``representations_with``); unknown or unavailable names raise NeurPIRError."""
    if default_probe not in PROBES:
        raise NeurPIRError(f"unknown probe {default_probe!r}; choose one of {', '.join(PROBES)}")
    methods: list[Method] = []
    for spec in specs:
        representation, _, probe = spec.strip().partition(":")
        probe = probe or default_probe
        if representation not in known:
            raise NeurPIRError(f"unknown method {spec!r}; representations: {', '.join(known)}")
        if any(source not in available for source in Method(spec, representation, probe).sources):
            raise _unavailable(spec, available, known)
        if probe not in PROBES:
            raise NeurPIRError(f"unknown probe in {spec!r}; choose one of {', '.join(PROBES)}")
        name = representation if probe == default_probe else f"{representation}:{probe}"
        if any(method.name == name for method in methods):
            continue
        methods.append(Method(name=name, representation=representation, probe=probe))
    if not methods:
        raise NeurPIRError("no methods to evaluate")
    return methods


def _unavailable(spec: str, available: Sequence[str], known: Mapping[str, str]) -> NeurPIRError:
    """The error for a method the inputs cannot make: the representations they can (combinations included), and
    what the missing NeurPIR ones need."""
    usable = [name for name in known if set(Method(name, name, "").sources) <= set(available)]
    needs = []
    if "neurpir" not in available:
        needs.append("neurpir needs a model, embeddings (annotated files) or training (--train)")
    trained = [name for name in NEURPIR_VARIANTS if name != "neurpir" and name not in available]
    if trained:
        needs.append(f"{', '.join(trained)} are trained per fold: they need --train")
    return NeurPIRError(f"method {spec!r} is not available with these inputs; available: "
                        f"{', '.join(usable) or 'none'}" + "".join(f"; {need}" for need in needs))

"""Small synthetic ``Recording`` objects with known neuron kinds, for the model tests (no NWB round trip needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_neurpir.recording import Recording, SourceInfo

KINDS = ("tonic", "bursty", "fast")


def synthetic_recording(seed: int = 0, n_per_kind: int = 8, n_bins: int = 1200, subject_id: str = "m1",
                        n_epochs: int = 1, with_covariates: bool = True, modality: str = "spikes",
                        rate_scale: float = 1.0) -> Recording:
    """Spike counts (10 ms bins) of three neuron kinds: tonic Poisson, bursty, fast-spiking and stimulus-driven."""
    rng = np.random.default_rng(seed)
    stimulus = (np.sin(np.arange(n_bins) / 25.0) > 0.3).astype(np.float32)
    rows, kinds = [], []
    for kind in KINDS:
        for _ in range(n_per_kind):
            if kind == "tonic":
                rate = np.full(n_bins, 0.05)
            elif kind == "bursty":
                rate = np.where(rng.random(n_bins) < 0.02, 1.5, 0.005)
                rate = np.convolve(rate, np.ones(3), mode="same")
            else:
                rate = 0.3 + 0.4 * stimulus
            rows.append(rng.poisson(rate * rate_scale * rng.uniform(0.8, 1.2)))
            kinds.append(kind)
    activity = np.asarray(rows, dtype=np.uint8)
    if modality == "ophys":
        kernel = np.exp(-np.arange(40) / 8.0)
        activity = np.stack([np.convolve(r.astype(np.float32), kernel)[:n_bins] for r in activity]).astype(np.float32)
    epoch_len = n_bins // n_epochs
    bin_times = np.concatenate([e * 10.0 + np.arange(epoch_len) * 0.01 for e in range(n_epochs)])
    bin_times = np.concatenate([bin_times, bin_times[-1] + 0.01 * np.arange(1, n_bins - bin_times.size + 1)])
    covariates = {"stimulus": stimulus, "speed": np.abs(rng.normal(0, 1, n_bins)).astype(np.float32)} \
        if with_covariates else {}
    return Recording(
        source=SourceInfo(location=f"synthetic-{subject_id}-{seed}.nwb", identifier=f"synthetic-{subject_id}-{seed}"),
        subject_id=subject_id, session_id=f"ses{seed}", session_start_time="2024-01-01T00:00:00+00:00",
        modality=modality, bin_size=0.01, bin_times=bin_times, activity=activity,
        neuron_ids=np.arange(activity.shape[0], dtype=np.int64), neuron_table="units",
        neuron_metadata=pd.DataFrame({"kind": kinds}), covariates=covariates)

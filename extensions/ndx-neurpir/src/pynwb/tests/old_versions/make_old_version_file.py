"""Write ``ndx-neurpir-<version>.nwb``: a small annotated file made with the extension version installed now (since
0.2.2 with predictions of two classes too).

Run from the project root with the version to keep (``python extensions/ndx-neurpir/src/pynwb/tests/old_versions/
make_old_version_file.py``) before the spec changes, and commit the file: the tests check that files written by
earlier versions of the extension still read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store import ProbeProvenance, write_embeddings, write_predictions
from nwb_neurpir.testing import make_spikes_nwbfile, write_nwbfile

HERE = Path(__file__).resolve().parent


def main() -> Path:
    from ndx_neurpir import NAMESPACE
    from pynwb import get_type_map

    version = get_type_map().namespace_catalog.get_namespace(NAMESPACE).version
    path = HERE / f"ndx-neurpir-{version}.nwb"
    write_nwbfile(make_spikes_nwbfile(n_units=6, duration=5.0, seed=11, n_trials=2, with_context=False), path)
    vectors = np.arange(6 * 4, dtype=np.float32).reshape(6, 4) / 10
    provenance = ModelProvenance(hyperparameters={"representation_dim": 4}, checkpoint_sha256="cd" * 32,
                                 training_data=["old-version-fixture"], created="2026-12-03T00:00:00+00:00")
    write_embeddings(path, np.arange(6), vectors, provenance, progress=False)
    probe = ProbeProvenance(kind="logistic", label="cell_type", class_names=["FS", "RS"],
                            training_data=["old-version-fixture"], checkpoint_sha256="ef" * 32,
                            cross_animal_accuracy=0.5, created="2026-12-03T00:00:00+00:00")
    first = np.linspace(0.2, 0.7, 6, dtype=np.float32)
    write_predictions(path, np.arange(6), np.stack([first, 1 - first], axis=1), probe, provenance, progress=False)
    for stale in HERE.glob(".*neurpir-lock"):
        stale.unlink()
    return path


if __name__ == "__main__":
    print(main())

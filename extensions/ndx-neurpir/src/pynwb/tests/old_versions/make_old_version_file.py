"""Write ``ndx-neurpir-<version>.nwb``: a small annotated file made with the extension version installed now.

Run from the project root with the version to keep (``python extensions/ndx-neurpir/src/pynwb/tests/old_versions/
make_old_version_file.py``) before the spec changes, and commit the file: the tests check that files written by
earlier versions of the extension still read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store import write_embeddings
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
    for stale in HERE.glob(".*neurpir-lock"):
        stale.unlink()
    return path


if __name__ == "__main__":
    print(main())

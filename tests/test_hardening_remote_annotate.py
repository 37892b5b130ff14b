"""`neurpir annotate` on DANDI assets (the loopback archive) whose paths try to leave the folder: the sidecar files land
in the output folder (or ./neurpir-sidecars), named from subject and session in DANDI's layout, never from the asset
path; the streamed bytes stay in the cache; nothing else is written anywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dandi_server import LoopbackDandi
from hardening_support import SAME_VECTORS_ATOL, CliForkServer, ColdAnnotation
from nwb_neurpir.store import read_embeddings

pytest_plugins = ["hardening_fixtures", "dandi_fixtures"]

HOSTILE = {"../../escaped.nwb": "escaped", "/tmp/absolute-neurpir-hardening.nwb": "absolute-neurpir-hardening",
           "sub-1/../../../up.nwb": "up"}


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.slow
def test_sidecars_of_hostile_asset_paths_stay_in_the_output_folder(cli_server: CliForkServer, tiny_model: Path,
                                                                  session_template: Path,
                                                                  cold_annotation: ColdAnnotation,
                                                                  loopback_dandi: LoopbackDandi,
                                                                  tmp_path: Path) -> None:
    for path in HOSTILE:
        loopback_dandi.add_asset(path, session_template)
    out, cwd, cache = tmp_path / "out", tmp_path / "cwd", tmp_path / "cache"
    cwd.mkdir()
    env = {"NEURPIR_DANDI_API_URL": loopback_dandi.api_url, "NEURPIR_CACHE_DIR": str(cache),
           "NO_PROXY": "127.0.0.1,localhost", "DANDI_NO_ET": "1"}
    done = cli_server.run(["annotate", tiny_model, f"DANDI:{loopback_dandi.dandiset}", "--output-dir", out],
                          tmp_path / "logs", env=env, cwd=cwd)
    assert done.code == 0, done.stderr[-2000:]
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(written) == len(HOSTILE)  # one subject and session: the second and third get DANDI's _obj-<hash>
    assert {p.parent.relative_to(out).as_posix() for p in written} == {"sub-mouse1"}
    for path in written:
        frame = read_embeddings(path)
        assert frame["neuron_id"].tolist() == cold_annotation.ids
        np.testing.assert_allclose(np.stack(frame["embedding"]), cold_annotation.vectors, rtol=0, atol=SAME_VECTORS_ATOL)
        assert frame.attrs["source"]["asset_path"] in HOSTILE
    assert {p.name for p in tmp_path.iterdir()} == {"out", "cwd", "cache", "logs"}
    assert _tree(cwd) == set() and not Path("/tmp/absolute-neurpir-hardening.nwb").exists()
    assert {Path(p).parts[0] for p in _tree(cache)} <= {"files", "chunks", "meta", "locks"}
    [asset_id] = [a.asset_id for a in loopback_dandi.assets.values() if a.path == "../../escaped.nwb"]
    in_cwd = cli_server.run(["annotate", tiny_model, asset_id], tmp_path / "logs", env=env, cwd=cwd)
    assert in_cwd.code == 0, in_cwd.stderr[-2000:]
    assert _tree(cwd) == {"neurpir-sidecars", "neurpir-sidecars/sub-mouse1",
                          "neurpir-sidecars/sub-mouse1/sub-mouse1_ses-ses1_desc-NeurPIREmbeddings.nwb"}

"""Hostile input through the command line: model folders carrying a pickle payload and unit filters carrying code are
refused with one line and exit 1, nothing runs and no data file is touched; a normal run writes only where promised.

Commands run as real processes forked from a warm interpreter (``CliForkServer``); the write check uses a cold run.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from hardening_support import CliForkServer, ColdAnnotation, Finished, sha256, user_lines
from nwb_neurpir.store.atomic import lock_path

pytest_plugins = ["hardening_fixtures"]


class _Payload:
    """Unpickling this writes ``marker``: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.write_text, (self.marker, "executed"))


def _plant(model: Path, folder: Path, name: str, data: bytes) -> Path:
    """A copy of ``model`` with ``name`` replaced by ``data`` and the manifest's checksum updated to match."""
    shutil.copytree(model, folder)
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _payloads(marker: Path, scratch: Path) -> dict[str, bytes]:
    torch.save({"encoder.input.weight": _Payload(marker)}, scratch / "payload.pt")
    return {"pickle": pickle.dumps({"encoder.input.weight": _Payload(marker)}),
            "torch-zip": (scratch / "payload.pt").read_bytes()}


def _assert_one_line_error(done: Finished, *expected: str) -> None:
    lines = user_lines(done.stderr)
    assert done.code == 1, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert all(text in lines[0] for text in expected), lines[0]


@pytest.fixture()
def data_file(session_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copyfile(session_template, tmp_path / "session.nwb"))


@pytest.mark.parametrize("command", ["annotate", "embed"])
def test_pickle_where_weights_belong_is_refused_and_never_run(cli_server: CliForkServer, tiny_model: Path,
                                                              data_file: Path, tmp_path: Path, command: str) -> None:
    marker = tmp_path / "executed.txt"
    before = sha256(data_file)
    for kind, data in _payloads(marker, tmp_path).items():
        model = _plant(tiny_model, tmp_path / f"model-{kind}", "weights.safetensors", data)
        done = cli_server.run([command, model, data_file], tmp_path / "logs")
        _assert_one_line_error(done, str(model), "weights.safetensors is not a valid safetensors file")
    assert not marker.exists()
    assert sha256(data_file) == before and not lock_path(data_file).exists()


def test_model_config_with_unknown_keys_is_refused(cli_server: CliForkServer, tiny_model: Path, data_file: Path,
                                                   tmp_path: Path) -> None:
    config = json.loads((tiny_model / "config.json").read_text())
    config["__reduce__"] = "os.system"
    model = _plant(tiny_model, tmp_path / "model", "config.json", json.dumps(config).encode())
    _assert_one_line_error(cli_server.run(["annotate", model, data_file], tmp_path / "logs"),
                           "unknown config keys: __reduce__")


CODE_FILTERS = [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w').write('x') > 0",
    "quality.__class__.__init__.__globals__['os'].system('touch {marker}') == 0",
    "[c for c in ().__class__.__base__.__subclasses__()] == []",
    "(lambda: open('{marker}', 'w'))() is None",
]


@pytest.mark.parametrize("template", CODE_FILTERS)
def test_unit_filter_with_code_is_refused_by_annotate_and_embed(cli_server: CliForkServer, tiny_model: Path,
                                                                data_file: Path, tmp_path: Path,
                                                                template: str) -> None:
    marker = tmp_path / "executed.txt"
    expression = template.format(marker=marker)
    before = sha256(data_file)
    annotated = cli_server.run(["annotate", tiny_model, data_file, "--filter", expression], tmp_path / "logs")
    assert annotated.code == 1, annotated.stderr[-2000:]
    assert "failed" in annotated.stdout and "unit filter" in annotated.stdout
    assert user_lines(annotated.stderr)[-1] == "annotated 0 of 1 sources; 1 failed"
    assert "Traceback" not in annotated.stderr
    _assert_one_line_error(cli_server.run(["embed", tiny_model, data_file, "--filter", expression, "--no-progress"],
                                          tmp_path / "logs"), "unit filter")
    assert not marker.exists()
    assert sha256(data_file) == before


THIRD_PARTY_CACHES = (".cache/pynwb-hdmf", ".cache/matplotlib", ".config/matplotlib")
"""What libraries write under HOME on import: pynwb's cached core type map, matplotlib's font list and config dir."""


def test_annotating_in_place_writes_only_next_to_the_file(cold_annotation: ColdAnnotation) -> None:
    """The working folder, TMPDIR and the cache stay empty, HOME gets only the libraries' own caches, and the file's
    folder gains nothing (its lock file is gone after the run)."""
    assert cold_annotation.run.code == 0
    written = {name: sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
               for name, folder in cold_annotation.sandbox.items()}
    home = written.pop("home")
    assert written == {"cwd": [], "tmp": [], "cache": []}
    parents = {str(Path(prefix).parent) for prefix in THIRD_PARTY_CACHES}
    assert [p for p in home if p not in parents and not p.startswith(THIRD_PARTY_CACHES)] == []
    folder = cold_annotation.annotated.parent
    assert sorted(p.name for p in folder.iterdir()) == [cold_annotation.annotated.name]

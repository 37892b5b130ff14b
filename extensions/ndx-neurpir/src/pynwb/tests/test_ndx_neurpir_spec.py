"""The committed spec YAML is exactly what ``src/spec/create_extension_spec.py`` generates (no drift)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parents[3]
SPEC_FILES = ("ndx-neurpir.namespace.yaml", "ndx-neurpir.extensions.yaml")


def _load_spec_script():
    path = EXTENSION_DIR / "src" / "spec" / "create_extension_spec.py"
    spec = importlib.util.spec_from_file_location("create_extension_spec", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_spec_matches_generator(tmp_path: Path) -> None:
    _load_spec_script().main(tmp_path)
    for name in SPEC_FILES:
        committed = (EXTENSION_DIR / "spec" / name).read_text()
        assert (tmp_path / name).read_text() == committed, f"spec/{name} drifted: rerun src/spec/create_extension_spec.py"


def test_package_finds_the_committed_spec() -> None:
    """The spec the package loads, from the source tree (editable) or from inside the installed package (a wheel), is
    the committed one."""
    import ndx_neurpir

    found = ndx_neurpir.spec_path()
    assert found.name == SPEC_FILES[0]
    for name in SPEC_FILES:
        assert (found.parent / name).read_text() == (EXTENSION_DIR / "spec" / name).read_text(), name


def test_the_package_version_is_at_least_the_namespace_version_it_loads() -> None:
    from packaging.version import Version
    from pynwb import get_type_map

    import ndx_neurpir

    namespace = get_type_map().namespace_catalog.get_namespace(ndx_neurpir.NAMESPACE)
    assert Version(ndx_neurpir.__version__) >= Version(namespace.version)


def test_the_model_checksum_is_documented_as_the_manifest_digest() -> None:
    import yaml

    spec = yaml.safe_load((EXTENSION_DIR / "spec" / SPEC_FILES[1]).read_text())
    model = next(group for group in spec["groups"] if group["neurodata_type_def"] == "NeurPIRModel")
    doc = next(attribute["doc"] for attribute in model["attributes"] if attribute["name"] == "checkpoint_sha256")
    assert "manifest.json" in doc and "checkpoint file" not in doc


def _dtypes(spec: dict) -> list[tuple[str, str]]:
    """(name, dtype) of every attribute and dataset in ``spec``, at any depth."""
    found = [(item.get("name", "?"), str(item.get("dtype"))) for key in ("attributes", "datasets")
             for item in spec.get(key, [])]
    return found + [pair for dataset in spec.get("datasets", []) for pair in _dtypes(dataset)]


def test_no_field_is_an_isodatetime() -> None:
    """pynwb before 3.0 (hdmf 3) cannot read an extension's isodatetime attribute back: the whole file fails."""
    import yaml

    spec = yaml.safe_load((EXTENSION_DIR / "spec" / SPEC_FILES[1]).read_text())
    fields = [(group["neurodata_type_def"], *pair) for group in spec["groups"] for pair in _dtypes(group)]
    assert ("NeurPIRModel", "created", "text") in fields
    assert [field for field in fields if field[2] == "isodatetime"] == []

"""The README's Python blocks run as written, in order, on small simulated files laid out like the demo's output.

Blocks preceded by ``<!-- readme-test: skip (reason) -->`` (e.g. needing the network) are left out. The only change
made to the code is a tiny model in place of ``max_steps=800``, so training takes seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nwb_neurpir.simulate import SimulationConfig
from nwb_neurpir.simulate.nwb_output import write_dataset

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*)?```python\n(.*?)```", re.DOTALL)
TINY_MODEL = ("npir.NeurPIR(max_steps=800)",
              "npir.NeurPIR(max_steps=2, hidden_dim=8, representation_dim=8, expander_dim=16, batch_size=16, "
              "context_iterations=5, context_batch_size=64, segment_length_min=0.5, segment_length_max=2.0, "
              "validation_fraction=0.0, num_threads=1)")
CLASSES = {"CH", "FS", "IB", "LTS", "RS"}


def readme_blocks() -> list[tuple[str, bool]]:
    """(code, skipped) of every Python block of the README, in order."""
    return [(match[2], bool(match[1])) for match in BLOCK.finditer(README.read_text())]


def test_readme_has_python_blocks_using_the_top_level_api() -> None:
    blocks = readme_blocks()
    assert len([code for code, skipped in blocks if not skipped]) >= 3
    assert any("import nwb_neurpir as npir" in code for code, _ in blocks)
    assert not any("nwb_neurpir.store" in code for code, _ in blocks)
    assert sum(code.count(TINY_MODEL[0]) for code, _ in blocks) == 1


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(tmp_path / "neurpir-demo" / "data",
                  SimulationConfig(n_animals=3, sessions_per_animal=1, n_neurons=25, duration_s=20.0, seed=5),
                  modality="spikes", progress=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for index, (code, skipped) in enumerate(readme_blocks()):
        if not skipped:
            exec(compile(code.replace(*TINY_MODEL), f"README.md python block {index + 1}", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "neurpir-demo" / "model" / "probes" / "cell_type" / "probe.json").is_file()
    assert len(namespace["frame"]) == 50 and "predicted_cell_type" in namespace["frame"].columns
    assert set(namespace["frame"].loc[namespace["frame"]["subject_id"] == "sim03", "predicted_cell_type"]) <= CLASSES
    assert namespace["units"].metadata["predicted_cell_type"].notna().all()
    assert len(namespace["labels_sim03"]) == 25 and set(namespace["labels_sim03"]) <= CLASSES  # the Pipeline's


def test_the_changelog_starts_with_this_release_and_the_readme_links_it() -> None:
    from nwb_neurpir import __version__

    changelog = (README.parent / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\S+)$", changelog, re.MULTILINE)
    assert headings[headings[0] == "Unreleased"] == __version__  # the changes since it, if any, above it
    assert "## Compatibility" in README.read_text() and "(CHANGELOG.md)" in README.read_text()

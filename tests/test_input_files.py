"""JSON files a user hands over as a Windows editor saves them (a UTF-8 byte order mark first) are read like YAML and
CSV files with one: grouping, palette and config files."""

from __future__ import annotations

from pathlib import Path

from nwb_neurpir.evaluation.grouping import load_grouping
from nwb_neurpir.evaluation.palette import load_palette
from nwb_neurpir.model.config import NeurPIRConfig

BOM = "\ufeff"


def test_json_files_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    grouping = tmp_path / "grupos.json"
    grouping.write_text(BOM + '{"córtex": ["córtex*"], "海馬": ["hipocampo"]}', encoding="utf-8")
    assert load_grouping(grouping).groups == {"córtex": ("córtex*",), "海馬": ("hipocampo",)}
    palette = tmp_path / "paleta.json"
    palette.write_text(BOM + '{"córtex": "#D55E00"}', encoding="utf-8")
    assert load_palette(palette) == {"córtex": "#D55E00"}
    config = tmp_path / "config.json"
    config.write_text(BOM + '{"max_steps": 50, "context_iterations": 50}', encoding="utf-8")
    loaded = NeurPIRConfig.from_file(config)
    assert (loaded.max_steps, loaded.context_iterations) == (50, 50)

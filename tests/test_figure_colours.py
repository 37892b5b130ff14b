"""The embedding and confusion figures on simulated NWB files: a class or animal keeps its colour in every figure,
the palette is colour-blind safe and the user's to set, values folded into "other" are named, titles say what is
shown (grouping, neurons left out, model, chance, PCA variance)."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from eval_files import TINY, add_unit_column, simulated_folder
from matplotlib.colors import to_hex
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation import evaluate
from nwb_neurpir.evaluation.evaluation_warning import EvaluationWarning
from nwb_neurpir.evaluation.palette import OKABE_ITO, OTHER_COLOUR
from nwb_neurpir.io import open_recordings

runner = CliRunner()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 animals (sim01..sim03) x 25 neurons, 5 of each cell type (CH, FS, IB, LTS, RS)."""
    return simulated_folder(tmp_path_factory, seed=11)


@pytest.fixture(scope="module")
def model_dir(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nwb_neurpir.model import train

    folder = tmp_path_factory.mktemp("runs") / "tiny-model"
    train(list(open_recordings([simulated], progress=False)), TINY, out_dir=folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def frame(simulated: Path, model_dir: Path) -> pd.DataFrame:
    return npir.NeurPIR.load(model_dir).transform(open_recordings([simulated], progress=False), progress=False)


@pytest.fixture(scope="module")
def grouping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes in an order that is not alphabetical; IB is in none (dropped)."""
    path = tmp_path_factory.mktemp("grouping") / "firing.json"
    path.write_text(json.dumps({"name": "firing", "groups": {"regular": ["RS"], "fast": ["FS"],
                                                             "bursting": ["CH", "LTS"]}}))
    return path


def _colours(axis) -> dict[str, str]:  # noqa: ANN001
    """Legend name (without its count) -> colour of its points."""
    return {c.get_label().split(" (")[0]: to_hex(c.get_facecolor()[0]) for c in axis.collections}


def _quiet_plot(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return npir.plot_embeddings(*args, projection="pca", **kwargs)


def test_a_class_and_an_animal_keep_their_colour_in_a_subset(frame: pd.DataFrame, grouping: Path) -> None:
    subset = frame[(frame["subject_id"] != "sim01") & (frame["cell_type"] != "CH")]
    for group in (None, str(grouping)):
        whole = _quiet_plot(frame, color_by="cell_type", grouping=group)
        part = _quiet_plot(subset, color_by="cell_type", grouping=group)
        everything, some = _colours(whole.axes[0]), _colours(part.axes[0])
        assert set(everything.values()) <= {c.lower() for c in OKABE_ITO}  # colour-blind safe, all different
        assert len(set(everything.values())) == len(everything)
        assert {name: everything[name] for name in some} == some, group
        assert _colours(part.axes[1]) == {name: _colours(whole.axes[1])[name] for name in ("sim02", "sim03")}
    # with a grouping: its own class order, in the legend and in the colours
    legend = [t.get_text() for t in whole.axes[0].get_legend().get_texts()]
    assert legend == ["regular (15)", "fast (15)", "bursting (30)"]
    assert list(_colours(whole.axes[0]).items()) == [("bursting", OKABE_ITO[2].lower()),
                                                     ("regular", OKABE_ITO[0].lower()),
                                                     ("fast", OKABE_ITO[1].lower())]


def test_the_users_palette_sets_the_colours_it_names(frame: pd.DataFrame, tmp_path: Path) -> None:
    figure = _quiet_plot(frame, color_by="cell_type", palette={"FS": "#123456", "sim02": "tab:red"})
    assert _colours(figure.axes[0])["FS"] == "#123456"
    assert _colours(figure.axes[1])["sim02"] == to_hex("tab:red")
    with pytest.raises(NeurPIRError, match="palette entry 'FS': 'blurple' is not a colour"):
        _quiet_plot(frame, palette={"FS": "blurple"})


def test_values_beyond_max_classes_are_grey_and_named(frame: pd.DataFrame) -> None:
    with pytest.warns(UserWarning) as caught:
        figure = npir.plot_embeddings(frame, color_by="cell_type", max_classes=2, projection="pca")
    messages = [str(w.message) for w in caught if "other" in str(w.message)]
    assert messages == ["by cell_type: 3 values drawn grey as 'other' (45 of 75 neurons; max_classes / "
                        "--max-classes colours more): IB, LTS, RS",  # the most frequent kept; ties alphabetically
                        "by animal: 1 value drawn grey as 'other' (25 of 75 neurons; max_classes / --max-classes "
                        "colours more): sim03"]
    other = figure.axes[0].get_legend().get_texts()[-1].get_text()
    assert other == "other, 3 values (45):\nIB, LTS, RS"
    assert _colours(figure.axes[0])["other, 3 values"] == OTHER_COLOUR.lower()
    with pytest.raises(NeurPIRError, match="max_classes must be at least 1"):
        _quiet_plot(frame, max_classes=0)


def test_titles_name_the_grouping_the_neurons_left_out_and_pca_variance(frame: pd.DataFrame,
                                                                        grouping: Path) -> None:
    figure = _quiet_plot(frame, color_by="cell_type", grouping=str(grouping))
    assert figure.axes[0].get_title() == ("by cell_type grouped by firing\n60 of 75 neurons shown; 15 left out "
                                          "(15 outside grouping)")
    assert figure.axes[1].get_title() == "by animal"
    shares = [re.fullmatch(r"PC(\d) \((\d+)%\)", label) for label in (figure.axes[0].get_xlabel(),
                                                                      figure.axes[0].get_ylabel())]
    assert [match.group(1) for match in shares] == ["1", "2"]
    assert 100 >= int(shares[0].group(2)) >= int(shares[1].group(2)) > 0
    assert _quiet_plot(frame, color_by="cell_type").axes[0].get_title() == "by cell_type"


def test_the_cli_takes_a_palette_file_and_max_classes(simulated: Path, model_dir: Path, tmp_path: Path) -> None:
    annotated = tmp_path / "annotated"
    done = runner.invoke(app, ["annotate", str(model_dir), str(simulated), "--out", str(annotated), "--no-progress"])
    assert done.exit_code == 0, done.output
    palette = tmp_path / "colours.json"
    palette.write_text(json.dumps({"RS": "#000000"}))
    drawn = runner.invoke(app, ["plot", str(annotated), "--projection", "pca", "--out", str(tmp_path / "u.png"),
                                "--palette", str(palette), "--max-classes", "4", "--no-progress"])
    assert drawn.exit_code == 0, drawn.output
    assert "by cell_type: 1 value drawn grey as 'other' (15 of 75 neurons" in " ".join(drawn.output.split())
    palette.write_text("[1, 2]")
    refused = runner.invoke(app, ["plot", str(annotated), "--projection", "pca", "--out", str(tmp_path / "v.png"),
                                  "--palette", str(palette), "--no-progress"])
    assert refused.exit_code != 0
    assert f"{palette}: a palette file holds one JSON object" in " ".join(refused.output.split())


def test_evaluate_titles_name_the_model_folder_and_the_grouping(simulated: Path, model_dir: Path,
                                                               grouping: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = npir.evaluate(simulated, label="cell_type", model=model_dir, grouping=grouping, methods="neurpir",
                               progress=False)
        figure = result.plot("embeddings", projection="pca", palette={"fast": "#123456"})
    assert figure.get_suptitle().startswith("PCA of NeurPIR vectors of model tiny-model")
    assert figure.axes[0].get_title().startswith("by cell_type grouped by firing\n60 of 75 neurons shown; 15 left out")
    assert _colours(figure.axes[0])["fast"] == "#123456"


def test_confusion_titles_give_the_chance_of_a_fold_that_lacks_a_class(simulated: Path, tmp_path: Path) -> None:
    """sim01's neurons have areas A and B only, the others A, B and C: held out, its chance is 1/3 over the training
    classes and 1/2 for a probe that never predicts C (the report's note)."""
    folder = tmp_path / "areas"
    shutil.copytree(simulated, folder)
    for path in sorted(folder.rglob("*.nwb")):
        areas = "AB" if "sim01" in path.name else "ABC"
        add_unit_column(path, "area", [areas[row % len(areas)] for row in range(25)])
    figure = _random_vector_result(folder, "area").plot("confusion")
    title = figure.axes[0].get_title()
    assert title.endswith(", chance 0.333 (0.500)"), title
    assert "never guessing those its test neurons lack (sim01 lacks C)" in figure.get_suptitle()


def test_a_value_the_palette_names_is_never_folded_into_other(frame: pd.DataFrame, tmp_path: Path) -> None:
    """Counted first among the ``max_classes`` kept, then the most frequent; the palette given as a JSON file too."""
    palette = tmp_path / "colours.json"
    palette.write_text(json.dumps({"RS": "#000000", "sim03": "#FF00FF"}))
    for given in (palette, str(palette), {"RS": "#000000", "sim03": "#FF00FF"}):
        with pytest.warns(UserWarning) as caught:
            figure = npir.plot_embeddings(frame, color_by="cell_type", palette=given, max_classes=2, projection="pca")
        assert [str(w.message).split(": ")[-1] for w in caught if "other" in str(w.message)] == ["FS, IB, LTS",
                                                                                                  "sim02"]
        assert _colours(figure.axes[0])["RS"] == "#000000" and "CH" in _colours(figure.axes[0])
        assert _colours(figure.axes[1])["sim03"] == "#ff00ff" and "sim01" in _colours(figure.axes[1])
    alone = _quiet_plot(frame, color_by="cell_type", palette={"LTS": "#000000"}, max_classes=1)
    assert set(_colours(alone.axes[0])) == {"LTS", "other, 4 values"}


def test_the_figures_warnings_name_the_callers_line(frame: pd.DataFrame) -> None:
    with_nan = frame.copy()
    with_nan.at[0, "embedding"] = np.full_like(with_nan.at[0, "embedding"], np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        npir.plot_embeddings(with_nan, color_by="cell_type", max_classes=2, projection="pca")
    ours = [w for w in caught if issubclass(w.category, EvaluationWarning)]
    assert any("NaN" in str(w.message) for w in ours) and any("drawn grey" in str(w.message) for w in ours)
    assert {w.filename for w in ours} == {__file__}, [(w.filename, w.lineno) for w in ours]


def test_result_plot_takes_a_palette_file_and_refuses_it_for_other_figures(simulated: Path, tmp_path: Path) -> None:
    result = _random_vector_result(simulated, "cell_type")
    for kind, option in (("confusion", {"palette": {"RS": "#000000"}}), ("stability", {"max_classes": 3})):
        with pytest.raises(NeurPIRError, match=f"apply to the 'embeddings' figure, not to '{kind}'"):
            result.plot(kind, **option)
    palette = tmp_path / "colours.json"
    palette.write_text(json.dumps({"RS": "#123456"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figure = result.plot("embeddings", projection="pca", palette=palette, max_classes=1)
    assert _colours(figure.axes[0])["RS"] == "#123456"


def _random_vector_result(folder: Path, label: str):  # noqa: ANN202 - an EvaluationResult
    """An evaluation of random vectors of the files in ``folder`` by ``label``, sim01 held out (quietly)."""
    recordings = list(open_recordings([folder], progress=False))
    vectors = [np.random.default_rng(0).normal(size=(r.n_neurons, 4)) for r in recordings]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(recordings, label=label, embeddings=vectors, methods=["neurpir"], held_out=["sim01"],
                        normalize="none", progress=False)


def test_plot_help_states_the_max_classes_default_without_importing_the_plots() -> None:
    from typer.testing import CliRunner

    from nwb_neurpir.cli.app import app
    from nwb_neurpir.evaluation.plots import MAX_CLASSES

    text = " ".join(CliRunner().invoke(app, ["plot", "--help"], env={"COLUMNS": "200"}).output.split())
    assert f"[default: {MAX_CLASSES}]" in text

"""Figures for papers: the file format follows the suffix (any dpi), confusion matrices stay readable at many classes
with long names, degenerate inputs are refused or warned about, font sizes follow rcParams and the session's
matplotlib backend is left alone (real simulated NWB files, no image comparison)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from eval_files import add_unit_column, simulated_folder
from PIL import Image
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError

runner = CliRunner()
AREAS = [f"region-{index:02d}-with-a-long-name" for index in range(16)]
"""16 long class names: too many for numbered cells, too long for fixed panels."""
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-", "jpg": b"\xff\xd8\xff"}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 animals x 25 neurons, each with an ``area`` among ``AREAS`` (and its ``cell_type``, 5 classes)."""
    folder = simulated_folder(tmp_path_factory, seed=11)
    for path in sorted(folder.rglob("*.nwb")):
        add_unit_column(path, "area", [AREAS[row % len(AREAS)] for row in range(25)])
    return folder


@pytest.fixture(scope="module")
def annotated(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated files with the embeddings of a model trained for two steps."""
    folder = tmp_path_factory.mktemp("annotated")
    model = npir.NeurPIR(max_steps=2, context="none", num_threads=1).fit(
        npir.open_recordings(simulated, progress=False))
    npir.annotate(model, simulated, output_dir=folder, progress=False)
    return folder


def _points(axis) -> int:  # noqa: ANN001
    return sum(len(collection.get_offsets()) for collection in axis.collections)


def _legend_total(axis) -> int:  # noqa: ANN001
    return sum(int(text.get_text().rsplit("(", 1)[1].rstrip(")")) for text in axis.get_legend().get_texts())


def test_plot_writes_the_format_its_suffix_names(annotated: Path, tmp_path: Path) -> None:
    for suffix, magic in MAGIC.items():
        out = tmp_path / f"umap.{suffix}"
        done = runner.invoke(app, ["plot", str(annotated), "--projection", "pca", "--out", str(out), "--no-progress"])
        assert done.exit_code == 0, done.output
        assert out.read_bytes().startswith(magic), suffix
    sharp = tmp_path / "sharp.png"
    done = runner.invoke(app, ["plot", str(annotated), "--projection", "pca", "--out", str(sharp), "--dpi", "300"])
    assert done.exit_code == 0, done.output
    with Image.open(tmp_path / "umap.png") as default, Image.open(sharp) as journal:
        assert round(journal.info["dpi"][0]) == 300 and round(default.info["dpi"][0]) == 120
        assert journal.size[0] > 2 * default.size[0]
    for out, problem in ((tmp_path / "umap.tiff", "(not '.tiff')"), (tmp_path / "umap", "(this path has none)")):
        refused = runner.invoke(app, ["plot", str(annotated), "--out", str(out)])
        assert refused.exit_code == 1 and not out.exists()
        assert refused.stderr == (f"error: {out}: a figure's format comes from its suffix: .png, .svg, .pdf or .jpg "
                                  f"{problem}\n")
    refused = runner.invoke(app, ["plot", str(annotated), "--out", str(tmp_path / "u.png"), "--dpi", "0"])
    assert refused.exit_code == 1 and refused.stderr == "error: --dpi (dpi=) must be a positive number, not 0.0\n"


def test_plot_embeddings_saves_the_format_its_suffix_names(annotated: Path, tmp_path: Path) -> None:
    npir.plot_embeddings(annotated, projection="pca", save=tmp_path / "u.pdf", dpi=300)
    assert (tmp_path / "u.pdf").read_bytes().startswith(MAGIC["pdf"])
    with pytest.raises(NeurPIRError, match=r"u.gif: a figure's format comes from its suffix"):
        npir.plot_embeddings(tmp_path / "no such folder", save=tmp_path / "u.gif")  # refused before reading


def test_confusion_matrices_stay_readable_with_many_long_class_names(simulated: Path, tmp_path: Path) -> None:
    many = npir.evaluate(simulated, label="area", methods="hand,hand:knn", progress=False, report_dir=tmp_path,
                         dpi=200)
    few = npir.evaluate(simulated, label="cell_type", methods="hand,hand:knn", progress=False)
    with Image.open(tmp_path / "confusion.png") as image:
        assert round(image.info["dpi"][0]) == 200
    figure, small = many.plot("confusion"), few.plot("confusion")
    assert figure.get_size_inches()[0] > small.get_size_inches()[0] + 2  # panels grow with classes and names
    left, right = figure.axes[:2]
    assert not left.texts and not right.texts  # 16 classes: colours only, no smeared numbers
    assert [len(axis.texts) for axis in small.axes[:2]] == [25, 25]  # 5 classes keep their numbers
    figure.draw_without_rendering()
    assert left.get_tightbbox().x1 < right.get_tightbbox().x0  # tick labels stay inside their own panel
    assert min(axis.get_tightbbox().y0 for axis in figure.axes) >= 0  # nothing hangs out of the figure


def test_plot_refuses_fewer_than_three_neurons(annotated: Path, tmp_path: Path) -> None:
    one_file = sorted(annotated.rglob("*.nwb"))[0]
    out = tmp_path / "two.png"
    refused = runner.invoke(app, ["plot", str(one_file), "--projection", "pca", "--out", str(out), "--filter",
                                  "neuron_id < 2", "--normalize", "none"])
    assert refused.exit_code == 1 and not out.exists()
    assert refused.stderr == "error: only 2 neurons with a vector to draw; a projection needs at least 3\n"


def test_neurons_without_a_finite_vector_are_left_out_with_one_warning(annotated: Path) -> None:
    frame = npir.read_embeddings(annotated)
    frame["embedding"] = [np.full(len(v), np.nan) if row % 10 == 0 else v for row, v in enumerate(frame["embedding"])]
    for normalize in ("auto", "none"):
        with pytest.warns(UserWarning) as caught:
            figure = npir.plot_embeddings(frame, projection="pca", normalize=normalize)
        assert [str(w.message) for w in caught if "NaN" in str(w.message)] == [
            "8 of 75 neurons have NaN or infinite values in their vector; they are left out of the figure"]
        by_label = figure.axes[0]
        coordinates = np.concatenate([collection.get_offsets() for collection in by_label.collections])
        assert _points(by_label) == _legend_total(by_label) == 67
        assert len(np.unique(coordinates.round(6), axis=0)) == 67  # none stacked in one place
    frame["embedding"] = [np.full(len(v), np.nan) for v in frame["embedding"]]
    with pytest.raises(NeurPIRError, match=r"^none of the 75 neurons has a finite vector \(NaN or infinite values\); "
                                           "nothing to draw$"):
        npir.plot_embeddings(frame, projection="pca")


def test_an_empty_selection_says_why(annotated: Path) -> None:
    frame = npir.read_embeddings(annotated)
    with pytest.raises(NeurPIRError, match="^the embeddings hold no neurons; nothing to draw$"):
        npir.plot_embeddings(frame.head(0), projection="pca")
    with pytest.raises(NeurPIRError, match=r"^all 75 neurons are silent \(no activity in the time read\); nothing "):
        npir.plot_embeddings(frame.assign(silent=True), projection="pca")
    frame["cell_type"] = None
    with pytest.raises(NeurPIRError, match="^none of the 75 neurons has a 'cell_type' value; nothing to draw$"):
        npir.plot_embeddings(frame, projection="pca")
    with pytest.raises(NeurPIRError, match="^none of the values of grouping 'steinmetz-4region' matches any 'area' "
                                           r"value of the data \(1 distinct value, most common: elsewhere\)$"):
        npir.plot_embeddings(frame.assign(area="elsewhere"), color_by="area", grouping="steinmetz-4region",
                             projection="pca")


def test_font_sizes_follow_rcparams(annotated: Path, simulated: Path) -> None:
    import matplotlib

    result = npir.evaluate(simulated, label="cell_type", methods="hand", progress=False)
    with matplotlib.rc_context({"font.size": 20}):
        embedding = npir.plot_embeddings(annotated, projection="pca")
        confusion = result.plot("confusion")
    axis = embedding.axes[0]
    assert axis.title.get_fontsize() == 20 and axis.xaxis.label.get_fontsize() == pytest.approx(20 * 0.833, 0.01)
    assert confusion.axes[0].get_xticklabels()[0].get_fontsize() == pytest.approx(20 * 0.833, 0.01)


FIGURES_IN_A_FRESH_SESSION = """
import sys, types, warnings
warnings.simplefilter("always")
ipython = sys.modules["IPython"] = types.ModuleType("IPython")  # a notebook kernel, as matplotlib sees it
ipython.version_info, ipython.get_ipython = (9, 0), lambda: None
import matplotlib, nwb_neurpir as npir
figure = npir.plot_embeddings({folder!r}, projection="umap")
print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot", type(figure).__name__, len(figure.axes))
print("inline loaded" if "fake_inline.backend_inline" in sys.modules else "inline not loaded")
"""


@pytest.mark.parametrize("backend", [None, "module://fake_inline.backend_inline"])
def test_figures_leave_the_backend_alone_and_umap_says_nothing(annotated: Path, tmp_path: Path,
                                                               backend: str | None) -> None:
    package = tmp_path / "fake_inline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "backend_inline.py").write_text("# what IPython's inline backend does on import: register display\n")
    environment = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), environment.get("PYTHONPATH", "")])
    if backend is not None:
        environment["MPLBACKEND"] = backend
    script = textwrap.dedent(FIGURES_IN_A_FRESH_SESSION.format(folder=str(annotated)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)
    loaded = "inline loaded" if backend else "inline not loaded"
    assert done.stdout.splitlines() == ["no pyplot Figure 2", loaded], done.stderr[-2000:]
    assert "Tensorflow" not in done.stderr and "ParametricUMAP" not in done.stderr, done.stderr[-2000:]

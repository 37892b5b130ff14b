"""The UMAP figure with the real umap-learn (every other test draws the instant PCA preview)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from nwb_neurpir.evaluation.plots import embedding_figure, project_2d, save_figure
from nwb_neurpir.evaluation.results import EmbeddingView


def _two_clusters() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    vectors = np.vstack([rng.normal(0.0, 1.0, (60, 8)), rng.normal(6.0, 1.0, (60, 8))])
    vectors[5] = np.nan
    return vectors, np.repeat(["A", "B"], 60)


def test_umap_keeps_two_clusters_apart_and_leaves_missing_rows_empty() -> None:
    vectors, _ = _two_clusters()
    coordinates = project_2d(vectors, "umap", seed=0)
    assert np.isnan(coordinates[5]).all()
    assert np.isfinite(np.delete(coordinates, 5, axis=0)).all()
    a, b = coordinates[:60][np.isfinite(coordinates[:60, 0])], coordinates[60:]
    spread = max(a.std(axis=0).max(), b.std(axis=0).max())
    assert np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)) > 4 * spread


def test_umap_figure_is_a_wide_png_with_points_drawn(tmp_path) -> None:  # noqa: ANN001
    vectors, labels = _two_clusters()
    view = EmbeddingView(vectors=vectors, labels=labels, subjects=np.repeat(["m1", "m2"], 60), title="test vectors",
                         label_name="cell_type")
    path = save_figure(embedding_figure(view, projection="umap"), tmp_path / "umap.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1]
        pixels = np.asarray(image.convert("L"))
    assert (pixels < 200).mean() > 0.005  # points and text were drawn, not an empty canvas


def test_the_largest_class_is_drawn_first_and_the_legend_stays_alphabetical() -> None:
    import matplotlib
    from matplotlib.colors import to_hex

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from nwb_neurpir.evaluation.palette import class_colours
    from nwb_neurpir.evaluation.plots import _scatter

    labels = np.array(["A"] * 5 + ["B"] * 50 + ["C"] * 20)  # A, the smallest, must not lie under B
    figure, axis = plt.subplots()
    _scatter(axis, np.random.default_rng(0).normal(size=(75, 2)), labels, "by label", ("PC1", "PC2"), what="label")
    assert [c.get_label() for c in axis.collections] == ["B (50)", "C (20)", "A (5)"]
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["A (5)", "B (50)", "C (20)"]
    colours = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in axis.collections}
    assert colours["A (5)"] == class_colours(["A", "B", "C"])["A"].lower()  # keyed by name, not by what is present
    plt.close(figure)

"""Figures: UMAP of per-neuron vectors coloured by label and, in a second panel, by animal; confusion matrices;
the rank of tracked neurons' partners across recordings (``stability``). Each is a matplotlib ``Figure`` (a notebook
shows it); ``save_figure`` writes it as a PNG.

The projection file is ``umap.png`` whichever projection drew it (its title names the projection).

matplotlib runs on the Agg backend (no display needed) unless a backend was chosen before (a notebook's inline
backend, ``MPLBACKEND``, pyplot in use); umap is imported only when a UMAP is drawn.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from nwb_neurpir.atomic_files import atomic_path
from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nwb_neurpir.evaluation.results import EmbeddingView, EvaluationResult
    from nwb_neurpir.evaluation.stability import StabilityResult

__all__ = ["MAX_LEGEND_ENTRIES", "PROJECTIONS", "confusion_figure", "embedding_figure", "project_2d", "save_figure",
           "stability_figure", "top_categories"]

PROJECTIONS = ("umap", "pca")
"""``umap`` (slow the first time in a process: numba compiles it) or ``pca`` (instant; a quick preview)."""

_CONFUSION_COLUMNS = 4
MAX_LEGEND_ENTRIES = 12
"""Legend entries per panel: beyond it, the most frequent values and "other"."""


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot module
    """pyplot, on the Agg backend unless one was chosen before: a notebook's inline backend stays, so it shows the
    figures returned and the user's own."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def project_2d(vectors: np.ndarray, projection: str = "umap", seed: int = 0) -> np.ndarray:
    """2-D coordinates of standardised vectors clipped to ±5 SD (rows with NaN stay NaN); PCA for under 10 rows."""
    if projection not in PROJECTIONS:
        raise NeurPIRError(f"unknown projection {projection!r}; choose one of {', '.join(PROJECTIONS)}")
    vectors = np.asarray(vectors, dtype=np.float64)
    finite = np.isfinite(vectors).all(axis=1)
    coordinates = np.full((vectors.shape[0], 2), np.nan)
    x = vectors[finite]
    if x.shape[0] < 3:
        return coordinates
    x = np.clip((x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0), -5.0, 5.0)
    if projection == "pca" or x.shape[0] < 10:
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        components = np.zeros((x.shape[1], 2))
        components[:, : min(2, vt.shape[0])] = vt[:2].T
        coordinates[finite] = x @ components
        return coordinates
    from nwb_neurpir.progress import without_ipywidgets_warning

    with without_ipywidgets_warning():  # umap imports tqdm.auto
        import umap

    reducer = umap.UMAP(n_neighbors=min(15, x.shape[0] - 1), min_dist=0.1, random_state=seed, n_jobs=1)
    coordinates[finite] = reducer.fit_transform(x)
    return coordinates


def top_categories(categories: np.ndarray, limit: int = MAX_LEGEND_ENTRIES) -> np.ndarray:
    """``categories`` with all but the ``limit - 1`` most frequent values replaced by ``other (N values)`` when there
    are more than ``limit`` distinct values (so colours do not repeat and the legend fits)."""
    names, counts = np.unique(categories, return_counts=True)
    if names.size <= limit:
        return categories
    keep = names[np.argsort(-counts, kind="stable")[: limit - 1]]
    other = f"other ({names.size - keep.size} values)"
    return np.where(np.isin(categories, keep), categories, other)


def _scatter(axis, coordinates: np.ndarray, categories: np.ndarray, title: str,  # noqa: ANN001
             palettes: tuple[str, str], projection: str) -> None:
    """Points coloured by category, the largest category drawn first so that a small one is not hidden under it;
    legend and colours in alphabetical order (as the confusion matrices), "other" last and grey; ``palettes``: the
    colour maps for up to 10 and for more categories (labels and animals use different ones)."""
    plt = _pyplot()
    categories = top_categories(categories)
    count = dict(zip(*(part.tolist() for part in np.unique(categories, return_counts=True))))
    names = [n for n in count if not n.startswith("other (")] + [n for n in count if n.startswith("other (")]
    colours = plt.get_cmap(palettes[0] if len(names) <= 10 else palettes[1])
    size = max(2.0, min(16.0, 20000.0 / max(len(categories), 1)))  # visible at 10,000 points, not blobs at 100
    handles = {}
    for name in sorted(names, key=lambda n: -count[n]):
        rows = categories == name
        colour = "lightgrey" if name.startswith("other (") else colours(names.index(name) % colours.N)
        handles[name] = axis.scatter(coordinates[rows, 0], coordinates[rows, 1], s=size, alpha=0.7, linewidths=0,
                                     color=colour, label=f"{name} ({count[name]})")
    axis.set_title(title, fontsize=10)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_xlabel(f"{projection.upper()} 1", fontsize=8)
    axis.set_ylabel(f"{projection.upper()} 2", fontsize=8)
    # Beside the panel, never over the points.
    axis.legend(handles=[handles[name] for name in names], fontsize=7, markerscale=max(1.0, 16.0 / size),
                loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0)


def embedding_figure(view: EmbeddingView, seed: int = 0, projection: str = "umap") -> Figure:
    """Two panels: UMAP (or PCA) coloured by label, and the same points coloured by animal (legends beside the
    panels; more than ``MAX_LEGEND_ENTRIES`` values show the most frequent and "other")."""
    plt = _pyplot()
    coordinates = project_2d(view.vectors, projection, seed)
    figure, axes = plt.subplots(1, 2, figsize=(15, 6))
    _scatter(axes[0], coordinates, np.asarray(view.labels, dtype=str), f"by {view.label_name}", ("tab10", "tab20"),
             projection)
    _scatter(axes[1], coordinates, np.asarray(view.subjects, dtype=str), "by animal", ("Dark2", "tab20b"),
             projection)
    figure.suptitle(f"{projection.upper()} of {view.title}", fontsize=11)
    figure.tight_layout()
    return _released(figure)


def _confusion_panel(axis, confusion: np.ndarray, classes: Sequence[str], title: str,  # noqa: ANN001
                     label: str):  # noqa: ANN202 - the panel's matplotlib image, for the colour bar
    support = confusion.sum(axis=1, keepdims=True)
    fraction = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    image = axis.imshow(fraction, vmin=0, vmax=1, cmap="Blues")
    for (row, column), count in np.ndenumerate(confusion):
        axis.text(column, row, f"{fraction[row, column]:.2f}\n({count})", ha="center", va="center", fontsize=7,
                  color="white" if fraction[row, column] > 0.5 else "black")
    axis.set_xticks(range(len(classes)), classes, fontsize=8, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes, fontsize=8)
    axis.set_xlabel(f"predicted {label}", fontsize=8)
    axis.set_ylabel(f"true {label}", fontsize=8)
    axis.set_title(title, fontsize=9)
    return image


def _split_name(result: EvaluationResult) -> str:
    return "stratified k-fold" if result.split == "kfold" else f"leave-one-{result.split}-out"


def confusion_figure(result: EvaluationResult) -> Figure:
    """Row-normalised confusion matrices (test folds pooled), one panel per method -- every method, in rows of
    ``_CONFUSION_COLUMNS`` -- titled with the label, the split and the pooled score."""
    plt = _pyplot()
    methods = result.methods
    columns = min(_CONFUSION_COLUMNS, len(methods))
    rows = int(np.ceil(len(methods) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.8 * columns, 3.9 * rows + 0.6), squeeze=False)
    for axis in axes.ravel()[len(methods):]:
        axis.set_axis_off()
    image = None
    for axis, method in zip(axes.ravel(), methods):
        mode = "" if method.mode == "none" else f" ({method.mode})"
        image = _confusion_panel(axis, method.total_confusion(), result.classes,
                                 f"{method.method.name}{mode}\npooled bal. acc. {method.pooled.balanced_accuracy:.3f}, "
                                 f"chance {result.pooled_chance:.3f}", result.label)
    grouping = f" grouped by {result.grouping['name']}" if result.grouping else ""
    held_out = ", ".join(fold.name for fold in result.folds)
    figure.suptitle(f"{result.label}{grouping}: {_split_name(result)}, test folds pooled (held out: {held_out})\n"
                    "each row: share of that true class's neurons (diagonal = recall)", fontsize=10)
    figure.tight_layout()
    if image is not None:
        figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="share of the true class")
    return _released(figure)


def _released(figure: Figure) -> Figure:
    """``figure`` closed in pyplot: not kept by it (memory), nor shown a second time at the end of a notebook cell
    that returns it; it can still be shown, changed and saved."""
    _pyplot().close(figure)
    return figure


def stability_figure(stability: StabilityResult) -> Figure:
    """Per method, the share of tracked neurons whose partner is among the k nearest vectors of the other recording,
    against k (log scale), beside what vectors that say nothing of the neuron give (dashed)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for method, retrievals in stability.retrievals.items():
        if not retrievals:
            continue
        ranks = np.concatenate([r.ranks for r in retrievals])
        candidates = np.concatenate([np.full(r.ranks.size, r.n_candidates) for r in retrievals])
        k = np.arange(1, int(candidates.max()) + 1)
        line, = axis.plot(k, (ranks[:, None] <= k).mean(axis=0), label=f"{method} (top-1 {(ranks == 1).mean():.2f})")
        axis.plot(k, np.minimum(k / candidates[:, None], 1.0).mean(axis=0), linestyle="--", color=line.get_color(),
                  linewidth=0.8)
    axis.set_xscale("log")
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("k (nearest vectors of the other recording)", fontsize=9)
    axis.set_ylabel("share of tracked neurons with the partner among them", fontsize=9)
    axis.set_title(f"Partners by {stability.match_column} across each animal's recordings (dashed: chance)",
                   fontsize=10)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return _released(figure)


def save_figure(figure: Figure, path: str | Path) -> Path:
    """``figure`` written as a PNG at ``path`` (atomically; its folder made if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")  # nothing clipped: legends, axis labels
    return path

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
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from nwb_neurpir.atomic_files import atomic_path
from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nwb_neurpir.evaluation.results import EmbeddingView, EvaluationResult, MethodResult
    from nwb_neurpir.evaluation.stability import StabilityResult

__all__ = ["MAX_CLASSES", "PROJECTIONS", "confusion_figure", "embedding_figure", "project_2d", "save_figure",
           "stability_figure", "top_categories"]

PROJECTIONS = ("umap", "pca")
"""``umap`` (slow the first time in a process: numba compiles it) or ``pca`` (instant; a quick preview)."""

_CONFUSION_COLUMNS = 4
MAX_CLASSES = 12
"""Classes (or animals) drawn in their own colour per panel by default: beyond it, the most frequent and a grey
"other" naming the rest (``max_classes=``, ``--max-classes``)."""
_OTHER_LINES = 8
"""Lines of the "other" legend entry's list of values."""


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
    finite, x = _standardised(vectors)
    coordinates = np.full((finite.size, 2), np.nan)
    if x.shape[0] < 3:
        return coordinates
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


def _standardised(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are finite, and those rows standardised per column and clipped to ±5 SD."""
    vectors = np.asarray(vectors, dtype=np.float64)
    finite = np.isfinite(vectors).all(axis=1)
    x = vectors[finite]
    if x.shape[0]:
        x = np.clip((x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0), -5.0, 5.0)
    return finite, x


def _axis_names(vectors: np.ndarray, projection: str) -> tuple[str, str]:
    """Axis labels: ``PC1 (23%)``, ``PC2 (9%)`` -- each component's share of the variance of what ``project_2d``
    projects -- for a PCA; ``UMAP 1``, ``UMAP 2`` otherwise."""
    if projection != "pca":
        return f"{projection.upper()} 1", f"{projection.upper()} 2"
    _, x = _standardised(vectors)
    variance = np.linalg.svd(x, compute_uv=False) ** 2 if x.shape[0] >= 3 else np.zeros(0)  # as project_2d
    shares = [variance[k] / variance.sum() if k < variance.size and variance.sum() > 0 else np.nan for k in (0, 1)]
    return tuple(f"PC{k + 1}" + ("" if np.isnan(share) else f" ({share:.0%})") for k, share in enumerate(shares))


def top_categories(categories: np.ndarray, max_classes: int = MAX_CLASSES) -> np.ndarray:
    """``categories`` with all but the ``max_classes`` most frequent values replaced by ``other (N values)`` when there
    are more distinct values than that (so the legend fits and colours stay apart)."""
    if max_classes < 1:
        raise NeurPIRError(f"max_classes must be at least 1, not {max_classes}")
    names, counts = np.unique(categories, return_counts=True)
    if names.size <= max_classes:
        return categories
    keep = names[np.argsort(-counts, kind="stable")[:max_classes]]
    other = f"other ({names.size - keep.size} values)"
    return np.where(np.isin(categories, keep), categories, other)


def _folded(categories: np.ndarray, shown: np.ndarray, what: str) -> list[str]:
    """The values ``top_categories`` folded into "other", with a one-line warning naming them (``what``: the panel)."""
    import warnings

    from nwb_neurpir.evaluation.evaluation_warning import EvaluationWarning

    folded = sorted(set(categories.tolist()) - set(shown.tolist()))
    if folded:
        grey = int(np.isin(categories, folded).sum())
        warnings.warn(f"{what}: {_values(len(folded))} drawn grey as 'other' ({grey} of {len(categories)} neurons; "
                      f"max_classes / --max-classes colours more): {', '.join(folded)}", EvaluationWarning,
                      stacklevel=4)
    return folded


def _shared_colours(colours: Mapping[str, str], what: str) -> None:
    """A one-line warning when some values of a panel share a colour (more than the palette holds; ``colours``: those
    not set by the user)."""
    import warnings

    from nwb_neurpir.evaluation.evaluation_warning import EvaluationWarning

    distinct = len({colour.lower() for colour in colours.values()})
    if distinct < len(colours):
        warnings.warn(f"{what}: {len(colours)} values but {distinct} distinct colours, so some share one; lower "
                      "max_classes / --max-classes or give a palette", EvaluationWarning, stacklevel=4)


def _other_label(count: int, folded: list[str]) -> str:
    """The legend entry of "other": its count, then the values it holds (wrapped; a long list cut short)."""
    import textwrap

    lines = textwrap.wrap(", ".join(folded), 44)
    if len(lines) > _OTHER_LINES:
        lines = [*lines[:_OTHER_LINES - 1], f"... ({len(folded)} values in all: see the warning)"]
    return "\n".join([f"other, {_values(len(folded))} ({count}):", *lines])


def _values(n: int) -> str:
    return f"{n} value{'s' * (n != 1)}"


def _scatter(axis, coordinates: np.ndarray, categories: np.ndarray, title: str,  # noqa: ANN001
             axis_names: tuple[str, str], *, what: str, order: Sequence[str] = (),
             palette: Mapping[str, str] | None = None, max_classes: int = MAX_CLASSES) -> None:
    """Points coloured by category, the largest category drawn first so that a small one is not hidden under it;
    legend in ``order`` (a grouping's classes) or alphabetical, "other" last, grey and naming what it holds; colours
    from ``palette`` and ``class_colours`` (the same for a class in every figure)."""
    from nwb_neurpir.evaluation.palette import OTHER_COLOUR, class_colours

    shown = top_categories(categories, max_classes)
    folded = _folded(categories, shown, what)
    count = dict(zip(*(part.tolist() for part in np.unique(shown, return_counts=True))))
    rank = {name: index for index, name in enumerate(order)}
    names = sorted((n for n in count if not n.startswith("other (")), key=lambda n: (rank.get(n, len(rank)), n))
    colours = class_colours(names, order, palette)
    _shared_colours({name: colour for name, colour in colours.items() if name not in (palette or {})},
                    what)
    names += [n for n in count if n.startswith("other (")]
    size = max(2.0, min(16.0, 20000.0 / max(len(shown), 1)))  # visible at 10,000 points, not blobs at 100
    handles = {}
    for name in sorted(names, key=lambda n: -count[n]):
        rows = shown == name
        other = name.startswith("other (")
        handles[name] = axis.scatter(coordinates[rows, 0], coordinates[rows, 1], s=size, alpha=0.7, linewidths=0,
                                     color=OTHER_COLOUR if other else colours[name],
                                     label=_other_label(count[name], folded) if other
                                     else f"{name} ({count[name]})")
    axis.set_title(title, fontsize=10)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_xlabel(axis_names[0], fontsize=8)
    axis.set_ylabel(axis_names[1], fontsize=8)
    # Beside the panel, never over the points.
    axis.legend(handles=[handles[name] for name in names], fontsize=7, markerscale=max(1.0, 16.0 / size),
                loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0)


def embedding_figure(view: EmbeddingView, seed: int = 0, projection: str = "umap", *,
                     palette: Mapping[str, str] | None = None, max_classes: int = MAX_CLASSES) -> Figure:
    """Two panels: UMAP (or PCA) coloured by label, and the same points coloured by animal (legends beside the
    panels; more than ``max_classes`` values show the most frequent and a grey "other" naming the rest, with a
    warning). ``palette`` (name -> colour) fixes the colours of classes and animals it names; the others keep theirs
    across figures (``nwb_neurpir.evaluation.palette``)."""
    plt = _pyplot()
    coordinates = project_2d(view.vectors, projection, seed)
    figure, axes = plt.subplots(1, 2, figsize=(15, 6))
    label_title, names = _label_title(view), _axis_names(view.vectors, projection)
    order = view.grouping.groups if view.grouping is not None else ()
    _scatter(axes[0], coordinates, np.asarray(view.labels, dtype=str), label_title, names,
             what=label_title.splitlines()[0], order=tuple(order), palette=palette, max_classes=max_classes)
    _scatter(axes[1], coordinates, np.asarray(view.subjects, dtype=str), "by animal", names, what="by animal",
             palette=palette, max_classes=max_classes)
    figure.suptitle(f"{projection.upper()} of {view.title}", fontsize=11)
    figure.tight_layout()
    return _released(figure)


def _label_title(view: EmbeddingView) -> str:
    """``by LABEL`` (``grouped by NAME``), and on a second line how many neurons are shown of how many when some
    were left out (no label, or one outside the grouping)."""
    grouping = f" grouped by {view.grouping.name}" if view.grouping is not None else ""
    title = f"by {view.label_name}{grouping}"
    shown = len(view.labels)
    if view.n_total is None or view.n_total <= shown:
        return title
    why = f"no {view.label_name} inside grouping {view.grouping.name}" if view.grouping is not None else \
        f"no {view.label_name}"
    return f"{title}\n{shown} of {view.n_total} neurons shown; {view.n_total - shown} left out ({why})"


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


def _chance_without_absent(result: EvaluationResult, method: MethodResult) -> float | None:
    """The pooled chance of a probe that never predicts the training classes a fold's test neurons lack (the
    report's notes give it per fold), or None when every scored fold tests every class it trained on."""
    from nwb_neurpir.evaluation.metrics import chance_level

    folds = {fold.name: fold for fold in result.folds}
    if not any(folds[part.fold].untested_classes for part in method.predictions):
        return None
    return chance_level(np.concatenate([part.y_true for part in method.predictions]),
                        np.concatenate([np.full(part.y_true.size,
                                                part.n_choices - len(folds[part.fold].untested_classes))
                                        for part in method.predictions]))


def _absent_note(result: EvaluationResult) -> str:
    """The suptitle's line on chance when some fold's test neurons lack a training class ('' otherwise)."""
    lacking = [f"{fold.name} lacks {', '.join(fold.untested_classes)}" for fold in result.folds
               if fold.scorable and fold.untested_classes]
    if not lacking:
        return ""
    return ("\nchance: guessing among each fold's training classes; in brackets, never guessing those its test "
            f"neurons lack ({'; '.join(lacking)})")


def confusion_figure(result: EvaluationResult) -> Figure:
    """Row-normalised confusion matrices (test folds pooled), one panel per method -- every method, in rows of
    ``_CONFUSION_COLUMNS`` -- titled with the label, the split and the pooled score against chance (and, when a
    fold's test neurons lack a training class, against the chance of a probe that never predicts it)."""
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
        effective = _chance_without_absent(result, method)
        bracket = "" if effective is None else f" ({effective:.3f})"
        image = _confusion_panel(axis, method.total_confusion(), result.classes,
                                 f"{method.method.name}{mode}\npooled bal. acc. {method.pooled.balanced_accuracy:.3f}, "
                                 f"chance {result.pooled_chance:.3f}{bracket}", result.label)
    grouping = f" grouped by {result.grouping['name']}" if result.grouping else ""
    held_out = ", ".join(fold.name for fold in result.folds)
    figure.suptitle(f"{result.label}{grouping}: {_split_name(result)}, test folds pooled (held out: {held_out})\n"
                    f"each row: share of that true class's neurons (diagonal = recall){_absent_note(result)}",
                    fontsize=10)
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

"""Figures: UMAP of per-neuron vectors coloured by label and, in a second panel, by animal; confusion matrices;
the rank of tracked neurons' partners across recordings (``stability``). Each is a matplotlib ``Figure`` (a notebook
shows it); ``save_figure`` writes it as PNG, SVG, PDF or JPEG (from the file's suffix).

The projection file is ``umap.png`` whichever projection drew it (its title names the projection).

The figures are built without pyplot, so the session's backend is never chosen or changed; in a notebook whose
backend is the inline one, that backend is loaded first (as pyplot would load it) so the figures returned show.
Font sizes are relative ("small"...): ``rcParams["font.size"]`` and style sheets scale them. umap is imported only
when a UMAP is drawn.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Mapping, Sequence

import numpy as np

from nwb_neurpir.atomic_files import atomic_path
from nwb_neurpir.errors import NeurPIRError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nwb_neurpir.evaluation.results import EmbeddingView, EvaluationResult, MethodResult
    from nwb_neurpir.evaluation.stability import StabilityResult

__all__ = ["DEFAULT_DPI", "FIGURE_FORMATS", "MAX_CLASSES", "MIN_PROJECTED", "PROJECTIONS", "check_dpi",
           "check_projectable", "confusion_figure", "drawable", "embedding_figure", "figure_format", "project_2d",
           "save_figure", "stability_figure", "top_categories"]

PROJECTIONS = ("umap", "pca")
"""``umap`` (slow the first time in a process: numba compiles it) or ``pca`` (instant; a quick preview)."""

MIN_PROJECTED = 3
"""Neurons with a finite vector a projection needs (below it, ``embedding_figure`` refuses)."""
FIGURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg"}
"""The suffixes ``save_figure`` writes, and the format of each."""
DEFAULT_DPI = 120
"""Resolution of the raster formats (PNG, JPEG; the images inside SVG and PDF) unless ``dpi`` says otherwise."""

_CONFUSION_COLUMNS = 4
MAX_CLASSES = 12
"""Classes (or animals) drawn in their own colour per panel by default: beyond it, the most frequent and a grey
"other" naming the rest (``max_classes=``, ``--max-classes``)."""
_OTHER_LINES = 8
"""Lines of the "other" legend entry's list of values."""
_CELL_TEXT_MAX = 12
"""Above this many classes a confusion cell carries no numbers (they would be a smear): its colour only."""


def _new_figure(width: float, height: float, layout: str | None = None) -> Figure:
    """A Figure of ``width`` x ``height`` inches outside pyplot (not kept by it, the backend untouched). When the
    backend asked for is a notebook's inline one, its module is imported first: that registers how IPython shows a
    Figure (pyplot does the same when it loads that backend), so a notebook shows the Figure returned."""
    import matplotlib
    from matplotlib.figure import Figure

    backend = matplotlib.rcParams._get("backend")  # without resolving it (which would load pyplot)
    inline = isinstance(backend, str) and backend.startswith("module://") and backend.endswith("backend_inline")
    if inline and "IPython" in sys.modules:
        importlib.import_module(backend.removeprefix("module://"))
    return Figure(figsize=(width, height), layout=layout)


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

    with without_ipywidgets_warning(), warnings.catch_warnings():  # umap imports tqdm.auto
        warnings.filterwarnings("ignore", message="Tensorflow not installed", category=ImportWarning)
        import umap

    reducer = umap.UMAP(n_neighbors=min(15, x.shape[0] - 1), min_dist=0.1, random_state=seed, n_jobs=1)
    coordinates[finite] = reducer.fit_transform(x)
    return coordinates


def _standardised(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are finite, and those rows standardised per column and clipped to ±5 SD."""
    finite = drawable(vectors)
    x = np.asarray(vectors, dtype=np.float64)[finite]
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


def drawable(vectors: np.ndarray) -> np.ndarray:
    """(n,) bool: the rows of ``vectors`` a projection places (every value finite)."""
    return np.isfinite(np.asarray(vectors, dtype=np.float64)).all(axis=1)


def check_projectable(count: int) -> None:
    """A one-line error when ``count`` neurons are too few to project (under ``MIN_PROJECTED``)."""
    if count < MIN_PROJECTED:
        raise NeurPIRError(f"only {count} neuron{'s' if count != 1 else ''} with a vector to draw; a projection "
                           f"needs at least {MIN_PROJECTED}")


def top_categories(categories: np.ndarray, max_classes: int = MAX_CLASSES, keep: Collection[str] = ()) -> np.ndarray:
    """``categories`` with all but ``max_classes`` values replaced by ``other (N values)`` when there are more distinct
    values than that (so the legend fits and colours stay apart): the values in ``keep`` (those a palette colours)
    are kept first, all of them, then the most frequent others up to ``max_classes``."""
    if max_classes < 1:
        raise NeurPIRError(f"max_classes must be at least 1, not {max_classes}")
    names, counts = np.unique(categories, return_counts=True)
    if names.size <= max_classes:
        return categories
    chosen = names[np.isin(names, list(keep))]
    by_size = names[np.argsort(-counts, kind="stable")]
    others = by_size[~np.isin(by_size, chosen)]
    kept = np.concatenate([chosen, others[:max(0, max_classes - chosen.size)]])
    if kept.size == names.size:
        return categories
    other = f"other ({names.size - kept.size} values)"
    return np.where(np.isin(categories, kept), categories, other)


def _folded(categories: np.ndarray, shown: np.ndarray, what: str) -> list[str]:
    """The values ``top_categories`` folded into "other", with a one-line warning naming them (``what``: the panel)."""
    from nwb_neurpir.evaluation.evaluation_warning import warn_caller

    folded = sorted(set(categories.tolist()) - set(shown.tolist()))
    if folded:
        grey = int(np.isin(categories, folded).sum())
        warn_caller(f"{what}: {_values(len(folded))} drawn grey as 'other' ({grey} of {len(categories)} neurons; "
                    f"max_classes / --max-classes colours more): {', '.join(folded)}")
    return folded


def _shared_colours(colours: Mapping[str, str], what: str) -> None:
    """A one-line warning when some values of a panel share a colour (more than the palette holds; ``colours``: those
    not set by the user)."""
    from nwb_neurpir.evaluation.evaluation_warning import warn_caller

    distinct = len({colour.lower() for colour in colours.values()})
    if distinct < len(colours):
        warn_caller(f"{what}: {len(colours)} values but {distinct} distinct colours, so some share one; lower "
                    "max_classes / --max-classes or give a palette")


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
    legend in ``order`` (a grouping's classes) or alphabetical, "other" last, grey and naming what it holds (never a
    value ``palette`` names); colours from ``palette`` and ``class_colours`` (the same for a class in every figure)."""
    from nwb_neurpir.evaluation.palette import OTHER_COLOUR, class_colours

    shown = top_categories(categories, max_classes, keep=tuple(palette or ()))
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
    axis.set_title(title, fontsize="medium")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_xlabel(axis_names[0], fontsize="small")
    axis.set_ylabel(axis_names[1], fontsize="small")
    # Beside the panel, never over the points.
    axis.legend(handles=[handles[name] for name in names], fontsize="x-small", markerscale=max(1.0, 16.0 / size),
                loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0)


def embedding_figure(view: EmbeddingView, seed: int = 0, projection: str = "umap", *,
                     palette: Mapping[str, str] | None = None, max_classes: int | None = None) -> Figure:
    """Two panels: UMAP (or PCA) coloured by label, and the same points coloured by animal (legends beside the
    panels; more than ``max_classes`` (default ``MAX_CLASSES``) values show the most frequent and a grey "other" naming the rest, with a
    warning). ``palette`` (name -> colour) fixes the colours of classes and animals it names, which are kept out of
    "other" (counted first among the ``max_classes``); the others keep theirs across figures
    (``nwb_neurpir.evaluation.palette``). Only the neurons with a finite vector that ``view.silent`` does not mark
    are drawn and counted; fewer than ``MIN_PROJECTED`` of them is an error."""
    max_classes = MAX_CLASSES if max_classes is None else max_classes
    view = view.without_silent()
    drawn = drawable(view.vectors)
    check_projectable(int(drawn.sum()))
    vectors = np.asarray(view.vectors)[drawn]
    coordinates = project_2d(vectors, projection, seed)
    figure = _new_figure(15, 6)
    axes = figure.subplots(1, 2)
    label_title, names = _label_title(view), _axis_names(vectors, projection)
    order = view.grouping.groups if view.grouping is not None else ()
    _scatter(axes[0], coordinates, np.asarray(view.labels, dtype=str)[drawn], label_title, names,
             what=label_title.splitlines()[0], order=tuple(order), palette=palette, max_classes=max_classes)
    _scatter(axes[1], coordinates, np.asarray(view.subjects, dtype=str)[drawn], "by animal", names, what="by animal",
             palette=palette, max_classes=max_classes)
    figure.suptitle(f"{projection.upper()} of {view.title}", fontsize="large")
    figure.tight_layout()
    return figure


def _label_title(view: EmbeddingView) -> str:
    """``by LABEL`` (``grouped by NAME``), and on a second line how many neurons are shown of how many when some
    were left out, by reason (``18 silent, 3 non-finite vector, 359 no cell_type``)."""
    grouping = f" grouped by {view.grouping.name}" if view.grouping is not None else ""
    title = f"by {view.label_name}{grouping}"
    shown = len(view.labels)
    if view.n_total is None or view.n_total <= shown:
        return title
    why = ", ".join(f"{count} {reason}" for reason, count in view.left_out)
    return f"{title}\n{shown} of {view.n_total} neurons shown; {view.n_total - shown} left out" + \
        (f" ({why})" if why else "")


def _confusion_panel(axis, confusion: np.ndarray, classes: Sequence[str], title: str,  # noqa: ANN001
                     label: str):  # noqa: ANN202 - the panel's matplotlib image, for the colour bar
    support = confusion.sum(axis=1, keepdims=True)
    fraction = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    image = axis.imshow(fraction, vmin=0, vmax=1, cmap="Blues")
    axis.set_anchor("N")  # space the square matrix leaves goes below it (cropped when saved), not under the title
    if len(classes) <= _CELL_TEXT_MAX:
        for (row, column), count in np.ndenumerate(confusion):
            axis.text(column, row, f"{fraction[row, column]:.2f}\n({count})", ha="center", va="center",
                      fontsize="x-small", color="white" if fraction[row, column] > 0.5 else "black")
    names = "small" if len(classes) <= 30 else "x-small" if len(classes) <= 50 else "xx-small"
    upright = max(map(len, classes), default=0) > 8  # long names read down, short ones slanted
    axis.set_xticks(range(len(classes)), classes, fontsize=names, rotation=90 if upright else 45,
                    ha="center" if upright else "right", rotation_mode="default" if upright else "anchor")
    axis.set_yticks(range(len(classes)), classes, fontsize=names)
    axis.set_xlabel(f"predicted {label}", fontsize="small")
    axis.set_ylabel(f"true {label}", fontsize="small")
    axis.set_title(title, fontsize="small")
    return image


def _confusion_panel_size(classes: Sequence[str]) -> tuple[float, float]:
    """Width and height (inches) of one confusion panel: the matrix grows with the class count (numbered cells
    wider), the margins with the longest class name, both bounded."""
    cell = 0.5 if len(classes) <= _CELL_TEXT_MAX else 0.18
    side = float(np.clip(len(classes) * cell, 2.4, 8.0))
    names = 0.075 * min(max(map(len, classes), default=0), 40) + 0.5  # the tick labels and the axis label
    return side + names, side + names + 0.6  # the title above


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
    methods = result.methods
    columns = min(_CONFUSION_COLUMNS, len(methods))
    rows = int(np.ceil(len(methods) / columns))
    width, height = _confusion_panel_size(result.classes)
    figure = _new_figure(width * columns + 1.2, height * rows + 0.8, layout="compressed")  # colour bar, suptitle
    axes = figure.subplots(rows, columns, squeeze=False)
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
                    fontsize="medium")
    if image is not None:
        figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="share of the true class")
    return figure


def stability_figure(stability: StabilityResult) -> Figure:
    """Per method, the share of tracked neurons whose partner is among the k nearest vectors of the other recording,
    against k (log scale), beside what vectors that say nothing of the neuron give (dashed)."""
    figure = _new_figure(6.5, 4.5)
    axis = figure.subplots()
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
    axis.set_xlabel("k (nearest vectors of the other recording)", fontsize="small")
    axis.set_ylabel("share of tracked neurons with the partner among them", fontsize="small")
    axis.set_title(f"Partners by {stability.match_column} across each animal's recordings (dashed: chance)",
                   fontsize="medium")
    axis.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    return figure


def figure_format(path: str | Path, dpi: float = DEFAULT_DPI) -> str:
    """The format ``save_figure`` writes ``path`` in, from its suffix (``FIGURE_FORMATS``); a one-line error for
    another suffix or a ``dpi`` that is not a positive number -- check it before the work that draws the figure."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_FORMATS:
        given = f"not {Path(path).suffix!r}" if suffix else "this path has none"
        raise NeurPIRError(f"{path}: a figure's format comes from its suffix: .png, .svg, .pdf or .jpg ({given})")
    check_dpi(dpi)
    return FIGURE_FORMATS[suffix]


def check_dpi(dpi: float) -> None:
    """A one-line error unless ``dpi`` is a positive number."""
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 0 < dpi < float("inf"):
        raise NeurPIRError(f"--dpi (dpi=) must be a positive number, not {dpi!r}")


def save_figure(figure: Figure, path: str | Path, dpi: float = DEFAULT_DPI) -> Path:
    """``figure`` written at ``path`` (atomically; its folder made if needed) in the format of its suffix: PNG, SVG,
    PDF or JPEG (``figure_format``), rasters at ``dpi`` dots per inch."""
    path = Path(path)
    chosen = figure_format(path, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:  # nothing clipped: legends, axis labels
        figure.savefig(temporary, format=chosen, dpi=dpi, bbox_inches="tight")
    return path

"""``plot_embeddings``: a UMAP (or PCA) figure of neurons' vectors -- stored in annotated NWB files, or a frame of
``read_embeddings`` or ``NeurPIR.transform`` -- coloured by a label and by animal; the vectors are normalised as
``evaluate`` does before its probe. ``plot_annotated`` writes it as PNG, SVG, PDF or JPEG (``neurpir plot``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.evaluation.dataset import table_population
from nwb_neurpir.evaluation.grouping import GroupingSpec, LabelGrouping, check_grouping_matches, group_labels, \
    load_grouping
from nwb_neurpir.evaluation.palette import load_palette
from nwb_neurpir.evaluation.plots import DEFAULT_DPI, check_projectable
from nwb_neurpir.evaluation.results import EmbeddingView, left_out_reasons, silent_rows
from nwb_neurpir.unicode_forms import named_columns
from nwb_neurpir.workflows.annotated import read_annotated

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nwb_neurpir.workflows.recordings import Sources

__all__ = ["DEFAULT_LABELS", "PlotResult", "annotated_view", "plot_annotated", "plot_embeddings"]

DEFAULT_LABELS = ("cell_type", "brain_area", "location")
"""Label columns ``annotated_view`` colours by when none is named (the first one present)."""


@dataclass(frozen=True)
class PlotResult:
    """The figure written and what it shows."""

    written: Path
    view: EmbeddingView

    def to_dict(self) -> dict[str, Any]:
        return {"written": str(self.written), "n_neurons": int(len(self.view.labels)), "label": self.view.label_name,
                "normalization": self.view.normalization, "title": self.view.title}


def plot_embeddings(data: Sources | pd.DataFrame, color_by: str | None = None, *,
                    grouping: GroupingSpec = None, normalize: str = "auto", unit_filter: str | None = None,
                    projection: str = "umap", seed: int = 0, glob: str | None = None,
                    embeddings_name: str | None = None, save: str | Path | None = None,
                    palette: Mapping[str, str] | str | Path | None = None, max_classes: int | None = None,
                    dpi: float = DEFAULT_DPI) -> Figure:
    """A matplotlib Figure of the neurons' vectors, a UMAP (``projection="pca"``: an instant preview) in two panels:
    coloured by the label ``color_by`` (after ``grouping``; default the first of ``DEFAULT_LABELS`` present) and by
    animal. ``data`` is annotated local files (a file, a folder, a glob or a list; ``glob``, ``embeddings_name`` as
    in ``read_embeddings``) or a frame of ``read_embeddings`` or ``NeurPIR.transform``; ``unit_filter`` keeps the
    neurons matching it, ``normalize`` works as in ``evaluate``; neurons marked ``silent`` or whose vector is not
    finite (NaN) are left out (a warning counts them). ``save`` also writes the figure there, as PNG, SVG, PDF or
    JPEG after its suffix (rasters at ``dpi`` dots per inch).

    Colours are colour-blind-safe and the same for a class or animal in every figure (a grouping's classes by its
    own order, other names by the name itself: ``nwb_neurpir.evaluation.palette``); ``palette`` (name -> colour,
    e.g. ``{"TH": "#0072B2"}``, or the path of a JSON file of one, as ``neurpir plot --palette``) sets those it
    names. At most ``max_classes`` (default 12) values per panel get a colour -- those the palette names first, then
    the most frequent; the rest are drawn grey as "other", which the legend and a warning name.
    ``neurpir plot`` draws the same figure.

    >>> import nwb_neurpir as npir
    >>> npir.plot_embeddings("sim/", color_by="cell_type", save="umap.pdf")            # doctest: +SKIP
    >>> npir.plot_embeddings(model.transform(recordings), projection="pca")           # doctest: +SKIP
    """
    from nwb_neurpir.evaluation.plots import embedding_figure, figure_format, save_figure

    colours = load_palette(palette)
    if save is not None:
        figure_format(save, dpi)
    table = data if isinstance(data, pd.DataFrame) else _annotated_table(data, glob, embeddings_name)
    view = annotated_view(table, color_by, load_grouping(grouping), normalize=normalize, unit_filter=unit_filter)
    figure = embedding_figure(view, seed=seed, projection=projection, palette=colours, max_classes=max_classes)
    if save is not None:
        save_figure(figure, save, dpi)
    return figure


def plot_annotated(sources: Sequence[str], out: str | Path, *, glob: str | None = None,
                   label: str | None = None, grouping: GroupingSpec = None,
                   embeddings_name: str | None = None, normalize: str = "auto", unit_filter: str | None = None,
                   seed: int = 0, projection: str = "umap", palette: str | Path | None = None,
                   max_classes: int | None = None, dpi: float = DEFAULT_DPI,
                   say: Callable[[str], None] = lambda _text: None) -> PlotResult:
    """Read the embeddings of the annotated local files the sources name, draw them by label (``grouping`` applied)
    and by animal, and write ``out`` (PNG, SVG, PDF or JPEG after its suffix; rasters at ``dpi``); ``palette``: a
    JSON file of name -> colour (``plot_embeddings``); ``say`` hears what is being drawn before the (slow)
    projection."""
    from nwb_neurpir.evaluation.plots import embedding_figure, figure_format, save_figure

    figure_format(out, dpi)
    colours = load_palette(palette)
    table = _annotated_table(sources, glob, embeddings_name)
    view = annotated_view(table, label, load_grouping(grouping), normalize=normalize, unit_filter=unit_filter)
    say(f"drawing a {projection.upper()} of {len(view.labels)} neurons ...")
    figure = embedding_figure(view, seed=seed, projection=projection, palette=colours, max_classes=max_classes)
    return PlotResult(written=save_figure(figure, out, dpi), view=view)


def _annotated_table(sources: Sources, glob: str | None,
                     embeddings_name: str | None) -> pd.DataFrame:
    """The embeddings of the annotated local files the sources name, as one table (``read_annotated``)."""
    from nwb_neurpir.workflows.embeddings import annotated_files

    return read_annotated(annotated_files(sources, glob, embeddings_name), embeddings_name)


def _without_silent(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of neurons with activity (``silent_rows``: those the ``silent`` column, when there is one, does not
    mark) and how many were left out; all silent is an error."""
    if "silent" not in table.columns:
        return table, 0
    if table["silent"].eq(True).all():  # NaN: a file annotated before the column, kept
        raise NeurPIRError(f"all {len(table)} neurons are silent (no activity in the time read); nothing to draw")
    silent = silent_rows(table["silent"].tolist())
    return table.loc[~silent].reset_index(drop=True), int(silent.sum())


def _with_finite_vectors(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows whose vector is finite and how many others there were, with a warning counting them (NaN or
    infinite values: nowhere to draw them); none left is an error."""
    from nwb_neurpir.evaluation.evaluation_warning import warn_caller

    finite = np.array([np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in table["embedding"]], dtype=bool)
    if not finite.any():
        raise NeurPIRError(f"none of the {len(table)} neurons has a finite vector (NaN or infinite values); "
                           "nothing to draw")
    if not finite.all():
        warn_caller(f"{int((~finite).sum())} of {len(table)} neurons have NaN or infinite values in their vector; "
                    "they are left out of the figure")
    return table.loc[finite].reset_index(drop=True), int((~finite).sum())


def annotated_view(table: pd.DataFrame, label: str | None = None, grouping: LabelGrouping | None = None,
                   title: str = "NeurPIR embeddings", normalize: str = "auto",
                   unit_filter: str | None = None) -> EmbeddingView:
    """The vectors of an annotated table for a UMAP, coloured by ``label`` (after ``grouping``; neurons outside it
    dropped) or by the first of ``DEFAULT_LABELS`` present; ``unit_filter`` keeps the neurons matching it. Neurons
    marked ``silent`` (no activity in the time read: their vectors say nothing about them) and those whose vector is
    not finite are left out, with a warning each.

    ``normalize`` works as in ``evaluate`` (each file is a session; label-free): ``auto`` z-scores per session,
    a session too small for it with the statistics of all neurons, with a warning (and one when a session's
    neurons shown are all of one class: z-scoring removes it)."""
    from nwb_neurpir.evaluation.evaluation_warning import warn_caller
    from nwb_neurpir.evaluation.normalization import choose_normalization, one_class_note
    from nwb_neurpir.io.unit_filter import select_rows

    table = named_columns(table, [label])
    if label is None:
        label = next((name for name in DEFAULT_LABELS if name in table.columns), None)
    elif label not in table.columns:
        columns = [c for c in table.columns if c not in ("embedding", "file")]
        raise NeurPIRError(f"the embeddings have no column {label!r}; available: {', '.join(map(str, columns))}")
    if len(table) == 0:
        raise NeurPIRError("the embeddings hold no neurons; nothing to draw")
    table = table.iloc[select_rows(unit_filter, table, what="neuron")].reset_index(drop=True)
    n_total = len(table)
    table, silent = _without_silent(table)
    table, non_finite = _with_finite_vectors(table)
    raw = table[label].tolist() if label is not None else ["all"] * len(table)
    grouped = group_labels(raw, grouping)
    if label is not None:
        check_grouping_matches(grouped, grouping, label)
    kept = table.loc[grouped.keep]
    if len(kept) == 0:
        where = "" if grouping is None else " inside the grouping"
        raise NeurPIRError(f"none of the {len(table)} neurons has a {label!r} value{where}; nothing to draw")
    check_projectable(len(kept))
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in kept["embedding"]])
    sessions = kept["file"].astype(str).to_numpy()
    population = table_population(table, key_column="file")
    population_keys = None if population is None else population[1]
    normalization = choose_normalization(normalize, sessions, population_keys)
    one_class = None if label is None else one_class_note(normalization, sessions, grouped.labels, label,
                                                          population_keys)
    for note in (normalization.note, one_class):
        if note:
            warn_caller(note)
    return EmbeddingView(vectors=normalization.apply(vectors, sessions, population), labels=grouped.labels,
                         subjects=kept["subject_id"].astype(str).to_numpy(),
                         title=f"{title} of {len(kept)} neurons{normalization.description}",
                         label_name=label or "label",
                         normalization=normalization.to_dict(), grouping=grouping, n_total=n_total,
                         left_out=left_out_reasons({"silent": silent, "non-finite vector": non_finite}, grouped.dropped,
                                                   label or "label"))
